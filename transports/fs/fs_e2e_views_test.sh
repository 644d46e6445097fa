#!/usr/bin/env bash
# End to end through views of a folder where inotify cannot see the other
# side's writes and caches go stale, as on real shared folders:
#   1. bindfs: the server writes the real directory, the client reads it
#      through a FUSE view: the client's traffic must flow by polling (and
#      its log must say so);
#   2. sshfs: each side mounts the folder through its own sshfs connection
#      to an SFTP server on 127.0.0.1 (in a namespace of its own), as two
#      VMs mounting one network share: listings are cached ~20 s and
#      held handles go stale, which the design must not depend on.
# Each: ping both ways, a 64 MiB transfer arrives with an equal sha256.
set -uo pipefail
if [[ -z "${FSE_IN_MNTNS:-}" ]]; then  # private mounts: FUSE views vanish with us
  FSE_IN_MNTNS=1 exec unshare -m --propagation private "$0" "$@"
fi
RUNFILES="${TEST_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
[[ -d "$RUNFILES/fstun" ]] && RUNFILES="$RUNFILES/fstun"
FSTUN="${FSTUN:-$RUNFILES/cmd/fstun}"
source "$RUNFILES/testing/netns.sh"
source "$RUNFILES/transports/fs/fs_e2e_lib.sh"

MOUNTS=()
SSHD_PID=""
views_cleanup() {
  local name m
  for name in "${!FSE_PID[@]}"; do fse_kill9 "$name"; done
  for m in "${MOUNTS[@]}"; do fusermount -u -z "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
  [[ -n "$SSHD_PID" ]] && kill "$SSHD_PID" 2>/dev/null
  netns_cleanup
}

netns_new s || exit 1
netns_new c || exit 1
trap views_cleanup EXIT

# Runs the standard checks between fstun s (folder $1) and c (folder $2).
exercise() {
  local label="$1" dir_s="$2" dir_c="$3" mib="$4"
  fse_start "s-$label" s "$dir_s" 192.0.2.1/24 || { fail "$label: server start"; return; }
  fse_start "c-$label" c "$dir_c" 192.0.2.2/24 || { fail "$label: client start"; return; }
  check "$label: client pings server" fse_wait_ping c 192.0.2.1 30
  check "$label: server pings client" fse_wait_ping s 192.0.2.2 10
  echo "$label: ping c->s p50/p99/replies (10 ms apart): $(fse_ping_stats c 192.0.2.1 100)"
  echo "$label: ping c->s p50/p99/replies (0.5 s apart): $(fse_ping_stats c 192.0.2.1 6 0.5)"
  local rate
  if rate="$(fse_transfer c s 192.0.2.1 "$mib")"; then
    pass "$label: $mib MiB c->s arrived intact ($rate Mbit/s)"
  else
    fail "$label: $mib MiB c->s differs"
  fi
  if rate="$(fse_transfer s c 192.0.2.2 "$mib")"; then
    pass "$label: $mib MiB s->c arrived intact ($rate Mbit/s)"
  else
    fail "$label: $mib MiB s->c differs"
  fi
}

# 1. bindfs.
mkdir -p "$FSE_WORK/real/share" "$FSE_WORK/view"
if bindfs "$FSE_WORK/real" "$FSE_WORK/view"; then
  MOUNTS+=("$FSE_WORK/view")
  exercise bindfs "$FSE_WORK/real/share" "$FSE_WORK/view/share" 64
  check "bindfs: the client (reading through the view) polls" \
    grep -q "wake-ups for .*(fuse) now via polling" "$(fse_log c-bindfs)"
  fse_stop c-bindfs
  fse_stop s-bindfs
  left="$(find "$FSE_WORK/real/share" -type f | wc -l)"
  check "bindfs: nothing left in the folder after a clean stop ($left files)" test "$left" == 0
else
  fail "bindfs could not mount (is /dev/fuse available?)"
fi

# 2. sshfs, one mount per side, each its own SFTP session with the same
#    server-side folder. The SFTP server (OpenSSH's sftp-server) listens on
#    127.0.0.1 in namespace `share`, reached with sshfs -o directport: the
#    ssh transport itself is skipped because sshd cannot drop privileges
#    inside the test sandbox (setgroups is refused); sshfs's caches, which
#    are what matter here, are the same. TCP_NODELAY on the server side as
#    ssh would have it (without it, Nagle + delayed ACKs add ~90 ms to
#    every SFTP round trip).
netns_new share || exit 1
mkdir -p "$FSE_WORK/net/share" "$FSE_WORK/mnt-s" "$FSE_WORK/mnt-c"
netns_exec share socat TCP-LISTEN:2222,bind=127.0.0.1,reuseaddr,fork,nodelay \
  EXEC:/usr/lib/openssh/sftp-server 2>"$FSE_WORK/sftp.log" &
SSHD_PID=$!
for _ in $(seq 50); do netns_exec share ss -ltn 2>/dev/null | grep -q 127.0.0.1:2222 && break; sleep 0.1; done
ok=1
for side in s c; do
  if netns_exec share sshfs -o directport=2222 "127.0.0.1:$FSE_WORK/net" "$FSE_WORK/mnt-$side"; then
    MOUNTS+=("$FSE_WORK/mnt-$side")
  else
    ok=0
  fi
done
if [[ "$ok" == 1 ]]; then
  exercise sshfs "$FSE_WORK/mnt-s/share" "$FSE_WORK/mnt-c/share" 32
  check "sshfs: both sides poll (no inotify across the share)" \
    grep -q "now via polling" "$(fse_log c-sshfs)"
  fse_stop c-sshfs
  fse_stop s-sshfs
  left="$(find "$FSE_WORK/net/share" -type f | wc -l)"
  check "sshfs: nothing left in the folder after a clean stop ($left files)" test "$left" == 0
else
  fail "sshfs could not mount: $(tail -3 "$FSE_WORK/sftp.log")"
fi

echo "$fse_failures failure(s)"
[[ "$fse_failures" == 0 ]]
