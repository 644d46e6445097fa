#!/usr/bin/env bash
# End to end over real TUNs with the default endpoint, stdin/stdout: each
# fstun --transport=stream runs under socat EXEC (as it would under
# `ssh host fstun --transport=stream ...`), and the two socats are joined by
# a Unix socket. Ping both ways and a 64 MiB transfer with equal sha256
# show that nothing but records reaches the stream (logs go to stderr
# only). When one side's socat goes away, the other fstun sees the end of
# its stdin and exits with a one-line reason (exit 1), leaving no TUN.
set -uo pipefail
RUNFILES="${TEST_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
[[ -d "$RUNFILES/fstun" ]] && RUNFILES="$RUNFILES/fstun"
source "$RUNFILES/transports/stream/stream_e2e_lib.sh"
trap ste_cleanup EXIT

netns_new s || exit 1
netns_new c || exit 1
sock="$STE_SOCKETS/stdio.sock"

# The server: socat listens, runs fstun with the connection as its stdio.
socat "UNIX-LISTEN:$sock" "EXEC:$(ste_cmd s 192.0.2.1/24),nofork" \
  2>>"$(e2e_log s)" </dev/null &
E2E_PID[s]=$!
for ((i = 0; i < 100; i++)); do [[ -S "$sock" ]] && break; sleep 0.05; done
socat "UNIX-CONNECT:$sock" "EXEC:$(ste_cmd c 192.0.2.2/24),nofork" 2>>"$(e2e_log c)" </dev/null &
E2E_PID[c]=$!
e2e_wait_up c c st0 || exit 1
e2e_wait_up s s st0 || exit 1

check "client pings server" e2e_wait_ping c 192.0.2.1
check "server pings client" e2e_wait_ping s 192.0.2.2
echo "ping c->s p50/p99/replies: $(e2e_ping_stats c 192.0.2.1 100)"
if rate="$(e2e_transfer c s 192.0.2.1 64)"; then
  pass "64 MiB c->s arrived intact ($rate Mbit/s)"
else
  fail "64 MiB c->s differs"
fi
if rate="$(e2e_transfer s c 192.0.2.2 16)"; then
  pass "16 MiB s->c arrived intact ($rate Mbit/s)"
else
  fail "16 MiB s->c differs"
fi
check "the server logged (to stderr) after its stream was up" grep -q "fstun .* up:" "$(e2e_log s)"

# The client's side goes away: the server's fstun sees its stdin end.
kill -TERM "${E2E_PID[c]}"
e2e_wait_exit "${E2E_PID[c]}" 10
wait "${E2E_PID[c]}"
unset "E2E_PID[c]"
if e2e_wait_exit "${E2E_PID[s]}" 10; then
  pass "the server's fstun exited when its stdin ended"
else
  fail "the server's fstun is still running after its stdin ended"
fi
wait "${E2E_PID[s]}" 2>/dev/null
unset "E2E_PID[s]"
# Why: the end of its stdin, or (if it was writing when the client went)
# the failed write; either way one line naming the stream.
check "it said why in one line" grep -qE "fstun: stream: stdio: .*\(the peer closed the stream" "$(e2e_log s)"
# Had any log line gone to stdout, the other end would have skipped it as
# garbage.
check "no garbage was skipped on the client (its stream held records only)" \
  test "$(e2e_transport_drops c garbage)" == 0
check "no garbage was skipped on the server" test "$(e2e_transport_drops s garbage)" == 0
check "the server's TUN is gone" bash -c "! nsenter -t $(netns_pid s) -n ip link show st0 2>/dev/null"
grep -h "stopping\|hello\|fstun: " "$(e2e_log s)" "$(e2e_log c)" | sed 's/^/  /'

checks_result
