#!/usr/bin/env bash
# Continuity across a crash (issue 11): kill -9 of either fstun end in the
# middle of a TCP transfer, restart it, and the SAME TCP connection must
# continue and complete with equal bytes: no reset, no stall. A user notices
# exactly this: an ssh session or a download survives `systemctl restart`
# or a crash of the daemon on either machine.
#
# Theory of operation. Two namespaces, s (server, 192.0.2.1) and c (client,
# 192.0.2.2), each with one fstun over the fs transport (--role=none, as the
# fs e2e tests). A TCP stream (tcp_stream.py: rate-limited pseudo-random
# bytes whose sha256 the receiver knows, the longest pause measured at the
# receiver) runs between the namespaces; once a quarter of it has arrived,
# one fstun is killed with SIGKILL and started again at once with the same
# flags and state directory (as systemd's Restart= would). Killing the
# daemon removes its TUN and with it the namespace's tunnel address; the TCP
# sockets live on in the kernel and retransmit once the new TUN and the new
# session are there. Iterations alternate the killed end (server, client)
# and the direction of the transfer (c->s twice, then s->c twice), so every
# combination is hit 5 times in 20.
#
# Folders: a private tmpfs (inotify path), then two bindfs views of one
# folder, one per end (the polling path: the stand-in for cross-VM shares).
#
# What passes: the receiver read exactly the expected bytes (sha256), the
# sender saw the receiver close (no reset), no pause in the received stream
# was longer than CONT_MAX_GAP_S, and the transfer was done within
# CONT_DEADLINE_S of the kill plus the time the same transfer takes
# undisturbed (measured first, per folder: a loaded machine is slower, a
# stalled tunnel much slower). An iteration that is not done by then is
# examined while it is stuck: both ends' counters (fstun status --json), the
# kernel's view of the TCP sockets (ss -tin: cwnd, rtt, retransmits) and the
# folder's contents go to a diagnosis file (in the test's undeclared
# outputs); the next iteration goes on (the tunnel is rebuilt if it no
# longer pings), so a run reports N of 20 per folder.
#
# Knobs (environment): CONT_ITERATIONS (20), CONT_FOLDERS ("tmpfs bindfs"),
# CONT_FSTUN_FLAGS (extra flags for both ends, e.g. "--fs_store=ring"),
# CONT_MIB (16), CONT_RATE_MIB_S (16), CONT_DEADLINE_S (10), CONT_MAX_GAP_S
# (8; TCP's own retransmission back-off after an outage of 1-2 s, as a
# restart takes on a loaded machine, makes pauses of 3-6 s).
set -uo pipefail
if [[ -z "${FSE_IN_MNTNS:-}" ]]; then  # private mounts: tmpfs and views vanish with us
  FSE_IN_MNTNS=1 exec unshare -m --propagation private "$0" "$@"
fi
RUNFILES="${TEST_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
[[ -d "$RUNFILES/fstun" ]] && RUNFILES="$RUNFILES/fstun"
FSTUN="${FSTUN:-$RUNFILES/cmd/fstun}"
STREAM="$RUNFILES/testing/continuity/tcp_stream.py"
source "$RUNFILES/testing/netns.sh"
source "$RUNFILES/transports/fs/fs_e2e_lib.sh"

ITERATIONS="${CONT_ITERATIONS:-20}"
FOLDERS="${CONT_FOLDERS:-tmpfs bindfs}"
MIB="${CONT_MIB:-16}"
RATE="${CONT_RATE_MIB_S:-16}"
DEADLINE="${CONT_DEADLINE_S:-10}"
MAX_GAP="${CONT_MAX_GAP_S:-8}"
BYTES=$((MIB << 20))
KILL_AT=$((BYTES / 4))
CTL="$FSE_WORK/ctl"
OUT="${TEST_UNDECLARED_OUTPUTS_DIR:-$FSE_WORK}"

MOUNTS=()
GAPS=()
UNDISTURBED_S=0  # whole seconds the transfer takes without a kill (per folder)
cont_cleanup() {
  local name m
  for name in "${!FSE_PID[@]}"; do fse_kill9 "$name"; done
  jobs -p | xargs -r kill 2>/dev/null
  for m in "${MOUNTS[@]}"; do fusermount -u -z "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
  netns_cleanup
}
trap cont_cleanup EXIT

netns_new s || exit 1
netns_new c || exit 1
mkdir -p "$FSE_WORK/tmpfs" "$CTL"
mount -t tmpfs -o size=512m cont "$FSE_WORK/tmpfs" || exit 1

