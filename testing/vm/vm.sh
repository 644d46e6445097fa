# The VM test bed's host side, sourced by tools/vmtest (docs/shared-folders.md).
#
# Theory of operation:
# - Kernel: the package linux-image-amd64 depends on is fetched with
#   `apt-get download` and unpacked with `dpkg-deb -x` into VMTEST_CACHE
#   (never installed); depmod indexes the unpacked tree once. A rerun with
#   the same package version reuses the cache (no download, no unpack).
# - Initramfs: busybox-static, the modules every share needs (dependencies
#   resolved by `modprobe --show-depends`, re-indexed with `depmod -b`), the
#   fstun binary and the libraries `ldd` names, testing/vm/guest_*.sh.
# - Host namespace: everything the bed starts on the host (QEMU, virtiofsd,
#   rpcbind, ganesha, smbd, the host's fstun, nc listeners) runs in ONE
#   network + mount namespace of its own (`unshare --net --mount`, private
#   tmpfs on /run, so rpcbind's and fstun's sockets stay private). Its only
#   interfaces are lo and the host fstun's tun0 (203.0.113.1/24). The guest
#   has QEMU user networking on 198.51.100.0/24 whose host address
#   (198.51.100.2) QEMU connects to 127.0.0.1 in that namespace (where only
#   the bed's servers listen), and no other network.
# - Cleanup: every process whose network namespace is ours is killed by pid,
#   then the holder; the namespace vanishes with it.
#
# Variables: VMTEST_CACHE (kernel cache), VMTEST_WORK (this run's scratch),
# VMTEST_FSTUN (the fstun binary), VMTEST_ACCEL (kvm|tcg|probe), and the
# array VM_FSTUN_FLAGS (extra flags for every fstun of the case: the host's
# command line, and /vmtest/fstun_flags in the initramfs for the guest's).
VM_FSTUN_FLAGS=()

VM_MEM_MB=512
VM_MODULES="virtio_pci tun virtio_net 9p 9pnet_virtio virtiofs nfsv3 nfsv4 cifs ctr ghash_generic gcm ccm cmac sha512_generic ecb"
# The host ports the guest reaches per share (at 198.51.100.2).
vm_server_ports() {
  case "$1" in
    nfs3) echo 111 2049 20048 ;;
    nfs4) echo 2049 ;;
    smb3) echo 445 ;;
  esac
}

vm_log() { echo "vmtest: $*" >&2; }
vm_die() {
  echo "vmtest: $*" >&2
  exit 1
}

