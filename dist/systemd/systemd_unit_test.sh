#!/usr/bin/env bash
# The systemd unit dist/systemd/fstun@.service:
#   1. `systemd-analyze verify` accepts it without a single warning (with
#      /usr/local/sbin/fstun pointed at the binary under test, since verify
#      checks that ExecStart exists);
#   2. its ExecStart, run as systemd runs it for instance "fstu0" (the flag
#      file from /etc/fstun/%i.flags, here a test directory), sends READY=1
#      to $NOTIFY_SOCKET only once fstu0 is up, then STATUS= lines; SIGTERM
#      gives STOPPING=1 and exit 0; its ExecStopPost (--cleanup) exits 0.
# Runs in a fresh network namespace (block-network, or unshare -n by hand).
set -uo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
RUNFILES="${TEST_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
[[ -d "$RUNFILES/fstun" ]] && RUNFILES="$RUNFILES/fstun"
FSTUN="$(realpath "${FSTUN:-$RUNFILES/cmd/fstun}")"
UNIT="$RUNFILES/dist/systemd/fstun@.service"
if [[ -z "${FSTUN_IN_NETNS:-}" ]]; then
  # Never touch the namespace we were started in.
  exec env FSTUN_IN_NETNS=1 unshare -n "$0" "$@"
fi
WORK="$(mktemp -d "${TEST_TMPDIR:-/tmp}/unit.XXXXXX")"
failures=0
pass() { echo "PASS: $*"; }
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

echo "=== 1. systemd-analyze verify"
if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze is not installed (apt-get install systemd)"
else
  mkdir -p "$WORK/units"
  sed "s#/usr/local/sbin/fstun#$FSTUN#g" "$UNIT" >"$WORK/units/fstun@.service"
  out=$(cd "$WORK/units" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify "$WORK/units/fstun@fstu0.service" 2>&1) && rc=0 || rc=$?
  if [[ $rc -eq 0 && -z "$out" ]]; then
    pass "systemd-analyze verify: no complaints"
  else
    fail "systemd-analyze verify: rc=$rc: $out"
  fi
  # The check can fail: a typo is reported.
  sed 's/^Type=notify/Typ=notify/' "$WORK/units/fstun@.service" >"$WORK/units/typo@.service"
  out=$(cd "$WORK/units" && systemd-analyze verify "$WORK/units/typo@x.service" 2>&1)
  [[ "$out" == *"Unknown key"* ]] && pass "verify reports a typo" || fail "verify missed a typo: $out"
fi

echo "=== 2. ExecStart and ExecStopPost as systemd runs them"
ip link set lo up
exec_line() {  # exec_line KEY: the unit's command line, %i and paths substituted
  sed -n "s/^$1=//p" "$UNIT" | sed "s#/usr/local/sbin/fstun#$FSTUN#g; s#/etc/fstun/#$WORK/etc/#g; s#%i#fstu0#g"
}
start_line=$(exec_line ExecStart)
stop_line=$(exec_line ExecStopPost)
[[ "$start_line" == "$FSTUN --flagfile=$WORK/etc/fstu0.flags --ifname=fstu0" ]] &&
  pass "ExecStart reads /etc/fstun/%i.flags and names the interface %i" || fail "ExecStart: $start_line"
[[ "$stop_line" == *"--cleanup"* && "$stop_line" == *"--ifname=fstu0"* ]] &&
  pass "ExecStopPost runs --cleanup for %i" || fail "ExecStopPost: $stop_line"
mkdir -p "$WORK/etc"
cat >"$WORK/etc/fstu0.flags" <<FLAGS
--role=none
--transport=loopback
--ip=192.0.2.1/24
--state_dir=$WORK/run
--control_dir=$WORK/run
--metrics_interval_s=1
FLAGS

# A stand-in for systemd's notify socket: records each datagram with whether
# fstu0 was up when it arrived.
# An abstract socket (as systemd may use): TEST_TMPDIR paths exceed sun_path,
# and abstract names are private to this network namespace.
NOTIFY="fstun-unit-test-$$"
python3 - "$NOTIFY" "$WORK/notify.log" <<'PY' &
import os, socket, subprocess, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + sys.argv[1])
s.settimeout(30)
with open(sys.argv[2], "w", buffering=1) as log:
    while True:
        try:
            msg = s.recv(4096).decode()
        except socket.timeout:
            break
        up = subprocess.run(["ip", "-o", "link", "show", "fstu0", "up"], capture_output=True, text=True).stdout
        for line in msg.split("\n"):
            log.write(f"{'up' if 'fstu0' in up else 'down'} {line}\n")
        if "STOPPING=1" in msg:
            break
PY
listener=$!
for _ in $(seq 50); do [[ -e "$WORK/notify.log" ]] && break; sleep 0.1; done
NOTIFY_SOCKET="@$NOTIFY" $start_line 2>"$WORK/daemon.log" &
daemon=$!
for _ in $(seq 100); do grep -q "READY=1" "$WORK/notify.log" 2>/dev/null && break; sleep 0.1; done
sleep 2.5  # two --metrics_interval_s: STATUS= updates
kill -TERM $daemon
wait $daemon && rc=0 || rc=$?
wait $listener
[[ $rc -eq 0 ]] && pass "SIGTERM: exit 0" || { fail "daemon exit $rc"; cat "$WORK/daemon.log"; }
echo "--- notifications:"; cat "$WORK/notify.log"
grep -q "^up READY=1$" "$WORK/notify.log" && pass "READY=1 sent with fstu0 up" || fail "no READY=1 with fstu0 up"
grep -q "^down READY=1$" "$WORK/notify.log" && fail "READY=1 sent before fstu0 was up"
[[ $(grep -c "STATUS=none over loopback, 0 peer(s); rx [0-9]* frames" "$WORK/notify.log") -ge 2 ]] &&
  pass "STATUS= lines" || fail "fewer than two STATUS= lines"
tail -n 1 "$WORK/notify.log" | grep -q "STOPPING=1" && pass "STOPPING=1 last" || fail "no STOPPING=1 at the end"
out=$($stop_line 2>&1) && rc=0 || rc=$?
[[ $rc -eq 0 ]] && pass "ExecStopPost exits 0 after a clean stop" || fail "ExecStopPost: rc=$rc: $out"
ip link show fstu0 >/dev/null 2>&1 && fail "fstu0 still exists"
echo "$failures failure(s)"
[[ $failures -eq 0 ]]
