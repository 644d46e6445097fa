#!/usr/bin/env bash
# End to end over a serial line: two fstun --transport=stream processes on
# the two ends of a pty pair joined back to back (pty_line.py, a stand-in
# for a VM's serial port), tty: endpoints in raw mode. Ping both ways; then
# during a 32 MiB transfer bursts of random garbage are injected into both
# directions mid-stream: the transfer still arrives with an equal sha256,
# ping still passes afterwards, and both ends count the garbage they skipped.
set -uo pipefail
RUNFILES="${TEST_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
[[ -d "$RUNFILES/fstun" ]] && RUNFILES="$RUNFILES/fstun"
source "$RUNFILES/transports/stream/stream_e2e_lib.sh"
line_pid=""
stop_line() { [[ -n "$line_pid" ]] && kill "$line_pid" 2>/dev/null; ste_cleanup; }
trap stop_line EXIT

netns_new s || exit 1
netns_new c || exit 1
python3 "$RUNFILES/transports/stream/pty_line.py" "$E2E_WORK/ttys" 300 300 2>"$E2E_WORK/line.log" &
line_pid=$!
for ((i = 0; i < 100; i++)); do [[ -s "$E2E_WORK/ttys" ]] && break; sleep 0.05; done
read -r tty_s tty_c <"$E2E_WORK/ttys" || { echo "pty_line did not start"; exit 1; }
echo "line: $tty_s <-> $tty_c"

ste_start s s 192.0.2.1/24 --stream_address="tty:$tty_s" || exit 1
ste_start c c 192.0.2.2/24 --stream_address="tty:$tty_c" || exit 1
check "client pings server over the line" e2e_wait_ping c 192.0.2.1
check "server pings client over the line" e2e_wait_ping s 192.0.2.2
echo "ping c->s p50/p99/replies: $(e2e_ping_stats c 192.0.2.1 50)"

# Garbage while the transfer runs: 10 bursts of 300 bytes each way.
(
  sleep 0.3
  for ((k = 0; k < 10; k++)); do
    kill -USR1 "$line_pid" 2>/dev/null
    sleep 0.2
  done
) &
noise=$!
if rate="$(e2e_transfer c s 192.0.2.1 32)"; then
  pass "32 MiB c->s arrived intact through injected garbage ($rate Mbit/s)"
else
  fail "32 MiB c->s differs"
fi
wait "$noise"
check "ping still passes after the garbage" e2e_wait_ping c 192.0.2.1
e2e_stop c
e2e_stop s
kill "$line_pid" 2>/dev/null
wait "$line_pid" 2>/dev/null
line_pid=""
cat "$E2E_WORK/line.log"
check "the line injected garbage" grep -q "injected [1-9][0-9]*/[1-9][0-9]* garbage" "$E2E_WORK/line.log"
g_s="$(e2e_transport_drops s garbage)"
g_c="$(e2e_transport_drops c garbage)"
check "the server counted garbage stretches ($g_s)" test "$g_s" -gt 0
check "the client counted garbage stretches ($g_c)" test "$g_c" -gt 0
check "each end logged what it skipped" grep -q "skipped garbage" "$(e2e_log s)"

checks_result
