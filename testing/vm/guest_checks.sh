# The checks the VM test bed runs in the guest (sourced by guest_init.sh).
#
# Theory of operation: this end is fstun on tun0 (203.0.113.2) over
# /mnt/share. The other end (203.0.113.1) is fstun on the host, in
# tools/vmtest's network namespace, over the host's directory behind the
# share; or, with vmtest.share=tmpfs, a second fstun in a network namespace
# of this guest over the same tmpfs (the baseline: same emulated CPU, no
# share in between). Both ends listen with socat on TCP 5001 (answers with the
# sha256 of what it received) and 5002 (sends a file). Every figure is printed as
# "VMTEST key=value"; tools/vmtest compares the hashes the host end saw.
#
# CHECKS=ci: first ping, 5 pings at 5/s, 1 MiB each way.
# CHECKS=bulk: first ping, 4 MiB each way (to time transfers quickly).
# CHECKS=perf: first ping, 20 pings at 1/s, 200 at 20/s, 4 MiB each way
# (the figures an A/B comparison of flags needs, without the idle and
# restart checks).
# CHECKS=full: first ping, 20 pings at 1/s, 200 at 20/s, one ping after
# 30 s idle, 4 MiB each way, kill -9 + restart of this end's fstun.

PEER=203.0.113.1
SELF=203.0.113.2
FSTUN_LOG=/tmp/fstun.log
FSTUN_PID=""
# Extra flags for every fstun here (tools/vmtest --fstun-flag), one a line.
FSTUN_FLAGS=$(cat /vmtest/fstun_flags 2>/dev/null)

start_fstun() {
  /vmtest/fstun --role=none --transport=fs --dirpath=/mnt/share --ip="$SELF/24" \
    --ifname=tun0 --logtostderr $FSTUN_FLAGS >>"$FSTUN_LOG" 2>&1 &
  FSTUN_PID=$!
}

