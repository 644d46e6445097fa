# Shared by the fs transport's end-to-end tests (sourced after
# testing/netns.sh). Each fstun runs in a namespace the test created, with
# --role=none (the roles have their own e2e test), on interface fs0.
#
#   fse_start NAME NS DIR IP [FLAGS...]   start fstun NAME in namespace NS
#   fse_stop NAME / fse_kill9 NAME        SIGINT (clean) / SIGKILL
#   fse_wait_ping NS DST                  until one ping passes (bounded)
#   fse_ping_stats NS DST COUNT           prints "p50 p99 received"
#   fse_transfer FROM TO DST_IP MIB       TCP transfer, sha256 compared
#
# Required: FSTUN (the binary). FSE_WORK is a scratch directory.
export PATH="/usr/sbin:/sbin:$PATH"
FSE_WORK="$(mktemp -d "${TEST_TMPDIR:-/tmp}/fs_e2e.XXXXXX")"
declare -gA FSE_PID=()
FSE_MTU="${FSE_MTU:-1400}"

fse_failures=0
pass() { echo "PASS: $*"; }
fail() {
  echo "FAIL: $*"
  fse_failures=$((fse_failures + 1))
}
check() {  # check DESCRIPTION CMD...
  local what="$1"
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

fse_log() { echo "$FSE_WORK/$1.log"; }

fse_start() {
  local name="$1" ns="$2" dir="$3" ip="$4"
  shift 4
  local holder
  holder="$(netns_pid "$ns")" || return 1
  mkdir -p "$FSE_WORK/state-$name"
  nsenter -t "$holder" -n "$FSTUN" --role=none --transport=fs --dirpath="$dir" --ip="$ip" \
    --ifname=fs0 --mtu="$FSE_MTU" --state_dir="$FSE_WORK/state-$name" --control_dir= \
    "$@" >>"$(fse_log "$name")" 2>&1 </dev/null &
  FSE_PID[$name]=$!
  local i
  for ((i = 0; i < 100; i++)); do
    if ! kill -0 "${FSE_PID[$name]}" 2>/dev/null; then
      echo "fstun $name exited early:" >&2
      tail -5 "$(fse_log "$name")" >&2
      return 1
    fi
    nsenter -t "$holder" -n ip link show fs0 2>/dev/null | grep -q "UP" && return 0
    sleep 0.05
  done
  echo "fstun $name: fs0 never came up" >&2
  return 1
}

fse_wait_exit() {  # fse_wait_exit PID SECONDS
  local i
  for ((i = 0; i < $2 * 20; i++)); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.05
  done
  return 1
}

fse_stop() {
  local pid="${FSE_PID[$1]:-}"
  [[ -z "$pid" ]] && return 0
  kill -INT "$pid" 2>/dev/null
  fse_wait_exit "$pid" 10 || kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  unset "FSE_PID[$1]"
  grep -h "stopping\|wake-ups\|skipped\|removed" "$(fse_log "$1")" | sed "s/^/  [$1] /"
  if [[ -n "${TEST_UNDECLARED_OUTPUTS_DIR:-}" ]]; then
    cp "$(fse_log "$1")" "$TEST_UNDECLARED_OUTPUTS_DIR/" 2>/dev/null
  fi
}

fse_kill9() {
  local pid="${FSE_PID[$1]:-}"
  [[ -z "$pid" ]] && return 0
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  unset "FSE_PID[$1]"
}

fse_cleanup() {
  local name
  for name in "${!FSE_PID[@]}"; do fse_kill9 "$name"; done
  netns_cleanup
}

fse_wait_ping() {  # fse_wait_ping NS DST [SECONDS]
  local i
  for ((i = 0; i < ${3:-10}; i++)); do
    netns_exec "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1 && return 0
  done
  return 1
}

fse_ping_stats() {  # fse_ping_stats NS DST COUNT [INTERVAL]
  netns_exec "$1" ping -c "$3" -i "${4:-0.01}" -W 2 "$2" 2>/dev/null | python3 -c '
import re, sys
v = sorted(float(x) for x in re.findall(r"time=([\d.]+)", sys.stdin.read()))
if not v: print("- - 0"); sys.exit()
print("%.3f %.3f %d" % (v[len(v) // 2], v[min(len(v) - 1, int(len(v) * 0.99))], len(v)))'
}

# TCP transfer of MIB random MiB from namespace FROM to TO (listening on
# DST_IP:5001); compares sha256; prints the rate in Mbit/s to stdout.
fse_transfer() {
  local from="$1" to="$2" dst="$3" mib="$4"
  local src="$FSE_WORK/src.bin" out="$FSE_WORK/dst.bin"
  head -c "$((mib << 20))" /dev/urandom >"$src"
  rm -f "$out"
  netns_exec "$to" socat -u TCP-LISTEN:5001,reuseaddr,bind="$dst" "OPEN:$out,creat,trunc" &
  local listener=$!
  sleep 0.3
  local t0 t1
  t0="$(date +%s.%N)"
  timeout 60 nsenter -t "$(netns_pid "$from")" -n socat -u "OPEN:$src" "TCP:$dst:5001" || {
    kill "$listener" 2>/dev/null
    return 1
  }
  fse_wait_exit "$listener" 20
  t1="$(date +%s.%N)"
  local a b
  a="$(sha256sum <"$src" | cut -d' ' -f1)"
  b="$(sha256sum <"$out" 2>/dev/null | cut -d' ' -f1)"
  python3 -c "print('%.0f' % ($mib * 8 * 1.048576 / ($t1 - $t0)))"
  [[ "$a" == "$b" ]]
}

# TcpExtTCPOFOQueue of a namespace: segments that arrived out of order
# (after a loss, e.g. a TUN queue overflow, this counts too).
fse_ofo() {
  netns_exec "$1" awk '/^TcpExt:/ { if (!n) { for (i = 1; i <= NF; i++) k[i] = $i; n = 1 } else {
    for (i = 1; i <= NF; i++) if (k[i] == "TCPOFOQueue") print $i } }' /proc/net/netstat
}

# Packets the TUN of namespace NS dropped on the way to fstun (queue full).
fse_tun_tx_drops() {
  netns_exec "$1" ip -s link show fs0 | awk '/TX:/ { getline; print $4 }'
}

# Frames the transport dropped, from a stopped fstun's summary line, not
# counting no_route (what the kernel sends before any peer is there).
fse_transport_drops() {
  local line total unroutable
  line="$(grep -o "transport: tx .*; device" "$(fse_log "$1")" | tail -1)"
  total="$(grep -o "drops [0-9]*" <<<"$line" | head -1 | cut -d' ' -f2)"
  unroutable="$(grep -o "no_route=[0-9]*" <<<"$line" | cut -d= -f2)"
  echo $((${total:-0} - ${unroutable:-0}))
}

# The transport's "tx N frames" / "rx N frames" from a stopped fstun's log.
fse_transport_count() {  # fse_transport_count NAME tx|rx
  grep -o "transport: tx [0-9]* frames/[0-9]* bytes, rx [0-9]* frames" "$(fse_log "$1")" |
    tail -1 | awk -v d="$2" '{ if (d == "tx") print $3; else print $7 }' | cut -d/ -f1
}
