# What every transport's end-to-end test does with a tunnel, sourced after
# testing/netns.sh by a transport's own lib (transports/<name>/<name>_e2e_lib.sh),
# which adds its command line and what only it has. Each fstun runs with
# --role=none in a namespace the test created; its output goes to a log per
# name, copied to the test's outputs when it stops.
#
#   e2e_fstun_cmd NAME NS IFNAME [FLAGS...]  sets E2E_CMD to the command that runs
#                                       fstun NAME in namespace NS (state in E2E_WORK)
#   e2e_start NAME NS IFNAME [FLAGS...]  start it in the background, wait for IFNAME
#   e2e_wait_up NAME NS IFNAME          until IFNAME is up in NS (10 s; fails early
#                                       if fstun NAME exited)
#   e2e_stop NAME                       SIGINT, wait (10 s, then SIGKILL), print the
#                                       log lines matching E2E_SUMMARY
#   e2e_kill9 NAME                      SIGKILL, as a crash
#   e2e_cleanup                         SIGKILL what is left, remove the namespaces
#   e2e_wait_exit PID SECONDS           until PID is gone (bounded)
#   e2e_wait_ping NS DST [TRIES]        until one ping passes (1 s a try, 10 tries)
#   e2e_ping_stats NS DST COUNT [INTERVAL]  prints "p50 p99 received" (ms)
#   e2e_transfer FROM TO DST_IP MIB     TCP transfer of random bytes, sha256 compared;
#                                       prints Mbit/s
#   e2e_transport_count NAME tx|rx      the transport's frames from the exit line
#   e2e_transport_drops NAME [REASON]   the transport's drops (all, or one reason)
#   pass, fail, check, checks_result    PASS/FAIL bookkeeping (testing/checks.sh)
#
# FSTUN is the binary (default: cmd/fstun beside testing/ in the runfiles).
# E2E_WORK is a scratch directory made here; E2E_MTU (1400) the tunnel MTU;
# E2E_SUMMARY what e2e_stop shows. Sources testing/netns.sh unless the test
# did, and testing/checks.sh.
export PATH="/usr/sbin:/sbin:$PATH"
E2E_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FSTUN="${FSTUN:-$E2E_ROOT/cmd/fstun}"
declare -F netns_new >/dev/null || source "$E2E_ROOT/testing/netns.sh"
source "$E2E_ROOT/testing/checks.sh"
E2E_WORK="$(mktemp -d "${TEST_TMPDIR:-/tmp}/e2e.XXXXXX")"
declare -gA E2E_PID=()
E2E_MTU="${E2E_MTU:-1400}"
E2E_SUMMARY="${E2E_SUMMARY:-stopping}"


e2e_log() { echo "$E2E_WORK/$1.log"; }

e2e_fstun_cmd() {  # e2e_fstun_cmd NAME NS IFNAME [FLAGS...]
  local name="$1" ns="$2" ifname="$3"
  shift 3
  local holder
  holder="$(netns_pid "$ns")" || return 1
  mkdir -p "$E2E_WORK/state-$name"
  E2E_CMD=(nsenter -t "$holder" -n "$FSTUN" --role=none --ifname="$ifname" --mtu="$E2E_MTU"
    --state_dir="$E2E_WORK/state-$name" --control_dir= "$@")
}

e2e_start() {  # e2e_start NAME NS IFNAME [FLAGS...]
  local name="$1" ns="$2" ifname="$3"
  e2e_fstun_cmd "$@" || return 1
  "${E2E_CMD[@]}" >>"$(e2e_log "$name")" 2>&1 </dev/null &
  E2E_PID[$name]=$!
  e2e_wait_up "$name" "$ns" "$ifname"
}

e2e_wait_up() {  # e2e_wait_up NAME NS IFNAME
  local i holder
  holder="$(netns_pid "$2")" || return 1
  for ((i = 0; i < 200; i++)); do
    if [[ -n "${E2E_PID[$1]:-}" ]] && ! kill -0 "${E2E_PID[$1]}" 2>/dev/null; then
      echo "fstun $1 exited early:" >&2
      tail -5 "$(e2e_log "$1")" >&2
      return 1
    fi
    nsenter -t "$holder" -n ip link show "$3" 2>/dev/null | grep -q "UP" && return 0
    sleep 0.05
  done
  echo "fstun $1: $3 never came up" >&2
  tail -5 "$(e2e_log "$1")" >&2
  return 1
}