# Waits (at most 30 s) until tun0 carries its address; fails otherwise, or
# as soon as this end's fstun has exited.
wait_tun() { # [nsenter args...]
  for _ in $(seq 300); do
    [ $# -eq 0 ] && ! kill -0 "$FSTUN_PID" 2>/dev/null && return 1
    "$@" ip -4 addr show dev "${TUN_NAME:-tun0}" 2>/dev/null | grep -q "inet " && return 0
    sleep 0.1
  done
  return 1
}

# ping_stats NAME FILE: prints loss, p50, p99 and max of a ping log as
# NAME_sent= NAME_recv= NAME_p50_ms= NAME_p99_ms= NAME_max_ms= NAME_dup=.
ping_stats() {
  _sent=$(awk '/packets transmitted/ { print $1 }' "$2")
  _dup=$(grep -c 'DUP!' "$2")
  grep 'bytes from' "$2" | grep -v 'DUP!' | sed -n 's/.*time=\([0-9.]*\).*/\1/p' | sort -n >"$2.t"
  _n=$(wc -l <"$2.t")
  _tf="$2.t"
  _pct() { awk -v n="$_n" -v p="$1" 'BEGIN { k = int((n * p + 99) / 100); if (k < 1) k = 1 } NR == k { print; exit }' "$_tf"; }
  say "$1_sent=${_sent:-0} $1_recv=$_n $1_p50_ms=$(_pct 50) $1_p99_ms=$(_pct 99) $1_max_ms=$(tail -n 1 "$2.t") $1_dup=$_dup"
}

# first_reply NAME START_MS [nsenter args...]: pings the other end every
# 100 ms (at most 60 s) and prints NAME_ms, the time from START_MS to the
# first reply (from the reply's sequence number and round trip).
first_reply() {
  _name=$1 _start=$2
  shift 2
  _f=/tmp/$_name.txt
  _p0=$(now_ms)
  "$@" ping -i 0.1 -w 60 "$TARGET" >"$_f" 2>&1 &
  _pp=$!
  for _ in $(seq 620); do
    grep -q 'bytes from' "$_f" && break
    kill -0 "$_pp" 2>/dev/null || break
    sleep 0.1
  done
  kill "$_pp" 2>/dev/null
  wait "$_pp" 2>/dev/null
  _line=$(grep -m 1 'bytes from' "$_f")
  if [ -z "$_line" ]; then
    say "${_name}_ms=none"
    return 1
  fi
  _seq=$(echo "$_line" | sed -n 's/.*seq=\([0-9]*\).*/\1/p')
  _rtt=$(echo "$_line" | sed -n 's/.*time=\([0-9.]*\).*/\1/p')
  say "${_name}_ms=$(awk -v a="$_p0" -v b="$_start" -v s="$_seq" -v r="$_rtt" 'BEGIN { printf "%d\n", a - b + s * 100 + r }')"
}

# transfer BYTES: sends BYTES of random data to the other end's port 5001,
# which answers with the sha256 of what it received (so the time includes
# delivery), then receives the other end's file from port 5002.
transfer() {
  head -c "$1" /dev/urandom >/tmp/up.bin
  _sha=$(sha256sum /tmp/up.bin | cut -d' ' -f1)
  _t0=$(now_ms)
  _got=$(timeout 240 socat -t 240 - "TCP:$PEER:5001" </tmp/up.bin 2>/tmp/socat-up.err | cut -d' ' -f1)
  say "up_bytes=$1 up_ms=$(($(now_ms) - _t0)) up_sha=$_sha up_peer_sha=${_got:-none}"
  rm -f /tmp/up.bin
  _t0=$(now_ms)
  timeout 240 socat -u "TCP:$PEER:5002" CREATE:/tmp/down.bin 2>/tmp/socat-down.err
  _rc=$?
  say "down_ms=$(($(now_ms) - _t0)) down_rc=$_rc down_bytes=$(wc -c </tmp/down.bin) down_sha=$(sha256sum /tmp/down.bin | cut -d' ' -f1)"
  rm -f /tmp/down.bin
  for _f in /tmp/socat-up.err /tmp/socat-down.err; do
    [ -s "$_f" ] && sed "s|^|VMLOG $_f: |" "$_f" | tail -n 3
  done
}

# vmtest.role=peer (tools/vmtest --case two-9p): this guest is the other
# end, 203.0.113.1, with the two listeners the host end has otherwise, on
# the same share as the guest that runs the checks. It runs until
# tools/vmtest stops it, printing its drop counters every 2 s.
run_peer() {
  if [ "$CHECKS" = ci ]; then _bytes=$((1024 * 1024)); else _bytes=$((4 * 1024 * 1024)); fi
  SELF=203.0.113.1
  head -c "$_bytes" /dev/urandom >/tmp/peer-down.bin
  say "peer_down_sha=$(sha256sum /tmp/peer-down.bin | cut -d' ' -f1)"
  timeout 900 socat -t 10 TCP-LISTEN:5001,reuseaddr SYSTEM:sha256sum 2>/dev/null &
  timeout 900 socat -u OPEN:/tmp/peer-down.bin TCP-LISTEN:5002,reuseaddr 2>/dev/null &
  start_fstun
  if ! wait_tun; then
    say "peer_error=fstun_did_not_bring_tun0_up"
    tail -n 3 "$FSTUN_LOG" | sed 's/^/VMLOG peer fstun: /'
  fi
  say peer_ready
  while :; do
    sleep 2
    _drops=$(/vmtest/fstun status --ifname=tun0 2>&1 | grep -m 1 '^  drops:' | sed 's/^  drops: //; s/, /,/g; s/ /:/g')
    say "peer_drops=${_drops:-unknown}"
    store_of peer "$FSTUN_LOG"
  done
}

# The baseline's other end: fstun in a network namespace of this guest, on
# the same tmpfs, with the same two listeners the host runs.
PEER_NS=""
in_peer() { nsenter -t "$PEER_NS" -n "$@"; }
prepare_guest_peer() {
  unshare -n sleep 100000 &
  PEER_NS=$!
  sleep 0.2
  in_peer ip link set lo up
  head -c "$1" /dev/urandom >/tmp/peer-down.bin
  say "peer_down_sha=$(sha256sum /tmp/peer-down.bin | cut -d' ' -f1)"
  in_peer timeout 900 socat -t 10 TCP-LISTEN:5001,reuseaddr SYSTEM:sha256sum 2>/dev/null &
  in_peer timeout 900 socat -u OPEN:/tmp/peer-down.bin TCP-LISTEN:5002,reuseaddr 2>/dev/null &
}
start_guest_peer() {
  in_peer /vmtest/fstun --role=none --transport=fs --dirpath=/mnt/share --ip="$PEER/24" \
    --ifname=tun1 --control_dir=/run/fstun-peer --state_dir=/run/fstun-peer-state \
    --logtostderr $FSTUN_FLAGS >>/tmp/fstun-peer.log 2>&1 &
  PEER_FSTUN=$!
}

# --count-requests (COUNT=1) on NFS and SMB: the guest client's own
# request counters (NFS: /proc/self/mountstats per-op; SMB:
# /proc/fs/cifs/Stats), as "NAME COUNT" lines into FILE.
req_snapshot() { # FILE
  case "$SHARE" in
    nfs*) awk '/per-op statistics/ { on = 1; next } on && $1 ~ /^[A-Z_0-9]+:$/ { sub(":", "", $1); print $1, $2 }' /proc/self/mountstats ;;
    smb3) awk '$1 ~ /^[A-Za-z]+:$/ && $3 == "total" { sub(":", "", $1); print $1, $2 }' /proc/fs/cifs/Stats ;;
  esac >"$1" 2>/dev/null
}
# Prints req_NAME= for every counter that grew since FILE.
req_since() { # FILE
  req_snapshot /tmp/req.after
  awk 'NR == FNR { before[$1] = $2; next } $2 - before[$1] > 0 { printf "req_%s=%d\n", $1, $2 - before[$1] }' \
    "$1" /tmp/req.after | while read -r kv; do say "$kv"; done
}

