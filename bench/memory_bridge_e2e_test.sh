#!/usr/bin/env bash
# Two real TUNs in two network namespaces, joined in one process by the
# memory transport and two pumps (bench/memory_bridge): pings and a TCP
# transfer cross, with and without TUN offloads. Everything runs in
# namespaces this test creates.
set -euo pipefail
BRIDGE="$(realpath "$1")"
source "$(dirname "$0")/../testing/netns.sh"

netns_new a
netns_new b
log="${TEST_TMPDIR:-/tmp}/memory_bridge.log"
bridge_pid=""
cleanup() {
  if [[ -n "$bridge_pid" ]]; then kill "$bridge_pid" 2>/dev/null || true; fi
  netns_cleanup
}
trap cleanup EXIT

run_case() {  # run_case NAME [--offload]
  local name=$1; shift
  nsenter -t "$(netns_pid a)" -n "$BRIDGE" --netns_a=/proc/$(netns_pid a)/ns/net --netns_b=/proc/$(netns_pid b)/ns/net \
      --ip_a=192.0.2.1/24 --ip_b=192.0.2.2/24 "$@" >"$log" 2>&1 &
  bridge_pid=$!
  for _ in $(seq 50); do
    netns_exec b ip -o addr show dev memB 2>/dev/null | grep -q 192.0.2.2 && break
    sleep 0.1
  done
  netns_exec a ping -c 5 -i 0.05 -W 2 192.0.2.2 >/dev/null ||
      { echo "FAIL $name: ping a->b"; cat "$log"; exit 1; }
  # 8 MiB over TCP, checked byte for byte.
  head -c $((8 << 20)) /dev/urandom >"$TEST_TMPDIR/payload"
  netns_exec b timeout 20 socat -u TCP-LISTEN:5001,reuseaddr OPEN:"$TEST_TMPDIR/received",creat,trunc &
  local server=$!
  netns_wait_listen b 5001
  netns_exec a timeout 20 socat -u OPEN:"$TEST_TMPDIR/payload" TCP:192.0.2.2:5001
  wait $server
  cmp -s "$TEST_TMPDIR/payload" "$TEST_TMPDIR/received" ||
      { echo "FAIL $name: TCP payload differs"; cat "$log"; exit 1; }
  kill -INT "$bridge_pid"
  wait "$bridge_pid" || true
  bridge_pid=""
  echo "ok   $name"
}

run_case plain
run_case offload --offload
echo PASS
