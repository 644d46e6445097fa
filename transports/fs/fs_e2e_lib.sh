# Shared by the fs transport's end-to-end tests (sourced after
# testing/netns.sh). Each fstun runs in a namespace the test created, with
# --role=none (the roles have their own e2e test), on interface fs0. What
# any transport's test does (start/stop, ping, transfers, counters,
# PASS/FAIL) is testing/tunnel_e2e_lib.sh; the fse_ names below are those
# helpers for fs, which the fs tests call.
#
#   fse_start NAME NS DIR IP [FLAGS...]   start fstun NAME in namespace NS
#   fse_stop NAME / fse_kill9 NAME        SIGINT (clean) / SIGKILL
#   fse_wait_ping NS DST                  until one ping passes (bounded)
#   fse_ping_stats NS DST COUNT           prints "p50 p99 received"
#   fse_transfer FROM TO DST_IP MIB       TCP transfer, sha256 compared
#   fse_transport_drops NAME              drops, not counting no_route
#   fse_drops_after_peers_left NAME       the same, nor peer_gone: for an end
#                                         whose peers stopped before it did
#   fse_ofo NS / fse_tun_tx_drops NS      reordering / TUN queue losses
#
# Required: FSTUN (the binary). FSE_WORK is a scratch directory, FSE_PID the
# running fstuns by name, fse_failures the FAILs so far.
E2E_MTU="${FSE_MTU:-${E2E_MTU:-1400}}"
E2E_SUMMARY="stopping\|wake-ups\|skipped\|removed"
source "${RUNFILES:-$(dirname "${BASH_SOURCE[0]}")/../..}/testing/tunnel_e2e_lib.sh"
# The fs tests use these names (shellcheck cannot see that).
# shellcheck disable=SC2034
FSE_WORK="$E2E_WORK"
# shellcheck disable=SC2034
declare -gn FSE_PID=E2E_PID
# shellcheck disable=SC2034
declare -gn fse_failures=failures

fse_start() {  # fse_start NAME NS DIR IP [FLAGS...]
  local name="$1" ns="$2" dir="$3" ip="$4"
  shift 4
  e2e_start "$name" "$ns" fs0 --transport=fs --dirpath="$dir" --ip="$ip" "$@"
}

fse_log() { e2e_log "$@"; }
fse_stop() { e2e_stop "$@"; }
fse_kill9() { e2e_kill9 "$@"; }
fse_cleanup() { e2e_cleanup; }
fse_wait_ping() { e2e_wait_ping "$@"; }
fse_ping_stats() { e2e_ping_stats "$@"; }
fse_transfer() { e2e_transfer "$@"; }
fse_transport_count() { e2e_transport_count "$@"; }

# Frames the transport dropped, from a stopped fstun's summary line, not
# counting no_route (what the kernel sends before any peer is there).
fse_transport_drops() {
  echo $(($(e2e_transport_drops "$1") - $(e2e_transport_drops "$1" no_route)))
}

# Frames an end sent while its peers were stopping (a late ACK, a FIN) are
# counted peer_gone: what stopping a peer costs, not a transport fault.
fse_drops_after_peers_left() {
  echo $(($(fse_transport_drops "$1") - $(e2e_transport_drops "$1" peer_gone)))
}

# TcpExtTCPOFOQueue of a namespace: segments that arrived out of order
# (after a loss, e.g. a TUN queue overflow, this counts too).
fse_ofo() {
  netns_exec "$1" awk '/^TcpExt:/ { if (!n) { for (i = 1; i <= NF; i++) k[i] = $i; n = 1 } else {
    for (i = 1; i <= NF; i++) if (k[i] == "TCPOFOQueue") print $i } }' /proc/net/netstat
}

# Packets the TUN of namespace NS dropped on the way to fstun (queue full).
fse_tun_tx_drops() {
  netns_exec "$1" ip -s link show fs0 | awk '/TX:/ { getline; print $4 }'
}