# store_of LABEL LOG: how that fstun's records went (tools/vmtest's
# vm_store_of): LABEL_store=ring|offered|names, LABEL_ring_io=.
store_of() {
  _io=$(grep -m 1 -o 'go into a ring file of [0-9]* bytes ([^)]*)' "$2" 2>/dev/null | sed 's/.*(\(.*\))/\1/; s/ /_/g')
  if [ -n "$_io" ]; then
    say "$1_store=ring $1_ring_io=$_io"
  elif grep -q 'ring store offered' "$2" 2>/dev/null; then
    say "$1_store=offered"
  else
    say "$1_store=names"
  fi
}

status_of() { # LABEL [nsenter args...] -- fstun status lines, prefixed
  _label=$1
  shift
  "$@" /vmtest/fstun status --ifname="$IFN" $CTL 2>&1 | sed "s/^/VMLOG $_label status: /"
  _drops=$("$@" /vmtest/fstun status --ifname="$IFN" $CTL 2>&1 | grep -m 1 '^  drops:' | sed 's/^  drops: //; s/, /,/g; s/ /:/g')
  say "${_label}_drops=${_drops:-unknown}"
}

run_checks() {
  if [ "$CHECKS" = ci ]; then bytes=$((1024 * 1024)); else bytes=$((4 * 1024 * 1024)); fi
  if [ "$SHARE" = tmpfs ]; then prepare_guest_peer "$bytes"; fi
  [ "$COUNT" = 1 ] && req_snapshot /tmp/req.before
  t0=$(now_ms)
  if [ "$SHARE" = tmpfs ]; then start_guest_peer; fi
  start_fstun
  say fstun_started uptime_ms="$t0"
  if ! wait_tun; then
    if ! kill -0 "$FSTUN_PID" 2>/dev/null; then
      # fstun refused to start (e.g. a mount it cannot work on): its last
      # log line is the user's advice.
      wait "$FSTUN_PID"
      say "refused_exit=$?"
      echo "VMLOG refused: $(tail -n 1 "$FSTUN_LOG")"
      say done uptime_ms="$(now_ms)"
      sync
      poweroff -f
    fi
    die "fstun did not bring tun0 up within 30 s (log: $(tail -n 3 $FSTUN_LOG | tr '\n' ' '))"
  fi
  TARGET=$PEER first_reply first_guest "$t0"
  _first=$?
  if [ "$SHARE" = tmpfs ]; then
    TUN_NAME=tun1 wait_tun in_peer || die "the guest peer's fstun did not bring tun1 up"
    TARGET=$SELF first_reply first_peer "$t0" in_peer
  fi

  if [ "$_first" != 0 ]; then
    # No reply in 60 s: every further check would only run into its
    # time-outs. Report the state of both ends instead.
    say "skipped=no_first_reply"
  elif [ "$CHECKS" = ci ]; then
    ping -c 5 -i 0.2 -W 5 "$PEER" >/tmp/ping5.txt 2>&1
    ping_stats ping5 /tmp/ping5.txt
    transfer "$bytes"
  elif [ "$CHECKS" = bulk ]; then
    transfer "$bytes"
  elif [ "$CHECKS" = perf ]; then
    ping -c 20 -i 1 -W 5 "$PEER" >/tmp/ping1.txt 2>&1
    ping_stats ping1 /tmp/ping1.txt
    ping -c 200 -i 0.05 -W 5 "$PEER" >/tmp/ping20.txt 2>&1
    ping_stats ping20 /tmp/ping20.txt
    transfer "$bytes"
  else
    ping -c 20 -i 1 -W 5 "$PEER" >/tmp/ping1.txt 2>&1
    ping_stats ping1 /tmp/ping1.txt
    ping -c 200 -i 0.05 -W 5 "$PEER" >/tmp/ping20.txt 2>&1
    ping_stats ping20 /tmp/ping20.txt
    sleep 30
    ping -c 1 -W 10 "$PEER" >/tmp/idle.txt 2>&1
    say "idle_ms=$(sed -n 's/.*time=\([0-9.]*\).*/\1/p' /tmp/idle.txt | head -n 1)"
    transfer "$bytes"
    restart_check
  fi
  sleep 1
  [ "$COUNT" = 1 ] && req_since /tmp/req.before
  IFN=tun0 CTL="" status_of guest
  # The guest's TCP counters (retransmissions inside the tunnel).
  awk '/^Tcp:/ && ++n == 2 { print "VMLOG guest tcp: out_segs=" $12, "retrans_segs=" $13 }' /proc/net/snmp
  if [ "$SHARE" = tmpfs ]; then
    IFN=tun1 CTL="--control_dir=/run/fstun-peer" status_of peer in_peer
  fi
  grep -E '^[EFW][0-9]{4} ' "$FSTUN_LOG" | tail -n 20 | sed 's/^/VMLOG guest fstun: /'
  store_of guest "$FSTUN_LOG"
  [ -n "$PEER_NS" ] && store_of peer /tmp/fstun-peer.log
  kill "$FSTUN_PID" 2>/dev/null
  wait "$FSTUN_PID"
  say guest_fstun_exit=$?
  if [ -n "$PEER_NS" ]; then
    grep -E '^[EFW][0-9]{4} ' /tmp/fstun-peer.log | tail -n 20 | sed 's/^/VMLOG peer fstun: /'
    kill "$PEER_FSTUN" 2>/dev/null
    wait "$PEER_FSTUN"
    kill "$PEER_NS" 2>/dev/null
  fi
}

