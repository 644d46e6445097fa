#!/usr/bin/env bash
# End to end with a real TUN, inside the fresh network namespace Bazel gives
# a "block-network" test (and a nested `unshare -n` when run by hand): the
# kernel routes pings into tun0, fstun hands them to the loopback transport,
# which returns them, and fstun writes them back into tun0. The interface's
# own counters (what `ip -s link` shows a user) prove both directions.
set -euo pipefail
FSTUN="$(realpath "$1")"
if [[ -z "${FSTUN_IN_NETNS:-}" ]]; then
  # Never touch the namespace we were started in.
  exec env FSTUN_IN_NETNS=1 unshare -n "$0" "$@"
fi
ip link set lo up
log="${TEST_TMPDIR:-/tmp}/fstun-loopback.log"
"$FSTUN" --transport=loopback --ifname=fst0 --ip=192.0.2.1/24,2001:db8::1/64 --mtu=1400 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
# The daemon logs "up:" once the interface, its addresses and the pump are ready.
for _ in $(seq 100); do grep -q " up: " "$log" 2>/dev/null && break; sleep 0.1; done
# (Output captured first: `ip | grep -q` fails under pipefail when grep
# exits before ip has written everything.)
link=$(ip -o link show fst0 2>&1 || true)
addrs=$(ip -o addr show dev fst0 2>&1 || true)
[[ "$link" == *"mtu 1400"* ]] || { echo "FAIL: fst0 not up with mtu 1400"; ip link; cat "$log"; exit 1; }
[[ "$addrs" == *"192.0.2.1/24"* ]] || { echo "FAIL: IPv4 address missing"; exit 1; }
[[ "$addrs" == *"2001:db8::1/64"* ]] || { echo "FAIL: IPv6 address missing"; exit 1; }

# The echoed requests are addressed to 192.0.2.2, not to us, so no reply
# comes: ping's loss is expected; the interface counters tell the story.
ping -c 20 -i 0.05 -W 1 192.0.2.2 >/dev/null 2>&1 || true
ping -6 -c 5 -i 0.05 -W 1 2001:db8::2 >/dev/null 2>&1 || true
sleep 0.3
stats=$(ip -s -j link show fst0)
rx=$(python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["packets"])' <<<"$stats")
tx=$(python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["tx"]["packets"])' <<<"$stats")
echo "fst0: kernel->tun $tx packets, tun->kernel $rx packets"
[[ $tx -ge 25 ]] || { echo "FAIL: kernel sent only $tx packets into the tunnel"; exit 1; }
[[ $rx -ge 25 ]] || { echo "FAIL: only $rx of $tx packets came back"; cat "$log"; exit 1; }

kill -TERM $pid
wait $pid && rc=0 || rc=$?
trap - EXIT
[[ $rc -eq 0 ]] || { echo "FAIL: exit code $rc after SIGTERM"; cat "$log"; exit 1; }
grep -q "fstun stopping (signal): pump ran" "$log" || { echo "FAIL: no summary line"; cat "$log"; exit 1; }
ip link show fst0 >/dev/null 2>&1 && { echo "FAIL: fst0 still exists after exit"; exit 1; }

# A second instance on a name that exists fails clearly and changes nothing.
ip tuntap add dev fst1 mode tun
out=$("$FSTUN" --transport=loopback --ifname=fst1 --ip=192.0.2.9/24 2>&1) && rc=0 || rc=$?
[[ $rc -eq 1 ]] || { echo "FAIL: existing interface gave rc=$rc: $out"; exit 1; }
[[ "$out" == *"already exists"* ]] || { echo "FAIL: unclear message: $out"; exit 1; }
[[ "$(ip -o addr show dev fst1)" == *192.0.2.9* ]] && { echo "FAIL: address was added to the existing interface"; exit 1; }
# A --user that does not exist is a usage error before anything is created.
out=$("$FSTUN" --transport=loopback --ifname=fst2 --ip=192.0.2.9/24 --user=no-such-user-here 2>&1) && rc=0 || rc=$?
[[ $rc -eq 2 && "$out" == *"--user: no such user 'no-such-user-here'"* ]] ||
  { echo "FAIL: bad --user gave rc=$rc: $out"; exit 1; }
[[ "$out" != *" up: "* ]] || { echo "FAIL: the tunnel came up before --user was checked"; exit 1; }
ip link show fst2 >/dev/null 2>&1 && { echo "FAIL: fst2 was created"; exit 1; }
echo PASS
