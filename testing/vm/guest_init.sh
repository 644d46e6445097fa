#!/bin/busybox sh
# /init of the VM test bed's guest (busybox ash; see docs/shared-folders.md).
#
# Theory of operation: tools/vmtest boots Debian's kernel with an initramfs
# holding busybox, the modules a share needs, the fstun binary and its
# libraries, and this script. The kernel command line says what to do:
#   vmtest.share=9p-none|9p-mmap|9p-loose|virtiofs|nfs3|nfs4|smb3|tmpfs
#   vmtest.checks=ci|bulk|perf|full  which checks to run (testing/vm/guest_checks.sh)
#   vmtest.role=peer  be the other end instead (the two-guest case, two-9p)
# The script mounts the share with the client's DEFAULT options (only what
# picks the share and the server is given), starts
# `fstun --role=none --transport=fs` on it, runs the checks against the other
# end (on the host, or, for vmtest.share=tmpfs, a second fstun in a guest
# network namespace) and powers off. Everything it reports is a line
# "VMTEST key=value ..." on the console (ttyS0), which tools/vmtest parses;
# "VMLOG ..." lines carry log excerpts for the record.

export PATH=/bin:/sbin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /run /tmp /mnt/share /dev/net
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o size=128m tmpfs /tmp
exec >/dev/ttyS0 2>&1 </dev/null

say() { echo "VMTEST $*"; }
# Milliseconds since boot (the guest's clock; /proc/uptime has 10 ms steps).
now_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }
die() {
  say "error=\"$*\""
  say done
  sync
  poweroff -f
}

SHARE=""
CHECKS=ci
COUNT=0
ROLE=checks
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    vmtest.share=*) SHARE="${arg#vmtest.share=}" ;;
    vmtest.checks=*) CHECKS="${arg#vmtest.checks=}" ;;
    vmtest.count=*) COUNT="${arg#vmtest.count=}" ;;
    vmtest.role=*) ROLE="${arg#vmtest.role=}" ;;
  esac
done
say boot share="$SHARE" checks="$CHECKS" kernel="$(uname -r)" uptime_ms="$(now_ms)"

modprobe virtio_pci || die "modprobe virtio_pci failed"
modprobe tun || die "modprobe tun failed"
ip link set lo up

# The NFS and SMB servers run on the host and are reached only through QEMU
# user networking (198.51.100.0/24; the host address 198.51.100.2 is the
# bed's namespace's 127.0.0.1, which has nothing else).
SERVER=198.51.100.2
net_up() {
  modprobe virtio_net || die "modprobe virtio_net failed"
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    [ -e /sys/class/net/eth0 ] && break
    sleep 0.2
  done
  ip link set eth0 up || die "no eth0"
  ip addr add 198.51.100.15/24 dev eth0
}

# Mounts the share at /mnt/share with the client's default options.
mount_share() {
  case "$SHARE" in
    9p-none | 9p-mmap | 9p-loose)
      modprobe 9pnet_virtio && modprobe 9p || die "modprobe 9p failed"
      mount -t 9p -o "trans=virtio,cache=${SHARE#9p-}" share /mnt/share
      ;;
    virtiofs)
      modprobe virtiofs || die "modprobe virtiofs failed"
      mount -t virtiofs share /mnt/share
      ;;
    nfs3)
      net_up
      modprobe nfsv3 || die "modprobe nfsv3 failed"
      # addr= is what mount.nfs would pass after resolving the name; nolock
      # because the guest runs no rpc.statd (fstun takes no locks).
      mount -t nfs -o "vers=3,addr=$SERVER,nolock" "$SERVER:/share" /mnt/share
      ;;
    nfs4)
      net_up
      modprobe nfsv4 || die "modprobe nfsv4 failed"
      mount -t nfs4 -o "vers=4.2,addr=$SERVER,clientaddr=198.51.100.15" "$SERVER:/share" /mnt/share
      ;;
    smb3)
      net_up
      for m in cifs ctr ghash_generic gcm ccm cmac sha512_generic ecb; do modprobe "$m"; done
      mount -t cifs -o "ip=$SERVER,username=root,password=vmtest" "//$SERVER/share" /mnt/share
      ;;
    tmpfs)
      mount -t tmpfs -o size=64m tmpfs /mnt/share
      ;;
    *) die "unknown vmtest.share=$SHARE" ;;
  esac || die "mounting the $SHARE share failed"
  say mounted uptime_ms="$(now_ms)"
  echo "VMLOG mountinfo: $(grep ' /mnt/share ' /proc/self/mountinfo)"
}

mount_share
. /vmtest/guest_checks.sh
# vmtest.role=peer: the other end of the two-guest case (runs until stopped).
[ "$ROLE" = peer ] && run_peer
run_checks
say done uptime_ms="$(now_ms)"
umount /mnt/share 2>/dev/null
sync
poweroff -f
