#!/usr/bin/env bash
# End to end for operating fstun (docs/operations.md): a pair of daemons over
# the fs transport in two network namespaces this test creates
# (testing/netns.sh), each started from a flag file that sets every option
# the command has:
#   1. `fstun status` (text and --json) shows the interface and the peer, and
#      its counters grow with traffic; the JSON matches the documented schema;
#   2. `fstun metrics` and the --metrics_file textfile parse as Prometheus
#      text and agree with `status`;
#   3. the control socket refuses garbage, oversized and unknown requests and
#      the daemon keeps running;
#   4. no daemon for an interface: a clear message and exit 1;
#   5. flag files: every flag --help lists is accepted; an unknown one fails
#      with exit 2 naming the file and line; the shipped examples parse;
#   6. SIGTERM: exit 0, the textfile says fstun_up 0, the socket is gone.
set -uo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

RUNFILES="${TEST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}"
[[ -d "$RUNFILES/fstun" ]] && RUNFILES="$RUNFILES/fstun"
FSTUN="${FSTUN:-$RUNFILES/cmd/fstun}"
CHECK="$RUNFILES/ops/status_check.py"
source "$RUNFILES/testing/netns.sh"
WORK="$(mktemp -d "${TEST_TMPDIR:-/tmp}/ops_e2e.XXXXXX")"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  netns_cleanup
}
trap cleanup EXIT

failures=0
pass() { echo "PASS: $*"; }
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
in_ns() { netns_exec "$@"; }
status_of() {  # status_of NS IFNAME [ARGS...]
  local ns=$1 ifname=$2
  shift 2
  in_ns "$ns" "$FSTUN" "$@" --ifname="$ifname" --control_dir="$WORK/ctl"
}
jq_py() {  # jq_py EXPR < json: prints the Python expression over `d`
  python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}

echo "=== 5a. every flag --help lists can live in a flag file"
{
  echo "# generated from fstun --help: every flag at its default"
  "$FSTUN" --help | sed -n 's/^  --\([a-z0-9_]*\) (\([a-z0-9]*\)) default: \(.*\)$/\1 \2 \3/p' |
    while read -r name type default; do
      [[ "$name" == flagfile ]] && continue
      [[ "$type" == string ]] && default="${default#\"}" && default="${default%\"}"
      [[ -z "$default" ]] && continue   # --name= would set an empty string: same, but skip
      echo "--$name=$default"
    done
  echo "--list_transports"
} >"$WORK/all.flags"
nflags=$(grep -c '^--' "$WORK/all.flags")
out=$("$FSTUN" --flagfile="$WORK/all.flags" 2>&1) && rc=0 || rc=$?
if [[ $rc -eq 0 && "$out" == *"loopback"* && $nflags -ge 20 ]]; then
  pass "a flag file with all $nflags flags is accepted"
else
  fail "flag file with every flag: rc=$rc: $out"; cat "$WORK/all.flags"
fi

echo "=== 5b. an unknown flag in a flag file names the file and line"
printf -- '# comment\n--transport=loopback\n\n--ip=192.0.2.1/24\n--frobnicate=1\n' >"$WORK/bad.flags"
out=$("$FSTUN" --flagfile="$WORK/bad.flags" 2>&1) && rc=0 || rc=$?
if [[ $rc -eq 2 && "$out" == "fstun: $WORK/bad.flags:5: unknown flag --frobnicate (see fstun --help)" ]]; then
  pass "unknown flag: exit 2, '$out'"
else
  fail "unknown flag in flag file: rc=$rc: $out"
fi
out=$("$FSTUN" --flagfile="$WORK/missing.flags" 2>&1) && rc=0 || rc=$?
[[ $rc -eq 2 && "$out" == *"cannot read flag file $WORK/missing.flags"* ]] &&
  pass "missing flag file: exit 2" || fail "missing flag file: rc=$rc: $out"

echo "=== 5c. the shipped examples parse"
for example in server client; do
  out=$("$FSTUN" --flagfile="$RUNFILES/docs/examples/$example.flags" --list_transports 2>&1) && rc=0 || rc=$?
  [[ $rc -eq 0 ]] && pass "docs/examples/$example.flags parses" || fail "$example.flags: rc=$rc: $out"
done

echo "=== start a pair over the fs transport from flag files"
mkdir -p "$WORK/share"
netns_new a || exit 1
netns_new b || exit 1
for ns in a b; do  # no IPv6 autoconfiguration traffic muddying the counters
  in_ns $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
