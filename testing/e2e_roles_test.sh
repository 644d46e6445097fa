#!/usr/bin/env bash
# End to end: fstun --role=server and --role=client over a shared folder (fs
# transport) in the demo's three namespaces (testing/e2e_roles_lib.sh):
#   1. user errors change nothing: bad CIDR, unknown transport, missing,
#      not-a-directory or read-only folder, interface exists, missing
#      privileges;
#   2. full tunnel, IPv4 and IPv6: ping, DNS and HTTP from the client to
#      `internet` through the server's NAT; a second server for the same
#      interface fails fast and changes nothing; SIGINT / SIGTERM restore
#      both hosts exactly;
#   3. kill -9 of both: `fstun --cleanup` (server) and a restart (client,
#      with --keep_route) restore forwarding, default routes, nftables and
#      interfaces exactly;
#   4. split routes: only the listed prefixes go through the tunnel.
# "Exactly" means the namespace's forwarding sysctls, routes (all tables),
# nftables ruleset and links print the same before and after.
set -uo pipefail

RUNFILES="${TEST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}"
[[ -d "$RUNFILES/fstun" ]] && RUNFILES="$RUNFILES/fstun"
FSTUN="${FSTUN:-$RUNFILES/cmd/fstun}"
source "$RUNFILES/testing/netns.sh"
source "$RUNFILES/testing/e2e_roles_lib.sh"
source "$RUNFILES/testing/checks.sh"
ROLES_WORK="$(mktemp -d "${TEST_TMPDIR:-/tmp}/e2e_roles.XXXXXX")"

same_as_before() {  # same_as_before NS WHEN: compares with $ROLES_WORK/NS.$BASELINE
  local baseline="$ROLES_WORK/$1.${BASELINE:-before}"
  roles_snapshot "$1" >"$ROLES_WORK/$1.now"
  if diff -u "$baseline" "$ROLES_WORK/$1.now" >"$ROLES_WORK/$1.diff"; then
    pass "$1 is exactly as ${BASELINE:-before} ($2)"
  else
    fail "$1 differs from ${BASELINE:-before} ($2):"
    cat "$ROLES_WORK/$1.diff"
  fi
}
no_state_files() {  # no_state_files WHEN
  if [[ -z "$(roles_state_files)" ]]; then pass "no state file left ($1)"; else
    fail "state files left ($1): $(roles_state_files)"
  fi
}
# expect_error WHAT EXIT_CODE PATTERN NS ARGS...: fstun must exit with
# EXIT_CODE, print one line matching PATTERN, and change nothing.
expect_error() {
  local what="$1" want_rc="$2" pattern="$3" ns="$4"
  shift 4
  local out rc=0
  out="$(timeout 20 nsenter -t "$(netns_pid "$ns")" -n "$@" 2>&1)" || rc=$?
  local last
  last="$(grep "^fstun: " <<<"$out" | tail -n 1)"
  if [[ "$rc" == "$want_rc" && "$last" =~ $pattern ]]; then
    pass "$what: exit $rc, '$last'"
  else
    fail "$what: exit $rc (want $want_rc), output: $out"
  fi
  same_as_before "$ns" "after: $what"
}

SERVER_ARGS=(--role=server --transport=fs --dirpath="$ROLES_WORK/share" --ifname=fsts
  --ip="$ROLES_SERVER_TUN4/24,$ROLES_SERVER_TUN6/64" --mtu=1400)
CLIENT_ARGS=(--role=client --transport=fs --dirpath="$ROLES_WORK/share" --ifname=fstc
  --ip="$ROLES_CLIENT_TUN4/24,$ROLES_CLIENT_TUN6/64" --mtu=1400)
FSTUN_IN=("$FSTUN" --state_dir="$ROLES_WORK/state")

roles_topology_up || exit 1
roles_client_uplink
roles_snapshot server >"$ROLES_WORK/server.before"
roles_snapshot client >"$ROLES_WORK/client.before"

echo "=== 1. user errors change nothing"
expect_error "bad CIDR in --routes" 2 "--routes" client "${FSTUN_IN[@]}" "${CLIENT_ARGS[@]}" \
  --routes=203.0.113.0/33