e2e_wait_exit() {  # e2e_wait_exit PID SECONDS
  local i
  for ((i = 0; i < $2 * 20; i++)); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.05
  done
  return 1
}

e2e_stop() {  # e2e_stop NAME
  local pid="${E2E_PID[$1]:-}"
  [[ -z "$pid" ]] && return 0
  kill -INT "$pid" 2>/dev/null
  e2e_wait_exit "$pid" 10 || kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  unset "E2E_PID[$1]"
  grep -h "$E2E_SUMMARY" "$(e2e_log "$1")" | sed "s/^/  [$1] /"
  if [[ -n "${TEST_UNDECLARED_OUTPUTS_DIR:-}" ]]; then
    cp "$(e2e_log "$1")" "$TEST_UNDECLARED_OUTPUTS_DIR/" 2>/dev/null
  fi
}

e2e_kill9() {  # e2e_kill9 NAME
  local pid="${E2E_PID[$1]:-}"
  [[ -z "$pid" ]] && return 0
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  unset "E2E_PID[$1]"
}

e2e_cleanup() {
  local name
  for name in "${!E2E_PID[@]}"; do e2e_kill9 "$name"; done
  netns_cleanup
}

e2e_wait_ping() {  # e2e_wait_ping NS DST [TRIES]
  local i
  for ((i = 0; i < ${3:-10}; i++)); do
    netns_exec "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1 && return 0
  done
  return 1
}

e2e_ping_stats() {  # e2e_ping_stats NS DST COUNT [INTERVAL]
  netns_exec "$1" ping -c "$3" -i "${4:-0.01}" -W 2 "$2" 2>/dev/null | python3 -c '
import re, sys
v = sorted(float(x) for x in re.findall(r"time=([\d.]+)", sys.stdin.read()))
if not v: print("- - 0"); sys.exit()
print("%.3f %.3f %d" % (v[len(v) // 2], v[min(len(v) - 1, int(len(v) * 0.99))], len(v)))'
}

# TCP transfer of MIB random MiB from namespace FROM to TO (listening on
# DST_IP:5001); compares sha256; prints the rate in Mbit/s. Bounded: 120 s.
e2e_transfer() {
  local from="$1" to="$2" dst="$3" mib="$4"
  local src="$E2E_WORK/src.bin" out="$E2E_WORK/dst.bin"
  head -c "$((mib << 20))" /dev/urandom >"$src"
  rm -f "$out"
  netns_exec "$to" timeout 120 socat -u TCP-LISTEN:5001,reuseaddr,bind="$dst" "OPEN:$out,creat,trunc" &
  local listener=$!
  netns_wait_listen "$to" 5001
  local t0 t1
  t0="$(date +%s.%N)"
  timeout 120 nsenter -t "$(netns_pid "$from")" -n socat -u "OPEN:$src" "TCP:$dst:5001" || {
    kill "$listener" 2>/dev/null
    return 1
  }
  e2e_wait_exit "$listener" 20
  t1="$(date +%s.%N)"
  local a b
  a="$(sha256sum <"$src" | cut -d' ' -f1)"
  b="$(sha256sum <"$out" 2>/dev/null | cut -d' ' -f1)"
  python3 -c "print('%.0f' % ($mib * 8 * 1.048576 / ($t1 - $t0)))"
  [[ "$a" == "$b" ]]
}

# From a stopped fstun's exit line "transport: tx N frames/B bytes, rx N
# frames/B bytes, drops N (reason=N ...); device ...".
e2e_transport_count() {  # e2e_transport_count NAME tx|rx
  grep -o "transport: tx [0-9]* frames/[0-9]* bytes, rx [0-9]* frames" "$(e2e_log "$1")" |
    tail -1 | awk -v d="$2" '{ if (d == "tx") print $3; else print $7 }' | cut -d/ -f1
}

e2e_transport_drops() {  # e2e_transport_drops NAME [REASON]
  local line n
  line="$(grep -o "transport: tx .*; device" "$(e2e_log "$1")" | tail -1)"
  if [[ -z "${2:-}" ]]; then
    n="$(grep -o "drops [0-9]*" <<<"$line" | head -1 | cut -d' ' -f2)"
  else
    n="$(grep -o "$2=[0-9]*" <<<"$line" | cut -d= -f2)"
  fi
  echo "${n:-0}"
}