# Sets VM_KVER, VM_KROOT (unpacked kernel package) and VM_VMLINUZ.
vm_kernel() {
  mkdir -p "$VMTEST_CACHE"
  local pkg
  pkg="$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n 1)"
  if [[ -z "$pkg" ]]; then
    # No apt metadata: use whatever kernel the cache holds.
    pkg="$(cd "$VMTEST_CACHE" && ls -d linux-image-*/ 2>/dev/null | tail -n 1)"
    pkg="${pkg%/}"
    [[ -n "$pkg" ]] || vm_die "cannot tell which kernel linux-image-amd64 depends on (apt-get update?) and the cache $VMTEST_CACHE is empty"
  fi
  VM_KROOT="$VMTEST_CACHE/$pkg"
  VM_KVER="${pkg#linux-image-}"
  if [[ ! -e "$VM_KROOT/.complete" ]]; then
    vm_log "fetching $pkg (apt-get download; unpacked into $VMTEST_CACHE, not installed)"
    local tmp="$VMTEST_CACHE/.dl.$$"
    rm -rf "$tmp" "$VM_KROOT"
    mkdir -p "$tmp"
    (cd "$tmp" && apt-get download -q "$pkg" >/dev/null 2>"$tmp/apt.err") ||
      vm_die "apt-get download $pkg failed: $(tail -n 1 "$tmp/apt.err")"
    dpkg-deb -x "$tmp"/*.deb "$VM_KROOT" || vm_die "dpkg-deb -x failed"
    rm -rf "$tmp"
    depmod -b "$VM_KROOT" "$VM_KVER" || vm_die "depmod on the unpacked kernel failed"
    touch "$VM_KROOT/.complete"
  fi
  VM_VMLINUZ="$VM_KROOT/boot/vmlinuz-$VM_KVER"
  [[ -r "$VM_VMLINUZ" ]] || vm_die "no $VM_VMLINUZ in the unpacked package"
}

# Builds $VMTEST_WORK/initrd.cpio: the cached base (busybox, socat, the
# modules; rebuilt when the kernel or those tools change) followed by this
# run's fstun, its libraries and the guest scripts (the kernel unpacks
# concatenated cpio archives in order).
vm_initramfs() {
  local here key base="$VMTEST_CACHE/base-$VM_KVER.cpio"
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  key="$VM_KVER|$VM_MODULES|$(stat -c %Y:%s /bin/busybox /usr/bin/socat | tr '\n' ' ')"
  if [[ ! -r "$base" || "$(cat "$base.key" 2>/dev/null)" != "$key" ]]; then
    vm_initramfs_base "$base" || vm_die "could not build the initramfs base"
    echo "$key" >"$base.key"
  fi
  local tree="$VMTEST_WORK/initramfs" lib
  rm -rf "$tree"
  mkdir -p "$tree/vmtest"
  cp "$here/guest_init.sh" "$tree/init"
  cp "$here/guest_checks.sh" "$tree/vmtest/guest_checks.sh"
  cp "$VMTEST_FSTUN" "$tree/vmtest/fstun"
  printf '%s\n' "${VM_FSTUN_FLAGS[@]}" | grep -v '^$' >"$tree/vmtest/fstun_flags"
  chmod 0755 "$tree/init" "$tree/vmtest/fstun"
  for lib in $(ldd "$VMTEST_FSTUN" | grep -o '/[^ ]*' | sort -u); do
    mkdir -p "$tree$(dirname "$lib")"
    cp -L "$lib" "$tree$lib"
  done
  {
    cat "$base"
    (cd "$tree" && find . | cpio -o -H newc --quiet)
  } >"$VMTEST_WORK/initrd.cpio" || vm_die "cpio failed"
}

# vm_initramfs_base OUT: busybox, socat and its libraries, the modules.
vm_initramfs_base() {
  local out="$1" tree="$VMTEST_WORK/initramfs-base" lib
  [[ "$(ldd /bin/busybox 2>&1)" == *"not a dynamic"* || "$(ldd /bin/busybox 2>&1)" == *"statically linked"* ]] ||
    vm_die "/bin/busybox is not static (install busybox-static)"
  rm -rf "$tree"
  mkdir -p "$tree"/{bin,sbin,proc,sys,dev,run,tmp,mnt,vmtest,etc}
  cp /bin/busybox "$tree/bin/busybox"
  ln -s busybox "$tree/bin/sh"
  cp /usr/bin/socat "$tree/bin/socat"
  for lib in $(ldd /usr/bin/socat | grep -o '/[^ ]*' | sort -u); do
    mkdir -p "$tree$(dirname "$lib")"
    cp -L "$lib" "$tree$lib"
  done
  # Modules and their dependencies, then a fresh index for the guest.
  local mdir="lib/modules/$VM_KVER" m path
  mkdir -p "$tree/$mdir"
  cp "$VM_KROOT/$mdir"/modules.{order,builtin,builtin.modinfo} "$tree/$mdir/" 2>/dev/null
  for m in $VM_MODULES; do
    modprobe -d "$VM_KROOT" -S "$VM_KVER" --show-depends "$m" >"$VMTEST_WORK/deps" 2>&1 ||
      vm_die "module $m: $(cat "$VMTEST_WORK/deps")"
    for path in $(sed -n 's/^insmod \([^ ]*\).*/\1/p' "$VMTEST_WORK/deps"); do
      path="${path#"$VM_KROOT"/}"
      mkdir -p "$tree/$(dirname "$path")"
      cp -n "$VM_KROOT/$path" "$tree/$path"
    done
  done
  depmod -b "$tree" "$VM_KVER" || vm_die "depmod -b on the initramfs failed"
  (cd "$tree" && find . | cpio -o -H newc --quiet) >"$out.tmp" && mv "$out.tmp" "$out"
  rm -rf "$tree"
}

# --- the host namespace ------------------------------------------------------