declare -A IP=([s]=192.0.2.1 [c]=192.0.2.2)
declare -A DIR=()
now_us() { echo "${EPOCHREALTIME/./}"; }

# start_end FOLDER END: fstun for END (s or c) in the folder's view of END.
start_end() {
  # shellcheck disable=SC2086  # CONT_FSTUN_FLAGS: words on purpose
  fse_start "$1-$2" "$2" "${DIR[$2]}" "${IP[$2]}/24" --control_dir="$CTL" ${CONT_FSTUN_FLAGS:-}
}

# Everything that explains a stuck or failed iteration, while it is stuck.
diagnose() {  # diagnose FOLDER ITERATION
  local folder="$1" i="$2" end f="$OUT/continuity-$1-$2-diagnosis.txt"
  {
    for end in s c; do
      echo "== fstun status, end $end (${IP[$end]})"
      netns_exec "$end" "$FSTUN" status --ifname=fs0 --control_dir="$CTL" --json 2>&1
      echo
      echo "== ss -tin, namespace $end"
      netns_exec "$end" ss -tino 2>&1
    done
    echo "== folder (s's view)"
    find "${DIR[s]}" -printf '%M %8s %TT %p\n' 2>&1 | sort -k4 | head -200
    for end in s c; do
      echo "== log tail, $folder-$end"
      tail -n 30 "$(fse_log "$folder-$end")"
    done
  } >"$f" 2>&1
  echo "  diagnosis in $f:"
  grep -E '^== |"drops":\{[^}]|"wakeup"|rtt:|retrans|never arrived|restarted' "$f" | cut -c1-400 |
    head -40 | sed 's/^/    /'
}

# One transfer; with a VICTIM (s or c), that end is killed with SIGKILL a
# quarter through and restarted at once. Prints one line; fails if the
# connection did not complete intact and in time.
transfer() {  # transfer FOLDER I FROM TO [VICTIM]
  local folder="$1" i="$2" from="$3" to="$4" victim="${5:-}"
  local port=$((6000 + i)) progress="$FSE_WORK/$folder-$i.progress" seed="$folder-$i"
  local rout="$FSE_WORK/$folder-$i.recv" sout="$FSE_WORK/$folder-$i.send"
  # The programs' own deadline is only a safety net: the test's is below.
  local safety=$((DEADLINE * 3 + UNDISTURBED_S + 60))
  rm -f "$progress"
  netns_exec "$to" python3 "$STREAM" recv --bind "${IP[$to]}" --port "$port" --bytes "$BYTES" \
    --seed "$seed" --max-gap "$MAX_GAP" --deadline "$safety" --progress "$progress" \
    >"$rout" 2>&1 &
  local receiver=$!
  local k
  for ((k = 0; k < 200; k++)); do  # listening (bounded: 10 s)
    netns_exec "$to" ss -Htln "sport = :$port" | grep -q . && break
    sleep 0.05
  done
  local t0=${EPOCHREALTIME/./}
  netns_exec "$from" python3 "$STREAM" send --to "${IP[$to]}" --port "$port" --bytes "$BYTES" \
    --seed "$seed" --rate "$RATE" --deadline "$safety" >"$sout" 2>&1 &
  local sender=$!
  local what="$folder #$i: $from->$to"
  local until_s=$((DEADLINE + UNDISTURBED_S))  # after the kill
  if [[ -n "$victim" ]]; then
    local got=0
    # A quarter through (bounded: 30 s; python starts slowly on a loaded machine).
    for ((k = 0; k < 600; k++)); do
      got="$(cat "$progress" 2>/dev/null || echo 0)"
      ((got >= KILL_AT)) && break
      sleep 0.05
    done
    if ((got < KILL_AT)); then
      fail "$what: the transfer did not get going ($got bytes in 30 s): $(tail -1 "$rout"); $(tail -1 "$sout")"
      diagnose "$folder" "$i"
      kill "$sender" "$receiver" 2>/dev/null
      wait "$sender" "$receiver" 2>/dev/null
      return 1
    fi
    t0=${EPOCHREALTIME/./}
    fse_kill9 "$folder-$victim"
    if ! start_end "$folder" "$victim"; then
      fail "$what: $victim did not restart"
      kill "$sender" "$receiver" 2>/dev/null
      wait "$sender" "$receiver" 2>/dev/null
      return 1
    fi
    what+=", kill -9 $victim at $((got >> 20)) MiB, up again in $(((${EPOCHREALTIME/./} - t0) / 1000)) ms;"
  else
    until_s=$((DEADLINE * 3))
    what+=", undisturbed;"
  fi
  # Done in time? If not, look at it while it is stuck (both sockets
  # alive), then stop it.
  while kill -0 "$receiver" 2>/dev/null && (((${EPOCHREALTIME/./} - t0) / 1000000 < until_s)); do
    sleep 0.1
  done
  if kill -0 "$receiver" 2>/dev/null; then
    local p1 p2
    p1="$(cat "$progress" 2>/dev/null || echo 0)"
    sleep 2
    p2="$(cat "$progress" 2>/dev/null || echo 0)"
    fail "$what not done ${until_s} s after the ${victim:+kill}${victim:-start}: $((p2 >> 20)) of $MIB MiB arrived, $(((p2 - p1) >> 11)) KiB/s over the last 2 s"
    diagnose "$folder" "$i"
    kill "$sender" "$receiver" 2>/dev/null
    wait "$receiver" "$sender" 2>/dev/null
    echo "  $(tail -1 "$rout"); $(tail -1 "$sout")"
    return 1
  fi
  local rrc src
  wait "$receiver"
  rrc=$?
  wait "$sender"
  src=$?
  local elapsed_s=$(((${EPOCHREALTIME/./} - t0 + 999999) / 1000000))
  [[ -z "$victim" ]] && UNDISTURBED_S=$elapsed_s
  [[ -n "$victim" ]] && GAPS+=("$(sed -n 's/.*"longest_gap_s": \([0-9.]*\).*/\1/p' "$rout")")
  what+=" $(tail -1 "$rout"); $(tail -1 "$sout")"
  if [[ $rrc == 0 && $src == 0 ]]; then
    pass "$what"
    return 0
  fi
  fail "$what"
  diagnose "$folder" "$i"
  return 1
}

