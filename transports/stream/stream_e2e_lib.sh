# Shared by the stream transport's end-to-end tests (sourced after
# testing/netns.sh). Each fstun runs in a namespace the test created, with
# --role=none, on interface st0.
#
#   ste_start NAME NS IP [FLAGS...]     start fstun NAME in namespace NS
#   ste_cmd NS IP [FLAGS...]            the command line ste_start runs (for socat EXEC)
#   ste_wait_up NAME NS                 until st0 is up in NS (bounded)
#   ste_stop NAME                       SIGINT, wait, show its summary
#   ste_wait_ping NS DST                until one ping passes (bounded)
#   ste_transfer FROM TO DST_IP MIB     TCP transfer, sha256 compared; prints Mbit/s
#   ste_count NAME tx|rx                the transport's frame counter from the exit line
#   ste_drops NAME [REASON]             the transport's drops (all, or one reason)
#
# Required: FSTUN (the binary). STE_WORK is a scratch directory, STE_SOCKETS
# a short one for Unix sockets.
export PATH="/usr/sbin:/sbin:$PATH"
STE_WORK="$(mktemp -d "${TEST_TMPDIR:-/tmp}/stream_e2e.XXXXXX")"
# Unix socket paths have at most 107 characters; $TEST_TMPDIR is deeper.
STE_SOCKETS="$(mktemp -d /tmp/ste.XXXXXX)"
declare -gA STE_PID=()
STE_MTU="${STE_MTU:-1400}"

ste_failures=0
pass() { echo "PASS: $*"; }
fail() {
  echo "FAIL: $*"
  ste_failures=$((ste_failures + 1))
}
check() {  # check DESCRIPTION CMD...
  local what="$1"
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

ste_log() { echo "$STE_WORK/$1.log"; }

# The fstun command line for namespace NS (nsenter'd), tunnel address IP.
ste_cmd() {
  local ns="$1" ip="$2"
  shift 2
  local holder
  holder="$(netns_pid "$ns")" || return 1
  mkdir -p "$STE_WORK/state-$ns"
  echo nsenter -t "$holder" -n "$FSTUN" --role=none --transport=stream --ip="$ip" \
    --ifname=st0 --mtu="$STE_MTU" --state_dir="$STE_WORK/state-$ns" --control_dir= "$@"
}

ste_wait_up() {  # ste_wait_up NAME NS
  local i holder
  holder="$(netns_pid "$2")" || return 1
  for ((i = 0; i < 200; i++)); do
    if [[ -n "${STE_PID[$1]:-}" ]] && ! kill -0 "${STE_PID[$1]}" 2>/dev/null; then
      echo "fstun $1 exited early:" >&2
      tail -5 "$(ste_log "$1")" >&2
      return 1
    fi
    nsenter -t "$holder" -n ip link show st0 2>/dev/null | grep -q "UP" && return 0
    sleep 0.05
  done
  echo "fstun $1: st0 never came up" >&2
  tail -5 "$(ste_log "$1")" >&2
  return 1
}

ste_start() {  # ste_start NAME NS IP [FLAGS...]
  local name="$1" ns="$2" ip="$3"
  shift 3
  # shellcheck disable=SC2046
  $(ste_cmd "$ns" "$ip" "$@") >>"$(ste_log "$name")" 2>&1 </dev/null &
  STE_PID[$name]=$!
  ste_wait_up "$name" "$ns"
}

ste_wait_exit() {  # ste_wait_exit PID SECONDS
  local i
  for ((i = 0; i < $2 * 20; i++)); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.05
  done
  return 1
}

ste_stop() {
  local pid="${STE_PID[$1]:-}"
  [[ -z "$pid" ]] && return 0
  kill -INT "$pid" 2>/dev/null
  ste_wait_exit "$pid" 10 || kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  unset "STE_PID[$1]"
  grep -h "stopping\|garbage\|hello" "$(ste_log "$1")" | sed "s/^/  [$1] /"
  if [[ -n "${TEST_UNDECLARED_OUTPUTS_DIR:-}" ]]; then
    cp "$(ste_log "$1")" "$TEST_UNDECLARED_OUTPUTS_DIR/" 2>/dev/null
  fi
}

ste_cleanup() {
  local name
  for name in "${!STE_PID[@]}"; do
    kill -KILL "${STE_PID[$name]}" 2>/dev/null
    wait "${STE_PID[$name]}" 2>/dev/null
  done
  rm -rf "$STE_SOCKETS"
  netns_cleanup
}

ste_wait_ping() {  # ste_wait_ping NS DST [SECONDS]
  local i
  for ((i = 0; i < ${3:-10}; i++)); do
    netns_exec "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1 && return 0
  done
  return 1
}

ste_ping_stats() {  # ste_ping_stats NS DST COUNT -> "p50 p99 received"
  netns_exec "$1" ping -c "$3" -i 0.01 -W 2 "$2" 2>/dev/null | python3 -c '
import re, sys
v = sorted(float(x) for x in re.findall(r"time=([\d.]+)", sys.stdin.read()))
if not v: print("- - 0"); sys.exit()
print("%.3f %.3f %d" % (v[len(v) // 2], v[min(len(v) - 1, int(len(v) * 0.99))], len(v)))'
}

# TCP transfer of MIB random MiB from namespace FROM to TO (listening on
# DST_IP:5001); compares sha256; prints the rate in Mbit/s.
ste_transfer() {
  local from="$1" to="$2" dst="$3" mib="$4"
  local src="$STE_WORK/src.bin" out="$STE_WORK/dst.bin"
  head -c "$((mib << 20))" /dev/urandom >"$src"
  rm -f "$out"
  netns_exec "$to" timeout 120 socat -u TCP-LISTEN:5001,reuseaddr,bind="$dst" "OPEN:$out,creat,trunc" &
  local listener=$!
  sleep 0.3
  local t0 t1
  t0="$(date +%s.%N)"
  timeout 120 nsenter -t "$(netns_pid "$from")" -n socat -u "OPEN:$src" "TCP:$dst:5001" || {
    kill "$listener" 2>/dev/null
    return 1
  }
  ste_wait_exit "$listener" 20
  t1="$(date +%s.%N)"
  local a b
  a="$(sha256sum <"$src" | cut -d' ' -f1)"
  b="$(sha256sum <"$out" 2>/dev/null | cut -d' ' -f1)"
  python3 -c "print('%.0f' % ($mib * 8 * 1.048576 / ($t1 - $t0)))"
  [[ "$a" == "$b" ]]
}

# From a stopped fstun's exit line "transport: tx N frames/B bytes, rx N
# frames/B bytes, drops ...".
ste_count() {  # ste_count NAME tx|rx
  grep -o "transport: tx [0-9]* frames/[0-9]* bytes, rx [0-9]* frames" "$(ste_log "$1")" |
    tail -1 | awk -v d="$2" '{ if (d == "tx") print $3; else print $7 }' | cut -d/ -f1
}

ste_drops() {  # ste_drops NAME [REASON]
  local line
  line="$(grep -o "transport: tx .*; device" "$(ste_log "$1")" | tail -1)"
  if [[ -z "${2:-}" ]]; then
    grep -o "drops [0-9]*" <<<"$line" | head -1 | cut -d' ' -f2 | sed 's/^$/0/'
  else
    local n
    n="$(grep -o "$2=[0-9]*" <<<"$line" | cut -d= -f2)"
    echo "${n:-0}"
  fi
}