VM_NS_PID=""
vm_ns_up() {
  unshare --net --mount --propagation private -- sh -c \
    "mount -t tmpfs -o mode=0755 tmpfs /run && ip link set lo up && exec sleep $((VM_LIMIT + 120))" \
    </dev/null >/dev/null 2>&1 &
  VM_NS_PID=$!
  local own tries
  own="$(readlink /proc/self/ns/mnt)"
  for ((tries = 0; tries < 200; tries++)); do
    [[ "$(readlink "/proc/$VM_NS_PID/ns/mnt" 2>/dev/null)" != "$own" ]] &&
      [[ "$(readlink "/proc/$VM_NS_PID/exe" 2>/dev/null)" == */sleep ]] && return 0
    kill -0 "$VM_NS_PID" 2>/dev/null || vm_die "could not create a network namespace (root needed)"
    sleep 0.05
  done
  vm_die "namespace holder did not start"
}

vm_in() { nsenter -t "$VM_NS_PID" -n -m -- "$@"; }

# vm_in_bounded CMD...: vm_in, with CMD killed after the case's time limit
# plus a minute, should tools/vmtest itself be killed before its cleanup.
VM_LIMIT=600
vm_in_bounded() { vm_in timeout -s KILL $((VM_LIMIT + 60)) "$@"; }

# Kills every process in our network namespace (by pid), then the holder.
vm_ns_down() {
  [[ -n "$VM_NS_PID" ]] || return 0
  local ns="/proc/$VM_NS_PID/ns/net" p sig
  [[ -e "$ns" ]] || {
    VM_NS_PID=""
    return 0
  }
  # -ef compares the namespace inodes without a fork per process.
  for sig in TERM KILL; do
    for p in /proc/[0-9]*; do
      p="${p#/proc/}"
      [[ "$p" == "$VM_NS_PID" || "$p" == "$$" ]] && continue
      [[ "/proc/$p/ns/net" -ef "$ns" ]] && kill -"$sig" "$p" 2>/dev/null
    done
    [[ "$sig" == TERM ]] && sleep 1
  done
  kill "$VM_NS_PID" 2>/dev/null
  wait "$VM_NS_PID" 2>/dev/null
  VM_NS_PID=""
}

# --- KVM or TCG --------------------------------------------------------------

# Sets VM_ACCEL. KVM is used only when a guest gets as far as the kernel's
# first console line within 5 s (nested KVM on these machines hangs at
# "Booting from ROM"); the answer is remembered until the host reboots.
vm_accel() {
  case "${VMTEST_ACCEL:-probe}" in
    kvm | tcg)
      VM_ACCEL="$VMTEST_ACCEL"
      return
      ;;
  esac
  local memo="$VMTEST_CACHE/accel.$(cat /proc/sys/kernel/random/boot_id)"
  if [[ -r "$memo" ]]; then
    VM_ACCEL="$(cat "$memo")"
    return
  fi
  VM_ACCEL=tcg
  if [[ -r /dev/kvm && -w /dev/kvm ]]; then
    local log="$VMTEST_WORK/kvm-probe.log"
    timeout -s KILL 5 qemu-system-x86_64 -accel kvm -nodefaults -no-user-config -display none \
      -m 256 -smp 1 -serial "file:$log" -kernel "$VM_VMLINUZ" -no-reboot \
      -append "console=ttyS0 panic=-1 rdinit=/nonexistent" >/dev/null 2>&1
    grep -q 'Linux version' "$log" 2>/dev/null && VM_ACCEL=kvm
  fi
  vm_log "accelerator: $VM_ACCEL (KVM probe with a 5 s deadline)"
  echo "$VM_ACCEL" >"$memo"
}

# --- servers for the shares --------------------------------------------------