run_folder() {  # run_folder FOLDER
  local folder="$1" i ok=0 from to victim
  GAPS=()
  start_end "$folder" s || { fail "$folder: server start"; return; }
  start_end "$folder" c || { fail "$folder: client start"; return; }
  if ! fse_wait_ping c 192.0.2.1 30 || ! fse_wait_ping s 192.0.2.2 10; then
    fail "$folder: no tunnel before the first kill"
    return
  fi
  local t0
  t0="$(now_us)"
  transfer "$folder" 0 c s || return
  for ((i = 1; i <= ITERATIONS; i++)); do
    victim=$([[ $((i % 2)) == 1 ]] && echo s || echo c)
    if [[ $(((i - 1) / 2 % 2)) == 0 ]]; then from=c to=s; else from=s to=c; fi
    if transfer "$folder" "$i" "$from" "$to" "$victim"; then
      ok=$((ok + 1))
    elif ! fse_wait_ping c 192.0.2.1 10; then
      # A broken tunnel would fail every later iteration for the same reason:
      # start both ends afresh so the next ones measure something.
      echo "  $folder: no ping after #$i; restarting both ends"
      fse_kill9 "$folder-s"
      fse_kill9 "$folder-c"
      start_end "$folder" s && start_end "$folder" c && fse_wait_ping c 192.0.2.1 30
    fi
  done
  echo "$folder: $ok of $ITERATIONS transfers survived the kill in $((($(now_us) - t0) / 1000000)) s;" \
    "longest pause per transfer (s), sorted: $(printf '%s\n' "${GAPS[@]}" | sort -n | tr '\n' ' ')"
  fse_stop "$folder-c"
  fse_stop "$folder-s"
}

for folder in $FOLDERS; do
  case "$folder" in
    tmpfs)
      mkdir -p "$FSE_WORK/tmpfs/share"
      DIR[s]="$FSE_WORK/tmpfs/share"
      DIR[c]="$FSE_WORK/tmpfs/share"
      ;;
    bindfs)
      # Each end its own FUSE view: neither sees the other's writes through
      # inotify, both poll (as two VMs sharing a host folder).
      mkdir -p "$FSE_WORK/tmpfs/real" "$FSE_WORK/view-s" "$FSE_WORK/view-c"
      bindfs "$FSE_WORK/tmpfs/real" "$FSE_WORK/view-s" || { fail "bindfs mount"; continue; }
      MOUNTS+=("$FSE_WORK/view-s")
      bindfs "$FSE_WORK/tmpfs/real" "$FSE_WORK/view-c" || { fail "bindfs mount"; continue; }
      MOUNTS+=("$FSE_WORK/view-c")
      DIR[s]="$FSE_WORK/view-s"
      DIR[c]="$FSE_WORK/view-c"
      ;;
    *)
      fail "unknown folder kind '$folder' (tmpfs, bindfs)"
      continue
      ;;
  esac
  run_folder "$folder"
done

echo "$fse_failures failure(s)"
[[ "$fse_failures" == 0 ]]
