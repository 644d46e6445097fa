#!/usr/bin/env bash
# End to end, the unhappy paths, over a private tmpfs folder:
#   1. kill -9 of the client mid-transfer and a restart: traffic flows again
#      within a few seconds; the dead session's files are collected and
#      nothing of it is replayed (the server logs the restart);
#   2. peer absent: with the server killed, the client's backlog in the
#      folder stops at --fs_max_backlog_bytes, and its disk space is
#      reclaimed once the server is declared gone (record files removed, a
#      ring's records punched out);
#   3. three peers: two clients reach the server, neither receives the
#      other's frames;
#   4. hostile contents planted in the server's inbox (symlink, FIFO,
#      directory, oversized file, truncated record, wrong magic, garbage
#      name, unknown sender): the tunnel keeps working, the junk is removed;
#   5. --fs_format=legacy: two fstun processes interoperate.
set -uo pipefail
if [[ -z "${FSE_IN_MNTNS:-}" ]]; then
  FSE_IN_MNTNS=1 exec unshare -m --propagation private "$0" "$@"
fi
RUNFILES="${TEST_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
[[ -d "$RUNFILES/fstun" ]] && RUNFILES="$RUNFILES/fstun"
FSTUN="${FSTUN:-$RUNFILES/cmd/fstun}"
source "$RUNFILES/testing/netns.sh"
source "$RUNFILES/transports/fs/fs_e2e_lib.sh"
trap fse_cleanup EXIT

netns_new s || exit 1
netns_new c || exit 1
netns_new c2 || exit 1
mkdir -p "$FSE_WORK/tmpfs"
mount -t tmpfs -o size=256m fse "$FSE_WORK/tmpfs" || exit 1
FAST=(--fs_peer_timeout_ms=3000 --fs_gc_interval_ms=500)

session_of() {  # session_of DIR ID
  sed -n 's/^session=//p' "$1/peers/$2.peer" 2>/dev/null
}

# --- 1. kill -9 and restart --------------------------------------------------
dir="$FSE_WORK/tmpfs/restart"
mkdir -p "$dir"
fse_start s1 s "$dir" 192.0.2.1/24 "${FAST[@]}" || exit 1
fse_start c1 c "$dir" 192.0.2.2/24 "${FAST[@]}" || exit 1
check "restart: tunnel up" fse_wait_ping c 192.0.2.1
old="$(session_of "$dir" 192-0-2-2)"
head -c $((256 << 20)) /dev/zero >"$FSE_WORK/big"
netns_exec s socat -u TCP-LISTEN:5002,bind=192.0.2.1,reuseaddr OPEN:/dev/null &
sink=$!
netns_wait_listen s 5002
nsenter -t "$(netns_pid c)" -n timeout 20 socat -u "OPEN:$FSE_WORK/big" TCP:192.0.2.1:5002 2>/dev/null &
sender=$!
sleep 1
fse_kill9 c1
kill "$sender" "$sink" 2>/dev/null
t0="$(date +%s.%N)"
fse_start c1b c "$dir" 192.0.2.2/24 "${FAST[@]}" || exit 1
if fse_wait_ping c 192.0.2.1 15; then
  pass "restart: traffic again $(python3 -c "print('%.1f' % ($(date +%s.%N) - $t0))") s after the restart"
else
  fail "restart: no traffic after the restart"
fi
new="$(session_of "$dir" 192-0-2-2)"
check "restart: a new session ($old -> $new)" test -n "$old" -a -n "$new" -a "$old" != "$new"
sleep 1.5  # a garbage-collection pass
check "restart: the server saw the restart" grep -q "restarted (session $old -> $new)" "$(fse_log s1)"
stale="$(find "$dir" -name "*$old*" | wc -l)"
check "restart: no file of the dead session left ($stale)" test "$stale" == 0
fse_stop c1b
fse_stop s1
left="$(find "$dir" -type f | wc -l)"
check "restart: folder empty after clean stops ($left files)" test "$left" == 0

# --- 2. peer absent: bounded backlog ----------------------------------------
dir="$FSE_WORK/tmpfs/absent"
mkdir -p "$dir"
cap=$((1 << 20))
fse_start s2 s "$dir" 192.0.2.1/24 "${FAST[@]}" || exit 1
# (A ring holds at least 4 records of --fs_max_file_bytes: 4 x 256 KiB = the cap.)
fse_start c2 c "$dir" 192.0.2.2/24 "${FAST[@]}" --fs_max_backlog_bytes=$cap \
  --fs_max_file_bytes=$((cap / 4)) || exit 1
