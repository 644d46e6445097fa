#!/usr/bin/env bash
# End to end over real TUNs: two fstun --transport=stream processes in two
# namespaces joined by a Unix socket (server listen:unix:, client unix:),
# in trusted mode, sealed (--key_file), and with offloads on one end only
# (the core cuts the server's super-packets for the client), all under the
# seccomp filter. Each: ping both ways, a 64 MiB TCP transfer with equal
# sha256 (16 MiB sealed and mixed), the two ends' counters agree, nothing
# lost on the stream;
# then the client is restarted and the server, still listening, carries
# traffic again. Last the server restarts under a running client.
set -uo pipefail
RUNFILES="${TEST_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
[[ -d "$RUNFILES/fstun" ]] && RUNFILES="$RUNFILES/fstun"
source "$RUNFILES/transports/stream/stream_e2e_lib.sh"
trap ste_cleanup EXIT

netns_new s || exit 1
netns_new c || exit 1
"$FSTUN" genkey >"$E2E_WORK/key" && chmod 600 "$E2E_WORK/key"

for mode in trusted sealed mixed; do
  sock="$STE_SOCKETS/$mode.sock"
  flags=()
  client_flags=()
  mib=64
  case "$mode" in
    sealed)
      flags=(--key_file="$E2E_WORK/key")
      mib=16
      ;;
    mixed)
      client_flags=(--nooffload)
      mib=16
      ;;
  esac
  ste_start "s-$mode" s 192.0.2.1/24 --stream_address="listen:unix:$sock" "${flags[@]}" || exit 1
  ste_start "c-$mode" c 192.0.2.2/24 --stream_address="unix:$sock" "${flags[@]}" \
    "${client_flags[@]}" || exit 1
  check "$mode: client pings server" e2e_wait_ping c 192.0.2.1
  check "$mode: server pings client" e2e_wait_ping s 192.0.2.2
  echo "$mode: ping c->s p50/p99/replies: $(e2e_ping_stats c 192.0.2.1 100)"
  if rate="$(e2e_transfer c s 192.0.2.1 "$mib")"; then
    pass "$mode: $mib MiB c->s arrived intact ($rate Mbit/s)"
  else
    fail "$mode: $mib MiB c->s differs"
  fi
  if rate="$(e2e_transfer s c 192.0.2.2 16)"; then
    pass "$mode: 16 MiB s->c arrived intact ($rate Mbit/s)"
  else
    fail "$mode: 16 MiB s->c differs"
  fi
  check "$mode: the hello was exchanged" grep -q "says hello" "$(e2e_log "s-$mode")"
  # The client goes away and comes back: the server keeps listening.
  e2e_stop "c-$mode"
  ste_start "c2-$mode" c 192.0.2.2/24 --stream_address="unix:$sock" "${flags[@]}" \
    "${client_flags[@]}" || exit 1
  check "$mode: a restarted client reaches the same server" e2e_wait_ping c 192.0.2.1
  e2e_stop "c2-$mode"
  e2e_stop "s-$mode"
  c_tx="$(e2e_transport_count "c-$mode" tx)"
  s_rx="$(e2e_transport_count "s-$mode" rx)"
  check "$mode: the first client's frames all arrived (client sent $c_tx, server received $s_rx in all)" \
    test -n "$c_tx" -a "${s_rx:-0}" -ge "${c_tx:-1}"
  for end in "c-$mode" "s-$mode"; do
    # A full send buffer holds the pump back (backpressure): nothing may
    # be lost to the stream itself, nor refused for its format.
    bad="$(($(e2e_transport_drops "$end" bad_checksum) + $(e2e_transport_drops "$end" garbage) + $(e2e_transport_drops "$end" disconnected) + $(e2e_transport_drops "$end" offload_mismatch)))"
    check "$mode: $end lost nothing on the stream ($(e2e_transport_drops "$end") drops in all)" \
      test "$bad" == 0
  done
  check "$mode: the listening socket is removed on exit" test ! -e "$sock"
done

# The server restarts under a running client. The client's reconnect needs
# a new socket after set-up: where the seccomp filter allows it the client
# reconnects; where it does not, the client must not retry forever but exit
# with a message that says why (a supervisor restarts it).
sock="$STE_SOCKETS/restart.sock"
ste_start s3 s 192.0.2.1/24 --stream_address="listen:unix:$sock" || exit 1
ste_start c3 c 192.0.2.2/24 --stream_address="unix:$sock" || exit 1
check "restart: client pings server" e2e_wait_ping c 192.0.2.1
e2e_stop s3
ste_start s4 s 192.0.2.1/24 --stream_address="listen:unix:$sock" || exit 1
if e2e_wait_ping c 192.0.2.1 5; then
  pass "restart: the client reconnected to the restarted server"
elif e2e_wait_exit "${E2E_PID[c3]}" 10 && grep -q "fstun: stream: cannot reconnect to unix:$sock: .*seccomp" "$(e2e_log c3)"; then
  pass "restart: the client could not reconnect under the seccomp filter and exited saying so"
else
  fail "restart: the client neither reconnected nor exited with a reason"
  tail -5 "$(e2e_log c3)"
fi
e2e_stop c3
e2e_stop s4

checks_result
