#!/usr/bin/env bash
# Prints tools/vmtest --matrix's markdown table from the cases' result files
# (key=value lines, testing/vm/guest_checks.sh and vm.sh). The tmpfs row is
# the in-guest baseline; other rows show their 1/s p50 and transfer times
# also as a multiple of it.
#   testing/vm/table.sh RESULTS_DIR SHARE...
set -uo pipefail
dir="$1"
shift

get() { [[ -r "$dir/$1" ]] && sed -n "s/^$2=//p" "$dir/$1" | tail -n 1; }
ms() { # a number of ms, rounded, or "–"
  [[ "$1" =~ ^[0-9.]+$ ]] && printf '%.0f' "$1" || printf '–'
}
secs() { [[ "$1" =~ ^[0-9]+$ ]] && awk -v v="$1" 'BEGIN { printf "%.1f s", v / 1000 }' || printf '–'; }
times() { # VALUE BASE: " (N×)" when both are numbers
  [[ "$1" =~ ^[0-9.]+$ && "$2" =~ ^[0-9.]+$ ]] && awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf " (%.1f×)", a / b }'
}
loss() { # SENT RECV
  [[ "$1" =~ ^[0-9]+$ && "$2" =~ ^[0-9]+$ ]] || return 0
  (($1 > $2)) && printf ', **%d/%d lost**' $(($1 - $2)) "$1"
}
# xfer SHARE up|down: "T s (N× base) ✓", or "✗ after T s" when the
# receiver's sha256 differs or never came.
xfer() {
  local t want got
  t="$(get "$1" "$2_ms")"
  if [[ "$2" == up ]]; then
    want="$(get "$1" up_sha)" got="$(get "$1" up_peer_sha)"
  else
    want="$(get "$1" host_down_sha)$(get "$1" peer_down_sha)" got="$(get "$1" down_sha)"
  fi
  if [[ -n "$want" && "$want" == "$got" ]]; then
    printf '%s%s ✓' "$(secs "$t")" "$([[ "$1" != tmpfs ]] && times "$t" "$(get tmpfs "$2_ms")")"
  elif [[ -n "$t" ]]; then
    printf '**✗ after %s**' "$(secs "$t")"
  else
    printf '–'
  fi
}

mib="$(get tmpfs up_bytes)"
mib=$((${mib:-4194304} / 1048576))
echo "| share | first reply guest / host | ping 1/s p50 / p99 | ping 20/s p50 / p99 | after 30 s idle | $mib MiB up / down (✓ sha256 equal) | kill -9 + restart: tun0 up, then first reply; replayed | drops guest / host | result |"
echo "|---|---|---|---|---|---|---|---|---|"
for s in "$@"; do
  f="$dir/$s"
  if [[ ! -r "$f" ]]; then
    echo "| $s | not run | | | | | | | |"
    continue
  fi
  if [[ -n "$(get "$s" refused_exit)" ]]; then
    echo "| $s | fstun refused to start (exit $(get "$s" refused_exit)) with remount advice | | | | | | | $([[ -s "$(dirname "$dir")/$s/failures" ]] && echo FAIL || echo PASS) |"
    continue
  fi
  host_first="$(get "$s" first_host_ms)$(get "$s" first_peer_ms)"
  p1="$(get "$s" ping1_p50_ms)"
  replay="–"
  if [[ -n "$(get "$s" restart_big_packets)" ]]; then
    if [[ "$(get "$s" restart_big_packets)" == 0 ]]; then
      replay=no
    elif [[ "$(get "$s" restart_big_packets)" =~ ^[0-9]+$ ]]; then
      replay="**$(get "$s" restart_big_packets) replayed**"
    else
      replay="?"
    fi
  elif [[ -n "$(get "$s" restart_replies)" ]]; then
    # Results from before the size-based check.
    [[ "$(get "$s" restart_replies)" == "$(get "$s" restart_tun_written)" ]] && replay=no ||
      replay="$(get "$s" restart_tun_written) packets for $(get "$s" restart_replies) replies"
  fi
  drops_host="$(get "$s" host_drops)$(get "$s" peer_drops)"
  result=PASS
  [[ -s "$(dirname "$dir")/$s/failures" ]] && result="FAIL: $(head -n 3 "$(dirname "$dir")/$s/failures" | paste -sd ';')"
  label="$s"
  [[ "$s" == tmpfs ]] && label="tmpfs in the guest (baseline)"
  printf '| %s | %s / %s ms | %s%s / %s ms%s | %s / %s ms%s | %s ms | %s / %s | %s + %s ms; %s | %s / %s | %s |\n' \
    "$label" \
    "$(ms "$(get "$s" first_guest_ms)")" "$(ms "$host_first")" \
    "$(ms "$p1")" "$([[ "$s" != tmpfs ]] && times "$p1" "$(get tmpfs ping1_p50_ms)")" "$(ms "$(get "$s" ping1_p99_ms)")" "$(loss "$(get "$s" ping1_sent)" "$(get "$s" ping1_recv)")" \
    "$(ms "$(get "$s" ping20_p50_ms)")" "$(ms "$(get "$s" ping20_p99_ms)")" "$(loss "$(get "$s" ping20_sent)" "$(get "$s" ping20_recv)")" \
    "$(ms "$(get "$s" idle_ms)")" \
    "$(xfer "$s" up)" "$(xfer "$s" down)" \
    "$(ms "$(get "$s" restart_up_ms)")" "$(ms "$(get "$s" restart_first_ms)")" "$replay" \
    "$(get "$s" guest_drops)" "$drops_host" \
    "$result"
done

# How the records went on each case (names or ring, and how each end
# opened its ring file) and what they cost the host folder's disk.
any=0
for s in "$@"; do [[ -n "$(get "$s" guest_store)" ]] && any=1; done
[[ $any == 1 ]] || exit 0
echo
echo "| share | store: guest / other end (how each opened its ring) | host folder at most: allocated / apparent (ring files) |"
echo "|---|---|---|"
for s in "$@"; do
  [[ -r "$dir/$s" && -z "$(get "$s" refused_exit)" ]] || continue
  store() { # LABEL
    local st io
    st="$(get "$s" "$1_store")" io="$(get "$s" "$1_ring_io")"
    io="${io//_/ }"; printf '%s%s' "${st:-?}" "${io:+ (${io//O DIRECT/O_DIRECT})}"
  }
  other=host
  [[ -n "$(get "$s" peer_store)" ]] && other=peer
  disk="–"
  [[ -n "$(get "$s" share_du_kb)" ]] &&
    disk="$(get "$s" share_du_kb) / $(get "$s" share_apparent_kb) KiB ($(get "$s" share_rings))"
  echo "| $s | $(store guest) / $(store "$other") | $disk |"
done