check "absent: tunnel up" fse_wait_ping c 192.0.2.1
fse_kill9 s2
# UDP at the dead server for 2 s: the client keeps writing until the cap.
nsenter -t "$(netns_pid c)" -n timeout 2 socat -u /dev/zero UDP:192.0.2.1:9,sndbuf=1000000 2>/dev/null
inbox="$dir/inbox/192-0-2-1"
peak="$(du -sb "$inbox" | cut -f1)"
check "absent: backlog bounded ($peak bytes <= cap $cap + 64 KiB of directory)" test "$peak" -le $((cap + 65536))
check "absent: backlog reached the cap (>= half of it: $peak)" test "$peak" -ge $((cap / 2))
sleep 4  # the server is declared gone after 3 s without a heartbeat
after="$(find "$inbox" -name '*.rec' | wc -l)"
used="$(du -s --block-size=1 "$inbox" | cut -f1)"  # allocated, not the rings' sizes
check "absent: records reclaimed once the server is gone ($after files, $used bytes on disk)" \
  test "$after" == 0 -a "$used" -le 65536
fse_stop c2
grep -q "backlog_full=" "$(fse_log c2)" && pass "absent: drops counted as backlog_full" ||
  fail "absent: no backlog_full drops counted"

# --- 3. three peers ----------------------------------------------------------
dir="$FSE_WORK/tmpfs/three"
mkdir -p "$dir"
fse_start s3 s "$dir" 192.0.2.1/24 || exit 1
fse_start c3 c "$dir" 192.0.2.2/24 || exit 1
fse_start c3b c2 "$dir" 192.0.2.3/24 || exit 1
check "three: client 1 reaches the server" fse_wait_ping c 192.0.2.1
check "three: client 2 reaches the server" fse_wait_ping c2 192.0.2.1
netns_exec c ping -c 200 -i 0.005 -s 1000 -W 1 192.0.2.1 >/dev/null
netns_exec c2 ping -c 5 -i 0.05 -W 1 192.0.2.1 >/dev/null
fse_stop c3
fse_stop c3b
fse_stop s3
rx1="$(fse_transport_count c3 rx)"
rx2="$(fse_transport_count c3b rx)"
check "three: client 1 got its 200+ replies ($rx1)" test "${rx1:-0}" -ge 200
check "three: client 2 got only its own few frames ($rx2)" test "${rx2:-999}" -lt 50

# --- 4. hostile contents -----------------------------------------------------
dir="$FSE_WORK/tmpfs/hostile"
mkdir -p "$dir"
fse_start s4 s "$dir" 192.0.2.1/24 "${FAST[@]}" || exit 1
fse_start c4 c "$dir" 192.0.2.2/24 "${FAST[@]}" || exit 1
check "hostile: tunnel up" fse_wait_ping c 192.0.2.1
inbox="$dir/inbox/192-0-2-1"
ss="$(session_of "$dir" 192-0-2-1)"
cs="$(session_of "$dir" 192-0-2-2)"
name() { printf "192-0-2-2.%s.%s.%016x.rec" "$cs" "$ss" "$1"; }
ln -s /etc/passwd "$inbox/$(name 100000)"
mkfifo "$inbox/$(name 100001)"
mkdir "$inbox/$(name 100002)"
truncate -s 20M "$inbox/$(name 100003)"
printf 'FSTR\1\0' >"$inbox/$(name 100004)"
printf 'XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX' >"$inbox/$(name 100005)"
echo "hello" >"$inbox/garbage name.txt"
printf 'FSTR' >"$inbox/mallory.$(printf %016x 7).$ss.0000000000000001.rec"
netns_exec c ping -c 40 -i 0.1 -W 1 192.0.2.1 >"$FSE_WORK/hostile.ping"
received="$(grep -o '[0-9]* received' "$FSE_WORK/hostile.ping" | cut -d' ' -f1)"
check "hostile: the tunnel kept working ($received/40 replies)" test "${received:-0}" -ge 38
junk="$(find "$inbox" -name '*.rec' -o -type l -o -type p | wc -l)"
check "hostile: planted records, links and FIFOs removed ($junk left)" test "$junk" == 0
check "hostile: the garbage name is left alone" test -f "$inbox/garbage name.txt"
check "hostile: /etc/passwd untouched" test -s /etc/passwd
fse_stop c4
fse_stop s4
drops="$(grep -o "transport: tx .*; device" "$(fse_log s4)" | tail -1)"
echo "hostile: server transport counters: $drops"
for reason in not_regular oversize_file ignored_name unknown_sender; do
  grep -q "$reason=" <<<"$drops" && pass "hostile: counted $reason" || fail "hostile: $reason not counted"
done

# --- 5. legacy format ----------------------------------------------------------
dir="$FSE_WORK/tmpfs/legacy"
mkdir -p "$dir"
fse_start s5 s "$dir" 192.0.2.1/24 --fs_format=legacy || exit 1
fse_start c5 c "$dir" 192.0.2.2/24 --fs_format=legacy || exit 1
check "legacy: client pings server" fse_wait_ping c 192.0.2.1
check "legacy: server pings client" fse_wait_ping s 192.0.2.2
if rate="$(fse_transfer c s 192.0.2.1 4)"; then
  pass "legacy: 4 MiB c->s arrived intact ($rate Mbit/s)"
else
  fail "legacy: 4 MiB c->s differs"
fi
fse_stop c5
fse_stop s5

echo "$fse_failures failure(s)"
[[ "$fse_failures" == 0 ]]