# vm_start_servers SHARE DIR CASEDIR: starts what SHARE needs on the host;
# sets VM_QEMU_SHARE (QEMU arguments) and VM_QEMU_NET.
vm_start_servers() {
  local share="$1" dir="$2" cdir="$3" p
  VM_QEMU_SHARE=()
  VM_QEMU_NET=(-nic none)
  case "$share" in
    9p-*)
      VM_QEMU_SHARE=(-virtfs "local,path=$dir,mount_tag=share,security_model=none,id=fs0")
      # --count-requests: QEMU's own trace of every 9p request.
      [[ "${VM_COUNT:-0}" == 1 ]] && VM_QEMU_SHARE+=(-trace "enable=v9fs_*,file=$cdir/9p-trace.log")
      ;;
    virtiofs)
      local level=warn
      [[ "${VM_COUNT:-0}" == 1 ]] && level=debug # one line per FUSE request
      vm_in_bounded /usr/lib/qemu/virtiofsd --socket-path="$cdir/virtiofs.sock" -o source="$dir" \
        -o log_level=$level >"$cdir/virtiofsd.log" 2>&1 </dev/null &
      vm_wait_for "virtiofsd socket" 10 test -S "$cdir/virtiofs.sock"
      VM_QEMU_SHARE=(-chardev "socket,id=vfs,path=$cdir/virtiofs.sock"
        -device vhost-user-fs-pci,chardev=vfs,tag=share
        -object "memory-backend-memfd,id=mem,size=${VM_MEM_MB}M,share=on" -numa node,memdev=mem)
      ;;
    nfs3 | nfs4)
      vm_start_ganesha "$dir" "$cdir"
      ;;
    smb3)
      vm_start_samba "$dir" "$cdir"
      ;;
    tmpfs) ;;
    *) vm_die "unknown share $share" ;;
  esac
  local ports
  ports="$(vm_server_ports "$share")"
  if [[ -n "$ports" ]]; then
    # The guest reaches the servers at the user network's host address
    # (198.51.100.2), which QEMU's user networking connects to this
    # namespace's 127.0.0.1 with sockets of its own (TCP_NODELAY set). Not
    # restrict=on with `guestfwd=...-cmd:socat`: that relay's loopback socket
    # pair holds every request longer than one segment for the other end's
    # delayed ACK (Nagle): NFS WRITEs took 40-100 ms instead of 1, which no
    # real NFS or SMB client has (docs/shared-folders.md, "Host-to-guest
    # bulk"). The namespace has no interface but lo and tun0, so the guest
    # still reaches nothing but the bed's own servers.
    local netdev="user,id=n0,net=198.51.100.0/24,host=198.51.100.2,ipv6=off"
    VM_QEMU_NET=(-netdev "$netdev" -device virtio-net-pci,netdev=n0)
  fi
}

# vm_wait_for WHAT SECONDS CMD...: polls CMD every 0.1 s.
vm_wait_for() {
  local what="$1" secs="$2" i
  shift 2
  for ((i = 0; i < secs * 10; i++)); do
    "$@" 2>/dev/null && return 0
    sleep 0.1
  done
  vm_die "$what not ready after $secs s"
}

