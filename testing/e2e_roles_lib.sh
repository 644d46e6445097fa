# The demo's three-namespace topology, for testing/e2e_roles_test.sh and
# tools/demo. Sourced after testing/netns.sh; needs root.
#
#   internet  inet0: 198.51.100.254/24 2001:db8:2::fe/64 (the server's uplink peer)
#                    203.0.113.80 (web, HTTP on :80)  203.0.113.53 (DNS, dnsmasq)
#                    2001:db8:ff::80
#   server    up0:   198.51.100.1/24 2001:db8:2::1/64, default via inet0
#             fstun --role=server, tunnel 192.0.2.1/24 2001:db8:1::1/64
#   client    no link at all (optionally a dead uplink, see roles_client_uplink)
#             fstun --role=client, tunnel 192.0.2.2/24 2001:db8:1::2/64
#
# The shared folder is a plain directory both fstun processes use. DNS on
# the client goes through a private mount namespace in which a resolv.conf
# naming 203.0.113.53 is bind-mounted (roles_client): the host's
# /etc/resolv.conf is never touched.
#
# Required variables: ROLES_WORK (a scratch directory), FSTUN (the binary).

# nft, dnsmasq, ip live in sbin, which Bazel's test PATH lacks.
export PATH="/usr/sbin:/sbin:$PATH"

ROLES_DEMO_NAME=demo.fstun.test
ROLES_WEB4=203.0.113.80
ROLES_DNS4=203.0.113.53
ROLES_WEB6=2001:db8:ff::80
ROLES_SERVER_TUN4=192.0.2.1
ROLES_CLIENT_TUN4=192.0.2.2
ROLES_SERVER_TUN6=2001:db8:1::1
ROLES_CLIENT_TUN6=2001:db8:1::2
ROLES_PYTHON=/usr/bin/python3

# Prints a message and fails.
roles_die() {
  echo "FAIL: $*" >&2
  return 1
}

ROLES_PIDS=()  # every process roles_* started in the background

# Builds the namespaces and starts the web and DNS servers in `internet`.
# Installs an EXIT trap running roles_teardown (call roles_teardown yourself
# from your own EXIT trap if you set one later).
roles_topology_up() {
  mkdir -p "$ROLES_WORK/www" "$ROLES_WORK/state" "$ROLES_WORK/share"
  netns_new internet || return 1
  netns_new server || return 1
  netns_new client || return 1
  trap roles_teardown EXIT
  netns_veth server up0 internet inet0 || return 1

  netns_exec internet ip addr add 198.51.100.254/24 dev inet0
  netns_exec internet ip addr add "$ROLES_WEB4/24" dev inet0
  netns_exec internet ip addr add "$ROLES_DNS4/24" dev inet0
  netns_exec internet ip -6 addr add 2001:db8:2::fe/64 dev inet0 nodad
  netns_exec internet ip -6 addr add "$ROLES_WEB6/64" dev inet0 nodad
  netns_exec server ip addr add 198.51.100.1/24 dev up0
  netns_exec server ip -6 addr add 2001:db8:2::1/64 dev up0 nodad
  netns_exec server ip route add default via 198.51.100.254 dev up0
  netns_exec server ip -6 route add default via 2001:db8:2::fe dev up0

  # The page the client fetches, and a file for the throughput test.
  echo "hello from the internet namespace, through the shared folder" >"$ROLES_WORK/www/index.html"
  head -c $((32 * 1024 * 1024)) /dev/zero >"$ROLES_WORK/www/32MiB.bin"

  # Web: dual-stack on :80 (Python binds :: with IPV6_V6ONLY off).
  # (Background processes run through nsenter directly, not netns_exec: a
  # backgrounded shell function would make $! a subshell's pid.)
  nsenter -t "$(netns_pid internet)" -n "$ROLES_PYTHON" -m http.server --bind :: --directory "$ROLES_WORK/www" 80 \
    >"$ROLES_WORK/web.log" 2>&1 </dev/null &
  ROLES_PIDS+=($!)
  # DNS: answers only for the demo name, reads no host configuration.
  # --no-daemon also keeps it from switching user/group (not allowed in the
  # Bazel sandbox).
  nsenter -t "$(netns_pid internet)" -n dnsmasq --no-daemon --no-resolv --no-hosts --conf-file=/dev/null \
    --pid-file= --listen-address="$ROLES_DNS4" --bind-interfaces \
    --address="/$ROLES_DEMO_NAME/$ROLES_WEB4" --address="/$ROLES_DEMO_NAME/$ROLES_WEB6" \
    --log-facility="$ROLES_WORK/dns.log" </dev/null >/dev/null 2>&1 &
  ROLES_PIDS+=($!)
  echo "nameserver $ROLES_DNS4" >"$ROLES_WORK/resolv.conf"

  local i
  for ((i = 0; i < 100; i++)); do
    netns_exec internet curl -s -o /dev/null --max-time 1 "http://$ROLES_WEB4/" && break
    sleep 0.1
  done
  ((i < 100)) || roles_die "the web server in 'internet' did not start ($(cat "$ROLES_WORK/web.log"))" || return 1
  for ((i = 0; i < 100; i++)); do
    roles_in internet "getent hosts $ROLES_DEMO_NAME" >/dev/null && break
    sleep 0.1
  done
  ((i < 100)) || roles_die "the DNS server in 'internet' did not answer ($(cat "$ROLES_WORK/dns.log"))"
}