expect_error "bad address in --ip" 2 "--ip" client "${FSTUN_IN[@]}" --role=client --transport=fs \
  --dirpath="$ROLES_WORK/share" --ip=192.0.2.300/24
expect_error "unknown transport" 2 "unknown transport 'carrier-pigeon'" client "${FSTUN_IN[@]}" \
  --role=client --transport=carrier-pigeon --ip=192.0.2.2/24
expect_error "missing folder" 2 "no-such-folder" client "${FSTUN_IN[@]}" \
  --role=client --transport=fs --dirpath="$ROLES_WORK/no-such-folder" --ip=192.0.2.2/24
expect_error "folder that is a file" 2 "index.html" client "${FSTUN_IN[@]}" \
  --role=client --transport=fs --dirpath="$ROLES_WORK/www/index.html" --ip=192.0.2.2/24
mkdir -p "$ROLES_WORK/read-only"
expect_error "read-only folder" 1 "Read-only file system" client unshare --mount sh -c \
  "mount --bind '$ROLES_WORK/read-only' '$ROLES_WORK/read-only' &&
   mount -o remount,bind,ro '$ROLES_WORK/read-only' &&
   exec $FSTUN --state_dir='$ROLES_WORK/state' --role=client --transport=fs \
     --dirpath='$ROLES_WORK/read-only' --ip=192.0.2.2/24"
netns_exec client ip link add fstc type veth peer name fstc-peer
roles_snapshot client >"$ROLES_WORK/client.before"
expect_error "interface exists" 1 "fstc" client "${FSTUN_IN[@]}" "${CLIENT_ARGS[@]}"
netns_exec client ip link del fstc
roles_snapshot client >"$ROLES_WORK/client.before"
expect_error "missing privileges" 1 "(CAP_NET_ADMIN|root|ermission)" client \
  setpriv --bounding-set=-all --inh-caps=-all "${FSTUN_IN[@]}" "${CLIENT_ARGS[@]}"
no_state_files "after the errors"

echo "=== 2. full tunnel, IPv4 and IPv6"
roles_start server "$ROLES_WORK/server.log" "${SERVER_ARGS[@]}" || exit 1
SERVER=$ROLES_PID
roles_start client "$ROLES_WORK/client.log" "${CLIENT_ARGS[@]}" || exit 1
CLIENT=$ROLES_PID
check "client: default route through the tunnel" \
  bash -c "nsenter -t $(netns_pid client) -n ip route show default | grep -q 'dev fstc'"
check "client: IPv6 default route through the tunnel" \
  bash -c "nsenter -t $(netns_pid client) -n ip -6 route show default | grep -q 'dev fstc'"
check "client pings the server's tunnel address" \
  netns_exec client ping -c 3 -i 0.2 -W 5 -q "$ROLES_SERVER_TUN4"
check "client pings the server's IPv6 tunnel address" \
  netns_exec client ping -6 -c 3 -i 0.2 -W 5 -q "$ROLES_SERVER_TUN6"
check "client pings the web server in 'internet' (NAT)" \
  netns_exec client ping -c 2 -i 0.2 -W 5 -q "$ROLES_WEB4"
check "client resolves $ROLES_DEMO_NAME through the tunnel" \
  roles_client "getent ahostsv4 $ROLES_DEMO_NAME | grep -q $ROLES_WEB4"
check "client fetches http://$ROLES_DEMO_NAME/ (IPv4, NAT)" \
  roles_client "curl -4 -sf --max-time 10 http://$ROLES_DEMO_NAME/ | grep -q 'hello from the internet'"
check "client fetches http://$ROLES_DEMO_NAME/ over IPv6 (NAT66)" \
  roles_client "curl -6 -sf --max-time 10 http://$ROLES_DEMO_NAME/ | grep -q 'hello from the internet'"
check "the web server saw the server's uplink addresses (masquerade, IPv4 and IPv6)" \
  bash -c "grep -q '^::ffff:198.51.100.1 ' '$ROLES_WORK/web.log' && grep -q '^2001:db8:2::1 ' '$ROLES_WORK/web.log'"
check "server: MSS clamp counted the tunnel's SYNs" \
  bash -c "nsenter -t $(netns_pid server) -n nft list table inet fstun_fsts | grep 'maxseg size set' | grep -qv 'packets 0 '"