make_flags() {  # make_flags NAME IFNAME ADDRESS: every option of the daemon
  cat <<FLAGS
--role=none
--transport=fs
--ifname=$2
--ip=$3/24
--mtu=1400
--dirpath=$WORK/share
--fs_peer_id=$1
--fs_format=v1
--fs_inotify=true
--fs_poll_min_us=100
--fs_poll_max_ms=100
--fs_hot_window_ms=20
--fs_peer_timeout_ms=10000
--fs_gap_wait_ms=1000
--fs_gc_interval_ms=2000
--fs_max_backlog_bytes=33554432
--fs_max_file_bytes=1048576
--state_dir=$WORK/state
--control_dir=$WORK/ctl
--metrics_file=$WORK/$1.prom
--metrics_interval_s=1
--v=0
FLAGS
}
make_flags alpha opsa 192.0.2.1 >"$WORK/a.flags"
make_flags beta opsb 192.0.2.2 >"$WORK/b.flags"
# nsenter execs fstun (no fork), so $! is the daemon itself.
nsenter -t "$(netns_pid a)" -n "$FSTUN" --flagfile="$WORK/a.flags" 2>"$WORK/a.log" &
A_PID=$!
PIDS+=($A_PID)
nsenter -t "$(netns_pid b)" -n "$FSTUN" --flagfile="$WORK/b.flags" 2>"$WORK/b.log" &
PIDS+=($!)

# Until both see each other (bounded: 20 s).
peers=0
for _ in $(seq 100); do
  peers=$(status_of a opsa status --json 2>/dev/null | jq_py 'len(d["peers"])' 2>/dev/null)
  [[ "$peers" == 1 ]] && break
  sleep 0.2
done
if [[ "$peers" == 1 ]]; then pass "daemon a sees one peer"; else
  fail "daemon a does not see its peer"; cat "$WORK/a.log" "$WORK/b.log"; exit 1
fi

echo "=== 1. status, text and JSON, counters grow with traffic"
status_of a opsa status --json >"$WORK/before.json"
in_ns a ping -c 20 -i 0.05 -W 2 192.0.2.2 >"$WORK/ping.log" 2>&1 &&
  pass "ping through the tunnel" || { fail "ping failed"; cat "$WORK/ping.log"; }
sleep 0.3
status_of a opsa status --json >"$WORK/after.json"
python3 "$CHECK" schema <"$WORK/after.json" && pass "status --json matches schema 2" ||
  { fail "schema"; cat "$WORK/after.json"; }
grew=$(python3 - "$WORK/before.json" "$WORK/after.json" <<'PY'
import json, sys
b, a = (json.load(open(p)) for p in sys.argv[1:])
pb, pa = b["peers"][0], a["peers"][0]
ok = (pa["counters"]["tx_frames"] - pb["counters"]["tx_frames"] >= 20
      and pa["counters"]["rx_frames"] - pb["counters"]["rx_frames"] >= 20
      and a["totals"]["tx_bytes"] > b["totals"]["tx_bytes"]
      and a["counters"]["device"]["rx_frames"] - b["counters"]["device"]["rx_frames"] >= 20
      and a["uptime_seconds"] > b["uptime_seconds"])
print("yes" if ok else "no")
PY
)
[[ "$grew" == yes ]] && pass "counters grew by the 20 pings each way" ||
  { fail "counters did not grow as expected"; cat "$WORK/before.json" "$WORK/after.json"; }
fields=$(jq_py '"|".join(str(x) for x in [d["interface"], d["role"], d["transport"], d["mtu"], d["addresses"][0], d["peers"][0]["id"], d["peers"][0]["addresses"][0], d["peers"][0]["details"]["wakeup"] in ("inotify", "polling"), d["peers"][0]["session"] != "", d["peers"][0]["last_seen_seconds_ago"] < 15])' <"$WORK/after.json")
[[ "$fields" == "opsa|none|fs|1400|192.0.2.1/24|beta|192.0.2.2/24|True|True|True" ]] &&
  pass "JSON names interface, role, transport, MTU, addresses and the peer" || fail "JSON fields: $fields"
text=$(status_of a opsa status)
for want in "interface: opsa" "  role: none" "  transport: fs" "  addresses: 192.0.2.1/24" "  mtu: 1400" \
  "peer: beta" "  addresses: 192.0.2.2/24" "  last seen: " "  wakeup: "; do
  [[ "$text" == *"$want"* ]] || { fail "status text lacks '$want'"; echo "$text"; }
done
[[ "$text" =~ transfer:\ [0-9.]+\ (B|KiB)\ received\ \(([0-9]+)\ frames\) ]] && (( BASH_REMATCH[2] >= 20 )) &&
  pass "status text shows the peer and its traffic" || { fail "status text"; echo "$text"; }
b_peer=$(status_of b opsb status --json | jq_py 'd["peers"][0]["id"]')
[[ "$b_peer" == alpha ]] && pass "daemon b sees alpha" || fail "daemon b's peer: $b_peer"

echo "=== 2. metrics parse and agree with status"
agreed=0
for _ in 1 2 3; do  # heartbeats are not frames, but be robust to a stray packet
  status_of a opsa status --json >"$WORK/s.json"
  status_of a opsa metrics >"$WORK/m.txt"
  if python3 "$CHECK" agree "$WORK/s.json" "$WORK/m.txt" 2>"$WORK/agree.err"; then agreed=1; break; fi
  sleep 0.5