# Stops everything roles_* started (fstun gets SIGTERM so it restores, then
# SIGKILL after 5 s), then removes the namespaces. Idempotent.
roles_teardown() {
  local pid i
  for pid in "${ROLES_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for ((i = 0; i < 100; i++)); do
    local alive=0
    for pid in "${ROLES_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.05
  done
  for pid in "${ROLES_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  ROLES_PIDS=()
  netns_cleanup
}

# Gives the client a dead uplink with a default route, so that replacing and
# restoring the default route can be checked (the demo's client has none).
roles_client_uplink() {
  netns_exec client ip tuntap add dev dead0 mode tun
  netns_exec client ip link set dead0 up
  netns_exec client ip addr add 198.51.100.77/24 dev dead0
  netns_exec client ip route add default via 198.51.100.254 dev dead0
  netns_exec client ip -6 addr add 2001:db8:3::77/64 dev dead0 nodad
  netns_exec client ip -6 route add default via 2001:db8:3::fe dev dead0
}

# roles_fstun NS ARGS...: runs fstun in namespace NS (foreground).
roles_fstun() {
  local ns="$1"
  shift
  netns_exec "$ns" "$FSTUN" --state_dir="$ROLES_WORK/state" "$@"
}

# roles_start NS LOG ARGS...: starts fstun in NS in the background; sets
# ROLES_PID. Waits until its role is applied (its state file exists) or it
# died; fails in the latter case.
roles_start() {
  local ns="$1" log="$2"
  shift 2
  local holder
  holder="$(netns_pid "$ns")" || return 1
  nsenter -t "$holder" -n "$FSTUN" --state_dir="$ROLES_WORK/state" "$@" >"$log" 2>&1 </dev/null &
  ROLES_PID=$!
  ROLES_PIDS+=("$ROLES_PID")
  local i
  for ((i = 0; i < 200; i++)); do
    if ! kill -0 "$ROLES_PID" 2>/dev/null; then
      roles_die "fstun in '$ns' exited during start-up: $(tail -n 3 "$log")"
      return 1
    fi
    grep -q "fstun .* up:" "$log" 2>/dev/null && return 0
    sleep 0.05
  done
  roles_die "fstun in '$ns' did not come up within 10 s: $(tail -n 3 "$log")"
}

# roles_stop PID SIGNAL: signals fstun and waits (bounded: 10 s) for it;
# sets ROLES_RC to its exit status. Call it from the shell that started it
# (not in $(...)): only the parent can collect the status.
roles_stop() {
  local pid="$1" sig="${2:-TERM}" i
  kill -"$sig" "$pid" 2>/dev/null
  for ((i = 0; i < 200; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null
    roles_die "fstun (pid $pid) ignored SIG$sig for 10 s"
  fi
  ROLES_RC=0
  wait "$pid" 2>/dev/null || ROLES_RC=$?
}

# roles_in NS CMD...: runs a shell command in namespace NS with the demo's
# resolv.conf (bind-mounted in a private mount namespace).
roles_in() {
  local ns="$1"
  shift
  netns_exec "$ns" unshare --mount sh -c \
    "mount --bind '$ROLES_WORK/resolv.conf' /etc/resolv.conf && $*"
}

# roles_client CMD...: roles_in client.
roles_client() {
  roles_in client "$@"
}

# roles_snapshot NS: what fstun may change in NS, as text: forwarding
# sysctls (global and per interface), routes, nftables ruleset, links.
roles_snapshot() {
  local ns="$1"
  netns_exec "$ns" sh -c '
    for f in /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/conf/*/forwarding \
             /proc/sys/net/ipv6/conf/*/forwarding; do
      echo "$f=$(cat "$f")"
    done
    echo "--- routes"; ip route show table all | grep -v "^local\|^broadcast\|^multicast\|^ff00::"
    echo "--- routes6"; ip -6 route show table all | grep -v "^local\|^multicast\|^anycast\|^ff00::"
    echo "--- nft"; nft list ruleset
    echo "--- links"; ip -o link show 2>/dev/null | sed "s/^[0-9]*: //"
  '
}

# roles_state_files: the state files fstun left in ROLES_WORK/state.
roles_state_files() {
  ls "$ROLES_WORK/state" 2>/dev/null
}
