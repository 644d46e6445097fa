#!/bin/bash
# Tests testing/netns.sh: two namespaces joined by a veth can ping each
# other, the host never sees their interfaces, and cleanup ends the holders.
set -u

if [[ -n "${TEST_SRCDIR:-}" ]]; then
  source "$TEST_SRCDIR/$TEST_WORKSPACE/testing/netns.sh"
else
  source "$(dirname "$0")/netns.sh"
fi

fail() { echo "FAIL: $*" >&2; exit 1; }

netns_new a || fail "netns_new a"
netns_new b || fail "netns_new b"
netns_new a 2>/dev/null && fail "a second netns_new a must fail"
netns_pid nosuch 2>/dev/null && fail "netns_pid of an unknown name must fail"

pid_a="$(netns_pid a)"
[[ "$(readlink /proc/$pid_a/ns/net)" != "$(readlink /proc/self/ns/net)" ]] ||
  fail "namespace a is the test's own namespace"

netns_exec a ip -o link show lo | grep -q "UP" || fail "lo is not up in a"

netns_veth a va b vb || fail "netns_veth"
netns_exec a ip addr add 192.0.2.1/24 dev va || fail "address in a"
netns_exec b ip addr add 192.0.2.2/24 dev vb || fail "address in b"
netns_exec a ping -c 1 -W 5 192.0.2.2 >/dev/null || fail "a cannot ping b over the veth"
netns_exec b ping -c 1 -W 5 192.0.2.1 >/dev/null || fail "b cannot ping a over the veth"

ip link show va >/dev/null 2>&1 && fail "va is visible in the test's own namespace"
ip link show vb >/dev/null 2>&1 && fail "vb is visible in the test's own namespace"

pid_b="$(netns_pid b)"
netns_cleanup
kill -0 "$pid_a" 2>/dev/null && fail "holder of a still alive after netns_cleanup"
kill -0 "$pid_b" 2>/dev/null && fail "holder of b still alive after netns_cleanup"
netns_pid a 2>/dev/null && fail "a still known after netns_cleanup"

echo "PASS"