# kill -9 of this end's fstun while traffic flows, then a restart: how long
# until the tunnel carries traffic again (restart_up_ms: until the new
# process has tun0 up; restart_first_ms: from then to the first reply), and
# whether anything addressed to the old process is delivered to the new one.
# The pings before the kill are 1228-byte packets, those after it 84-byte
# ones: every packet the new fstun writes into tun0 must be a small one
# (restart_big_packets counts 1228-byte ones from the TUN counters).
restart_check() {
  ping -i 0.1 -c 20 -W 2 -s 1200 "$PEER" >/tmp/before.txt 2>&1 &
  _pp=$!
  sleep 1
  kill -9 "$FSTUN_PID"
  wait "$FSTUN_PID" 2>/dev/null
  wait "$_pp" 2>/dev/null
  _t0=$(now_ms)
  start_fstun
  wait_tun || die "restarted fstun did not bring tun0 up"
  # Process start-up on the emulated CPU is reported apart: the transport's
  # part is from tun0 being up to the first reply.
  _t1=$(now_ms)
  say "restart_up_ms=$((_t1 - _t0))"
  TARGET=$PEER first_reply restart_first "$_t1"
  sleep 2
  ping -c 20 -i 0.1 -W 2 "$PEER" >/tmp/after.txt 2>&1
  ping_stats after_restart /tmp/after.txt
  sleep 2
  _dev=$(/vmtest/fstun status --ifname=tun0 --json 2>/dev/null | tr -d ' \n' |
    sed -n 's/.*"device":{"tx_frames":\([0-9]*\),"tx_bytes":\([0-9]*\).*/\1 \2/p')
  _frames=${_dev% *}
  _bytes=${_dev#* }
  if [ -n "$_dev" ]; then
    # Each small reply is 84 bytes (+ at most a 10-byte vnet header); a
    # 1228-byte one adds 1144 over that.
    say "restart_tun_written=$_frames restart_big_packets=$(((_bytes - _frames * 84) / 1100))"
  else
    say "restart_tun_written=unknown restart_big_packets=unknown"
  fi
}