vm_port_open() { vm_in bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# NFS: nfs-ganesha with its VFS backend, a private rpcbind, ganesha's own
# caches off (the host's fstun writes the directory directly, not through
# ganesha), no grace period (a fresh server every case).
vm_start_ganesha() {
  local dir="$1" cdir="$2"
  mkdir -p "$cdir/ganesha/recovery"
  cat >"$cdir/ganesha.conf" <<EOF
# No Bind_addr: its lookup fails in a namespace with only lo (AI_ADDRCONFIG);
# the namespace is private anyway.
NFS_Core_Param {
  NFS_Port = 2049;
  MNT_Port = 20048;
  Mount_Path_Pseudo = true;
  Enable_NLM = false;
  Enable_RQUOTA = false;
  Protocols = 3, 4;
}
NFSv4 {
  Graceless = true;
  RecoveryBackend = fs;
  RecoveryRoot = "$cdir/ganesha/recovery";
}
MDCACHE {
  Dir_Chunk = 0;
}
EXPORT_DEFAULTS {
  Attr_Expiration_Time = 0;
}
EXPORT {
  Export_Id = 1;
  Path = "$dir";
  Pseudo = /share;
  Access_Type = RW;
  Squash = No_Root_Squash;
  SecType = sys;
  Protocols = 3, 4;
  Transports = TCP;
  Attr_Expiration_Time = 0;
  FSAL {
    Name = VFS;
  }
}
LOG {
  Default_Log_Level = WARN;
}
EOF
  vm_in mkdir -p /run/rpcbind /run/ganesha
  vm_in_bounded rpcbind -f -w >"$cdir/rpcbind.log" 2>&1 </dev/null &
  vm_wait_for rpcbind 10 vm_port_open 111
  vm_in_bounded ganesha.nfsd -F -f "$cdir/ganesha.conf" -L "$cdir/ganesha.log" -p /run/ganesha/ganesha.pid \
    >"$cdir/ganesha.out" 2>&1 </dev/null &
  vm_wait_for "ganesha (port 2049)" 30 vm_port_open 2049
}

# SMB: smbd bound to 127.0.0.1 in our namespace, all its state under the
# case's folder, one user (root, password vmtest) in a private passdb.
vm_start_samba() {
  local dir="$1" cdir="$2" s="$2/samba"
  mkdir -p "$s"/{private,lock,state,cache,pid,ncalrpc,log,binddns}
  cat >"$cdir/smb.conf" <<EOF
[global]
  server role = standalone server
  interfaces = 127.0.0.1
  bind interfaces only = yes
  smb ports = 445
  disable netbios = yes
  server min protocol = SMB3
  passdb backend = tdbsam:$s/private/passdb.tdb
  private dir = $s/private
  lock directory = $s/lock
  state directory = $s/state
  cache directory = $s/cache
  pid directory = $s/pid
  ncalrpc dir = $s/ncalrpc
  binddns dir = $s/binddns
  log file = $s/log/%m.log
  load printers = no
  printing = bsd
  printcap name = /dev/null
  disable spoolss = yes
[share]
  path = $dir
  read only = no
  force user = root
EOF
  printf 'vmtest\nvmtest\n' | vm_in smbpasswd -c "$cdir/smb.conf" -a -s root >"$cdir/smbpasswd.log" 2>&1 ||
    vm_die "smbpasswd failed: $(tail -n 1 "$cdir/smbpasswd.log")"
  # Not --no-process-group: smbd signals its whole process group when it
  # stops, so it must have one of its own (-F makes it a session leader).
  vm_in_bounded smbd -F -s "$cdir/smb.conf" --debug-stdout -d 1 >"$cdir/smbd.log" 2>&1 </dev/null &
  vm_wait_for "smbd (port 445)" 30 vm_port_open 445
}

# --- one case ----------------------------------------------------------------

# vm_boot_guest LIMIT CDIR SUFFIX ARGS: boots a guest in the background
# ($! is its QEMU, killed after LIMIT s) with the share and network set up
# for the case, ARGS (vmtest.*) on its kernel command line, its console and
# QEMU logs in CDIR as console$SUFFIX.log and qemu$SUFFIX.log.
vm_boot_guest() {
  local limit="$1" cdir="$2" suffix="$3" args="$4"
  vm_in timeout -s KILL "$limit" qemu-system-x86_64 -accel "$VM_ACCEL" -cpu max -smp 1 -m "$VM_MEM_MB" \
    -nodefaults -no-user-config -display none -no-reboot \
    -serial "file:$cdir/console$suffix.log" \
    -kernel "$VM_VMLINUZ" -initrd "$VMTEST_WORK/initrd.cpio" \
    -append "console=ttyS0 panic=-1 quiet loglevel=3 $args" \
    "${VM_QEMU_SHARE[@]}" "${VM_QEMU_NET[@]}" >"$cdir/qemu$suffix.log" 2>&1 </dev/null &
}

# vm_run_case SHARE CHECKS: boots a guest on SHARE (with the other end on
# the host, or in the guest for tmpfs); writes $VMTEST_WORK/SHARE/result
# (key=value lines) and returns 0 if the case passed.
vm_run_case() {
  local share="$1" checks="$2" cdir="$VMTEST_WORK/$1"
  local dir="$cdir/share" limit=180
  [[ "$checks" != ci ]] && limit=600
  VM_LIMIT=$limit
  rm -rf "$cdir"
  mkdir -p "$dir"
  vm_ns_up
  # two-9p: two guests on one 9p (cache=none) share, the host only serves
  # it: a second guest (vmtest.role=peer) is the other end, with the
  # listeners the host end has otherwise.
  local gshare="$share" host_end=1
  [[ "$share" == tmpfs ]] && host_end=0
  if [[ "$share" == two-9p ]]; then
    gshare=9p-none
    host_end=0
  fi
  vm_start_servers "$gshare" "$dir" "$cdir"

  local bytes=$((1024 * 1024))
  [[ "$checks" != ci ]] && bytes=$((4 * 1024 * 1024))
  # What the records cost the share's disk: every second, the folder's
  # allocated and apparent KiB and its ring files (du.log; the maxima go
  # into the result as share_du_kb, share_apparent_kb, share_rings).
  if [[ "$share" != tmpfs ]]; then
    vm_in_bounded bash -c 'while :; do
        echo "$(du -sk "$1" 2>/dev/null | cut -f1) $(du -sk --apparent-size "$1" 2>/dev/null | cut -f1) $(find "$1" -name "*.ring" 2>/dev/null | wc -l)"
        sleep 1
      done' du "$dir" >"$cdir/du.log" 2>/dev/null </dev/null &
  fi
  local peer_qemu=""
  if [[ "$share" == two-9p ]]; then
    vm_boot_guest "$limit" "$cdir" -peer \
      "vmtest.share=$gshare vmtest.role=peer vmtest.checks=$checks vmtest.count=0"
    peer_qemu=$!
    vm_wait_for "the peer guest's fstun" 120 grep -q 'VMTEST peer_ready' "$cdir/console-peer.log"
  fi
  if [[ $host_end == 1 ]]; then
    # --trace: the host fstun's file syscalls and the share's packets, with
    # times (a timeline of who wrote and who looked when).
    local tracer=()
    if [[ "${VM_TRACE:-0}" == 1 ]]; then
      command -v strace >/dev/null && command -v tcpdump >/dev/null ||
        vm_die "--trace needs strace and tcpdump (apt-get install strace tcpdump)"
      tracer=(strace -f -tt -qq -o "$cdir/host-fstun.strace" -e trace=renameat,renameat2,unlinkat,openat)
      if [[ -n "$(vm_server_ports "$share")" ]]; then
        vm_in_bounded tcpdump -i lo -s 400 -U -w "$cdir/share.pcap" >"$cdir/tcpdump.log" 2>&1 </dev/null &
      fi
      # The transfers' TCP state on the host end (cwnd, rtt, retransmits)
      # every 0.2 s, and the namespace's TCP counters.
      vm_in_bounded bash -c 'nstat -n; while :; do date +%T.%N; ss -tin "( sport = :5001 or sport = :5002 )"; sleep 0.2; done' \
        >"$cdir/host-ss.log" 2>&1 </dev/null &
    fi
    vm_in_bounded "${tracer[@]}" "$VMTEST_FSTUN" --role=none --transport=fs --dirpath="$dir" --ip=203.0.113.1/24 \
      --ifname=tun0 --logtostderr "${VM_FSTUN_FLAGS[@]}" >"$cdir/host-fstun.log" 2>&1 </dev/null &
    vm_wait_for "host fstun (tun0)" 30 vm_tun_up
    head -c "$bytes" /dev/urandom >"$cdir/host-down.bin"
    vm_in timeout "$limit" socat -t 10 TCP-LISTEN:5001,reuseaddr SYSTEM:sha256sum 2>"$cdir/socat-up.log" </dev/null &
    # The host's sending socket uses the congestion control the baseline's
    # sender (the guest's kernel) uses: Linux's default, cubic, unless
    # VMTEST_HOST_CC says otherwise. These machines default to BBR, which
    # over this tunnel was bimodal (3 s or 17-27 s for the same 4 MiB down
    # on NFSv4; docs/shared-folders.md, "Where the time went").
    local cc="${VMTEST_HOST_CC:-cubic}" ccopt=""
    if grep -qw "$cc" /proc/sys/net/ipv4/tcp_available_congestion_control 2>/dev/null; then
      ccopt=",setsockopt-string=6:13:$cc" # IPPROTO_TCP, TCP_CONGESTION
    else
      vm_log "congestion control '$cc' not available here: the host's default is used"
    fi
    vm_in timeout "$limit" socat -u "OPEN:$cdir/host-down.bin" "TCP-LISTEN:5002,reuseaddr$ccopt" 2>"$cdir/socat-down.log" </dev/null &
  fi

  vm_log "case $share ($checks checks, $VM_ACCEL, limit $limit s)"
  local t_start
  t_start=$(date +%s%N)
  vm_boot_guest "$limit" "$cdir" "" \
    "vmtest.share=$gshare vmtest.checks=$checks vmtest.count=${VM_COUNT:-0}"
  local qemu=$!

  # The host end's own view: from the guest's fstun start to the host's
  # first ping reply.
  if [[ $host_end == 1 ]]; then
    local i
    for ((i = 0; i < limit * 10; i++)); do
      grep -q 'VMTEST fstun_started' "$cdir/console.log" 2>/dev/null && break
      kill -0 "$qemu" 2>/dev/null || break
      sleep 0.1
    done
    if grep -q 'VMTEST fstun_started' "$cdir/console.log" 2>/dev/null; then
      local t0 line
      t0=$(date +%s%N)
      vm_in timeout 60 ping -n -i 0.1 -c 1 -w 60 203.0.113.2 >"$cdir/host-first.txt" 2>&1
      line="$(grep -m 1 'bytes from' "$cdir/host-first.txt")"
      if [[ -n "$line" ]]; then
        echo "first_host_ms=$((($(date +%s%N) - t0) / 1000000))" >>"$cdir/host.kv"
      else
        echo "first_host_ms=none" >>"$cdir/host.kv"
      fi
    fi
  fi
  wait "$qemu"
  echo "wall_s=$((($(date +%s%N) - t_start) / 1000000000))" >>"$cdir/host.kv"
  if [[ -n "$peer_qemu" ]]; then
    kill "$peer_qemu" 2>/dev/null
    wait "$peer_qemu" 2>/dev/null
    # The peer guest's figures: its file's hash, its fstun's drops.
    tr -d '\r' <"$cdir/console-peer.log" | grep -a '^VMTEST ' | sed 's/^VMTEST //' | tr ' ' '\n' |
      grep -E '^(peer_down_sha|peer_drops|peer_error|peer_store|peer_ring_io)=' | awk -F= '{ v[$1] = $0 } END { for (k in v) print v[k] }' >>"$cdir/host.kv"
  fi

  if [[ $host_end == 1 ]]; then
    sleep 1
    echo "host_down_sha=$(sha256sum <"$cdir/host-down.bin" | cut -d' ' -f1)" >>"$cdir/host.kv"
    vm_in "$VMTEST_FSTUN" status --ifname=tun0 >"$cdir/host-status.txt" 2>&1
    [[ "${VM_TRACE:-0}" == 1 ]] && vm_in nstat -a >"$cdir/host-nstat.txt" 2>&1
    echo "host_drops=$(grep -m 1 '^  drops:' "$cdir/host-status.txt" | sed 's/^  drops: //; s/, /,/g; s/ /:/g')" >>"$cdir/host.kv"
    vm_store_of host "$cdir/host-fstun.log" >>"$cdir/host.kv"
  fi
  if [[ -s "$cdir/du.log" ]]; then
    awk '$1 > a { a = $1 } $2 > b { b = $2 } $3 > r { r = $3 }
      END { printf "share_du_kb=%d\nshare_apparent_kb=%d\nshare_rings=%d\n", a, b, r }' "$cdir/du.log" >>"$cdir/host.kv"
  fi
  vm_ns_down
  rm -f "$cdir/host-down.bin"
  rm -rf "$dir"

  # --count-requests on 9p and virtiofs: the server's log, by request type
  # (NFS and SMB: the guest's own client counters, in its VMTEST lines).
  if [[ "${VM_COUNT:-0}" == 1 ]]; then
    if [[ -f "$cdir/9p-trace.log" ]]; then
      grep -o 'v9fs_[a-z_]*' "$cdir/9p-trace.log" | grep -v '_return$' | sed 's/^v9fs_//' |
        sort | uniq -c | awk '{ print "req_" $2 "=" $1 }' >>"$cdir/host.kv"
      rm -f "$cdir/9p-trace.log"
    elif [[ "$share" == virtiofs ]]; then
      sed -n 's/.*opcode: \([A-Z_0-9]*\).*/\1/p' "$cdir/virtiofsd.log" |
        sort | uniq -c | awk '{ print "req_" $2 "=" $1 }' >>"$cdir/host.kv"
    fi
  fi

  # Results: the guest's VMTEST lines, then the host's figures.
  {
    tr -d '\r' <"$cdir/console.log" | grep -a '^VMTEST ' | sed 's/^VMTEST //' | tr ' ' '\n' | grep '=' || true
    cat "$cdir/host.kv" 2>/dev/null
  } >"$cdir/result"
  vm_judge "$share" "$checks" "$cdir/result"
}

# vm_store_of LABEL LOG: how an fstun's records went, from its log:
# LABEL_store=ring (it wrote a ring file; LABEL_ring_io= how it opened it),
# offered (it offered the ring store but wrote none) or names.
vm_store_of() {
  local io
  io="$(grep -a -m 1 -o 'go into a ring file of [0-9]* bytes ([^)]*)' "$2" 2>/dev/null | sed 's/.*(\(.*\))/\1/; s/ /_/g')"
  if [[ -n "$io" ]]; then
    echo "$1_store=ring"
    echo "$1_ring_io=$io"
  elif grep -aq 'ring store offered' "$2" 2>/dev/null; then
    echo "$1_store=offered"
  else
    echo "$1_store=names"
  fi
}

vm_tun_up() { vm_in ip -4 addr show dev tun0 2>/dev/null | grep -q 'inet '; }

# vm_get FILE KEY: the last value of KEY in a result file.
vm_get() { sed -n "s/^$2=//p" "$1" | tail -n 1; }

# vm_judge SHARE CHECKS RESULT: prints why a case failed; 0 if it passed.
vm_judge() {
  local share="$1" checks="$2" r="$3" bad=() v
  # A mount no design can work on (9p cache=loose) may be refused at start
  # with remount advice: that passes, running silently does not.
  if [[ -n "$(vm_get "$r" refused_exit)" ]]; then
    if [[ "$share" == 9p-loose && "$(vm_get "$r" refused_exit)" != 0 ]] &&
      tr -d '\r' <"$VMTEST_WORK/$share/console.log" | grep -a '^VMLOG refused:' | grep -qi 'remount'; then
      return 0
    fi
    echo "fstun refused to start: $(tr -d '\r' <"$VMTEST_WORK/$share/console.log" | grep -a '^VMLOG refused:')" >"$VMTEST_WORK/$share/failures"
    return 1
  fi
  v="$(vm_get "$r" error)" && [[ -n "$v" ]] && bad+=("guest: $v")
  v="$(vm_get "$r" peer_error)" && [[ -n "$v" ]] && bad+=("peer guest: $v")
  [[ "$(vm_get "$r" first_guest_ms)" =~ ^[0-9]+$ ]] || bad+=("no first ping reply")
  if [[ "$checks" == ci ]]; then
    [[ "$(vm_get "$r" ping5_recv)" == 5 ]] || bad+=("ping: $(vm_get "$r" ping5_recv)/5 replies")
  elif [[ "$checks" == full || "$checks" == perf ]]; then
    [[ "$(vm_get "$r" ping1_recv)" == "$(vm_get "$r" ping1_sent)" ]] || bad+=("ping 1/s lost $(($(vm_get "$r" ping1_sent) - $(vm_get "$r" ping1_recv)))")
    [[ "$(vm_get "$r" ping20_recv)" == "$(vm_get "$r" ping20_sent)" ]] || bad+=("ping 20/s lost $(($(vm_get "$r" ping20_sent) - $(vm_get "$r" ping20_recv)))")
  fi
  if [[ "$checks" == full ]]; then
    [[ -n "$(vm_get "$r" idle_ms)" ]] || bad+=("no reply after 30 s idle")
    [[ "$(vm_get "$r" restart_first_ms)" =~ ^[0-9]+$ && "$(vm_get "$r" restart_first_ms)" -le 3000 ]] ||
      bad+=("after kill -9 + restart: first reply $(vm_get "$r" restart_first_ms) ms after tun0 was up (limit 3000)")
    [[ "$(vm_get "$r" restart_big_packets)" == 0 ]] ||
      bad+=("after restart: $(vm_get "$r" restart_big_packets) replies to pings sent before the kill reached the new fstun's tun0 (replayed)")
  fi
  local up_sha down_sha
  up_sha="$(vm_get "$r" up_sha)"
  [[ -n "$up_sha" && "$up_sha" == "$(vm_get "$r" up_peer_sha)" ]] ||
    bad+=("upload: the other end's sha256 differs or never came ($(vm_get "$r" up_ms) ms)")
  down_sha="$(vm_get "$r" host_down_sha)$(vm_get "$r" peer_down_sha)"
  [[ -n "$down_sha" && "$(vm_get "$r" down_sha)" == "$down_sha" ]] ||
    bad+=("download: sha256 differs ($(vm_get "$r" down_bytes) bytes arrived in $(vm_get "$r" down_ms) ms)")
  # Where the ring store was offered, both ends must have written rings
  # (a case that silently fell back to names measures the wrong store).
  local gs os
  gs="$(vm_get "$r" guest_store)"
  os="$(vm_get "$r" host_store)$(vm_get "$r" peer_store)"
  if [[ "$gs" == ring || "$gs" == offered || "$os" == ring || "$os" == offered ]]; then
    [[ "$gs" == ring && "$os" == ring ]] ||
      bad+=("the ring store was offered but records went otherwise: guest ${gs:-?}, other end ${os:-?}")
  fi
  grep -aq '^VMTEST done' "$VMTEST_WORK/$share/console.log" ||
    bad+=("the guest did not finish (time limit?)")
  if ((${#bad[@]})); then
    printf '%s\n' "${bad[@]}" >"$VMTEST_WORK/$share/failures"
    return 1
  fi
  return 0
}