roles_snapshot server >"$ROLES_WORK/server.during"
BASELINE=during expect_error "a second server for the same interface" 1 "already running" server \
  "${FSTUN_IN[@]}" "${SERVER_ARGS[@]}"

roles_stop "$CLIENT" INT
check "client exits 0 on SIGINT" test "$ROLES_RC" = 0
roles_stop "$SERVER" TERM
check "server exits 0 on SIGTERM" test "$ROLES_RC" = 0
same_as_before server "after SIGTERM"
same_as_before client "after SIGTERM"
no_state_files "after SIGTERM"

echo "=== 3. kill -9, then --cleanup (server) and a restart (client)"
roles_start server "$ROLES_WORK/server2.log" "${SERVER_ARGS[@]}" || exit 1
SERVER=$ROLES_PID
roles_start client "$ROLES_WORK/client2.log" "${CLIENT_ARGS[@]}" || exit 1
CLIENT=$ROLES_PID
check "tunnel works before the kill" netns_exec client ping -c 1 -W 5 -q "$ROLES_SERVER_TUN4"
roles_stop "$SERVER" KILL
roles_stop "$CLIENT" KILL
check "killed server left its NAT table" \
  netns_exec server nft list table inet fstun_fsts >/dev/null
check "killed server left forwarding on" \
  test "$(netns_exec server cat /proc/sys/net/ipv4/ip_forward)" = 1
check "killed client left no default route" \
  test -z "$(netns_exec client ip route show default)"
check "state files remain after kill -9" test -n "$(roles_state_files)"

out="$(netns_exec server "${FSTUN_IN[@]}" --cleanup --ifname=fsts 2>&1)"
check "fstun --cleanup exits 0" test $? = 0
echo "$out"
same_as_before server "after kill -9 + --cleanup"
out="$(netns_exec server "${FSTUN_IN[@]}" --cleanup --ifname=fsts 2>&1)"
check "a second --cleanup has nothing to do" grep -q "nothing to restore" <<<"$out"

roles_start client "$ROLES_WORK/client3.log" "${CLIENT_ARGS[@]}" --keep_route=203.0.113.99 || exit 1
CLIENT=$ROLES_PID
check "restarted client restored what the killed one left" \
  grep -q "restoring what fstun (pid" "$ROLES_WORK/client3.log"
check "--keep_route: 203.0.113.99 stays on the old uplink, the rest goes through the tunnel" \
  bash -c "nsenter -t $(netns_pid client) -n ip route get 203.0.113.99 | grep -q 'via 198.51.100.254 dev dead0' &&
           nsenter -t $(netns_pid client) -n ip route get 203.0.113.98 | grep -q 'dev fstc'"
roles_stop "$CLIENT" TERM
same_as_before client "after kill -9 + restart + SIGTERM"
no_state_files "after cleanup and restart"

echo "=== 4. split routes"
roles_start server "$ROLES_WORK/server4.log" "${SERVER_ARGS[@]}" || exit 1
SERVER=$ROLES_PID
roles_start client "$ROLES_WORK/client4.log" "${CLIENT_ARGS[@]}" \
  --routes=203.0.113.0/24,2001:db8:ff::/64 || exit 1
CLIENT=$ROLES_PID
check "split: 203.0.113.80 goes through the tunnel" \
  bash -c "nsenter -t $(netns_pid client) -n ip route get 203.0.113.80 | grep -q 'dev fstc'"
check "split: 2001:db8:ff::80 goes through the tunnel" \
  bash -c "nsenter -t $(netns_pid client) -n ip route get 2001:db8:ff::80 | grep -q 'dev fstc'"
check "split: other destinations keep the old default route" \
  bash -c "nsenter -t $(netns_pid client) -n ip route get 198.51.100.200 | grep -q 'dev dead0' &&
           nsenter -t $(netns_pid client) -n ip route show default | grep -q 'via 198.51.100.254 dev dead0'"
check "split: client fetches the page through the tunnel" \
  roles_client "curl -sf --max-time 10 http://$ROLES_DEMO_NAME/ | grep -q 'hello from the internet'"
roles_stop "$CLIENT" TERM
roles_stop "$SERVER" TERM
same_as_before client "after split routes"
same_as_before server "after split routes"
no_state_files "at the end"

roles_teardown
checks_result
