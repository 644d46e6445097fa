# Network namespaces for shell tests, sourced:  source testing/netns.sh
#
# Each namespace is held open by a background `unshare -n sleep 600`; commands
# run in it through `nsenter -t PID -n`. This works inside the Bazel sandbox,
# where `ip netns add` does not (it needs a writable /run/netns). Needs root.
#
#   netns_new a; netns_new b
#   netns_veth a va b vb                      # a veth pair, both ends up
#   netns_exec a ip addr add 192.0.2.1/24 dev va
#   netns_exec b ip addr add 192.0.2.2/24 dev vb
#   netns_exec a ping -c 1 -W 2 192.0.2.2
#
# netns_new installs `trap netns_cleanup EXIT`, which kills the holders (the
# namespaces and everything in them vanish with their last process); an EXIT
# trap the test set earlier is kept and runs first. A test that sets its own
# trap after netns_new must call netns_cleanup from it. Holders exit by
# themselves after 600 s should a test be killed before its trap runs.
# Processes a test starts with netns_exec ... & are its own to stop.

declare -gA _NETNS_PIDS=()
_NETNS_TRAP_SET=0

# Prints the PID holding namespace NAME; fails if there is none.
netns_pid() {
  local pid="${_NETNS_PIDS[$1]:-}"
  if [[ -z "$pid" ]]; then
    echo "netns: no namespace named '$1' (create it with netns_new $1)" >&2
    return 1
  fi
  echo "$pid"
}

# Creates namespace NAME with lo up.
netns_new() {
  local name="$1"
  if [[ -z "$name" ]]; then echo "usage: netns_new NAME" >&2; return 2; fi
  if [[ -n "${_NETNS_PIDS[$name]:-}" ]]; then
    echo "netns: namespace '$name' exists already" >&2
    return 1
  fi
  # stdio detached, so a leaked holder cannot keep a test runner waiting on a pipe.
  unshare -n sleep 600 </dev/null >/dev/null 2>&1 &
  local pid=$!
  _NETNS_PIDS[$name]=$pid
  if [[ "$_NETNS_TRAP_SET" == 0 ]]; then
    # Keep a test's own EXIT trap (set before or after us): it runs first,
    # then the namespaces go.
    local prev
    prev="$(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT$/\1/")"
    if [[ -n "$prev" && "$prev" != netns_cleanup* ]]; then
      trap -- "$prev; netns_cleanup" EXIT
    else
      trap netns_cleanup EXIT
    fi
    _NETNS_TRAP_SET=1
  fi
  # `unshare` enters the new namespace and then execs sleep; wait until the
  # holder's namespace differs from ours (bounded: 5 s).
  local own tries
  own="$(readlink /proc/self/ns/net)"
  for ((tries = 0; tries < 500; tries++)); do
    local theirs
    theirs="$(readlink "/proc/$pid/ns/net" 2>/dev/null)" || {
      echo "netns: holder for '$name' died (is this running as root?)" >&2
      return 1
    }
    [[ "$theirs" != "$own" ]] && break
    sleep 0.01
  done
  if ((tries == 500)); then
    echo "netns: holder for '$name' never left our namespace" >&2
    return 1
  fi
  nsenter -t "$pid" -n ip link set lo up
}

# Runs CMD... inside namespace NAME.
# Waits until something in namespace NAME listens on TCP PORT (at most
# SECS, default 10): a fixed sleep before connecting lost the race on a
# loaded machine ("Connection refused", a transfer never sent).
netns_wait_listen() {  # netns_wait_listen NAME PORT [SECS]
  local deadline=$((SECONDS + ${3:-10}))
  until netns_exec "$1" ss -Hltn "sport = :$2" 2>/dev/null | grep -q .; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}

netns_exec() {
  local pid
  pid="$(netns_pid "$1")" || return 1
  shift
  nsenter -t "$pid" -n "$@"
}

# Creates a veth pair: IF1 in namespace NAME1, IF2 in NAME2; both ends up.
netns_veth() {
  if [[ $# -ne 4 ]]; then echo "usage: netns_veth NAME1 IF1 NAME2 IF2" >&2; return 2; fi
  local pid1 pid2
  pid1="$(netns_pid "$1")" || return 1
  pid2="$(netns_pid "$3")" || return 1
  nsenter -t "$pid1" -n ip link add "$2" type veth peer name "$4" netns "$pid2" || return 1
  nsenter -t "$pid1" -n ip link set "$2" up || return 1
  nsenter -t "$pid2" -n ip link set "$4" up
}

# Kills every holder this shell started; their namespaces disappear once the
# processes still inside them exit.
netns_cleanup() {
  local name
  for name in "${!_NETNS_PIDS[@]}"; do
    kill "${_NETNS_PIDS[$name]}" 2>/dev/null || true
    # A killed holder's status (143) must not become the test's under set -e.
    wait "${_NETNS_PIDS[$name]}" 2>/dev/null || true
  done
  _NETNS_PIDS=()
  return 0
}