done
python3 "$CHECK" metrics <"$WORK/m.txt" >/dev/null && pass "fstun metrics is valid Prometheus text" || fail "metrics text"
[[ $agreed == 1 ]] && pass "metrics agree with status" || { fail "metrics disagree: $(cat "$WORK/agree.err")"; }
sleep 1.5  # one --metrics_interval_s
if python3 "$CHECK" metrics <"$WORK/alpha.prom" >/dev/null &&
  grep -q '^fstun_up{interface="opsa"} 1$' "$WORK/alpha.prom" &&
  grep -q '^fstun_peer_rx_frames_total{interface="opsa",peer="beta"} [1-9]' "$WORK/alpha.prom"; then
  pass "the --metrics_file textfile is valid and current"
else
  fail "metrics file"; cat "$WORK/alpha.prom"
fi
ls "$WORK"/*.tmp >/dev/null 2>&1 && fail "temporary metrics files left behind"

echo "=== 3. the control socket refuses what it does not know, the daemon keeps running"
sock=$(ls "$WORK"/ctl/opsa.net*.sock)
mode=$(stat -c %a "$sock"); dmode=$(stat -c %a "$WORK/ctl")
[[ $mode == 600 && $dmode == 700 ]] && pass "socket 0600 in a 0700 directory" || fail "modes: socket $mode dir $dmode"
raw() {  # raw BYTES-PYTHON-EXPR: prints the daemon's reply
  in_ns a python3 - "$sock" "$1" <<'PY'
import os, socket, sys
# TEST_TMPDIR paths exceed sun_path: connect through the directory's fd.
d = os.open(os.path.dirname(sys.argv[1]), os.O_PATH)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(f"/proc/self/fd/{d}/{os.path.basename(sys.argv[1])}")
try:
    s.sendall(eval(sys.argv[2]))
    s.shutdown(socket.SHUT_WR)
except (BrokenPipeError, ConnectionResetError):
    pass
reply = b""
while True:
    try:
        chunk = s.recv(65536)
    except ConnectionResetError:
        break
    if not chunk:
        break
    reply += chunk
print(reply.decode("ascii", "replace").splitlines()[0] if reply else "(nothing)")
PY
}
for case in "b'shutdown\\n'|error: unknown request" "b'\\x00\\xff\\x1b[2J garbage\\n'|error: unknown request" \
  "b'A' * 1000000|error: request longer than 256 bytes" "b'status'|error: a request is one line" \
  "b'status\\nmetrics\\n'|error: one request per connection" "b'status json\\n'|ok"; do
  req="${case%%|*}"; want="${case#*|}"
  got=$(raw "$req")
  [[ "$got" == "$want"* ]] && pass "request $req -> '$got'" || fail "request $req: got '$got', want '$want'"
done
kill -0 $A_PID 2>/dev/null && status_of a opsa status >/dev/null &&
  pass "the daemon still runs and answers" || fail "daemon a died or stopped answering"
in_ns a ping -c 3 -i 0.05 -W 2 192.0.2.2 >/dev/null 2>&1 && pass "and still carries traffic" || fail "no traffic after bad requests"

echo "=== 4. no daemon for an interface"
out=$(status_of a nosuch status 2>&1) && rc=0 || rc=$?
[[ $rc -eq 1 && "$out" == "fstun: no fstun daemon runs for interface nosuch in this network namespace"* &&
  "$out" == *"; daemons run for: opsa" ]] &&
  pass "clear message naming the interfaces that do run, exit 1" || fail "no daemon: rc=$rc: $out"
out=$(in_ns a "$FSTUN" status extra --control_dir="$WORK/ctl" 2>&1) && rc=0 || rc=$?
[[ $rc -eq 2 && "$out" == *"unexpected argument 'extra'"* ]] && pass "status with a stray word: exit 2" ||
  fail "stray word: rc=$rc: $out"

echo "=== 6. SIGTERM"
kill -TERM $A_PID
wait $A_PID && rc=0 || rc=$?
[[ $rc -eq 0 ]] && pass "daemon a exits 0" || { fail "exit code $rc"; cat "$WORK/a.log"; }
grep -q '^fstun_up{interface="opsa"} 0$' "$WORK/alpha.prom" && pass "textfile says fstun_up 0" || fail "textfile after exit"
ls "$WORK"/ctl/opsa.net*.sock >/dev/null 2>&1 && fail "socket left behind" || pass "socket removed"
out=$(status_of a opsa status 2>&1) && rc=0 || rc=$?
[[ $rc -eq 1 && "$out" == *"no fstun daemon runs for interface opsa"* ]] && pass "status after exit: no daemon" ||
  fail "status after exit: rc=$rc $out"
grep -q "ready: fstun .* on opsa, role none, transport fs, wake-up .*, key .*; status: fstun status --ifname=opsa (socket $WORK/ctl/opsa.net" "$WORK/a.log" && pass "the ready line names role, transport, wake-up path, key and the socket" || fail "log"

echo "=== logs (daemon a)"
cat "$WORK/a.log"
echo "$failures failure(s)"
[[ $failures -eq 0 ]]
