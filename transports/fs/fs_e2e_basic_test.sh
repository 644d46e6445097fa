#!/usr/bin/env bash
# End to end over real TUNs: two fstun processes (namespaces s and c) share
# a folder (1) on a private tmpfs and (2) on the project's disk
# ($TEST_TMPDIR). Each: ping both ways, a 64 MiB TCP transfer arrives with an
# equal sha256 and no out-of-order segments, the two ends' transport
# counters agree, and the folder is empty of records afterwards.
set -uo pipefail
if [[ -z "${FSE_IN_MNTNS:-}" ]]; then  # private mounts: the tmpfs vanishes with us
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
mkdir -p "$FSE_WORK/tmpfs" "$FSE_WORK/disk"
mount -t tmpfs -o size=256m fse "$FSE_WORK/tmpfs" || exit 1

for kind in tmpfs disk; do
  dir="$FSE_WORK/$kind/share"
  mkdir -p "$dir"
  fse_start "s-$kind" s "$dir" 192.0.2.1/24 || exit 1
  fse_start "c-$kind" c "$dir" 192.0.2.2/24 || exit 1
  check "$kind: client pings server" fse_wait_ping c 192.0.2.1
  check "$kind: server pings client" fse_wait_ping s 192.0.2.2
  echo "$kind: ping c->s p50/p99/replies: $(fse_ping_stats c 192.0.2.1 100)"
  ofo_before="$(fse_ofo s)"
  tun_drops_before="$(fse_tun_tx_drops c)"
  if rate="$(fse_transfer c s 192.0.2.1 64)"; then
    pass "$kind: 64 MiB c->s arrived intact ($rate Mbit/s)"
  else
    fail "$kind: 64 MiB c->s differs"
  fi
  # Out-of-order segments at the receiver only after a loss in the client's
  # TUN queue (the kernel's side, before fstun): the fs stream itself is in
  # order.
  ofo=$(($(fse_ofo s) - ofo_before))
  tun_drops=$(($(fse_tun_tx_drops c) - tun_drops_before))
  echo "$kind: receiver out-of-order segments $ofo, client TUN queue drops $tun_drops"
  check "$kind: no reordering without a TUN queue loss" test "$ofo" == 0 -o "$tun_drops" -gt 0
  if rate="$(fse_transfer s c 192.0.2.2 16)"; then
    pass "$kind: 16 MiB s->c arrived intact ($rate Mbit/s)"
  else
    fail "$kind: 16 MiB s->c differs"
  fi
  fse_stop "c-$kind"
  fse_stop "s-$kind"
  c_tx="$(fse_transport_count "c-$kind" tx)"
  s_rx="$(fse_transport_count "s-$kind" rx)"
  # The client stops first: what the server sent it meanwhile is peer_gone.
  check "$kind: no transport drops once both were up (client $(fse_transport_drops "c-$kind"), server $(fse_drops_after_peers_left "s-$kind"))" \
    test "$(fse_transport_drops "c-$kind")" == 0 -a "$(fse_drops_after_peers_left "s-$kind")" == 0
  check "$kind: counters agree (client sent $c_tx, server received $s_rx)" test -n "$c_tx" -a "$c_tx" == "$s_rx"
  check "$kind: wake-up path logged with the filesystem type" \
    grep -q "wake-ups for .*($kind\|ext4\|xfs\|btrfs\|overlay" "$(fse_log "s-$kind")"
  left="$(find "$dir" -type f | wc -l)"
  check "$kind: nothing left in the folder after a clean stop ($left files)" test "$left" == 0
done

echo "$fse_failures failure(s)"
[[ "$fse_failures" == 0 ]]
