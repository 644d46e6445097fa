# Shared by the stream transport's end-to-end tests (sourced after
# testing/netns.sh). Each fstun runs in a namespace the test created, with
# --role=none, on interface st0. What any transport's test does (start/stop,
# ping, transfers, counters, PASS/FAIL: the e2e_ helpers) is
# testing/tunnel_e2e_lib.sh; this adds the stream's command line.
#
#   ste_start NAME NS IP [FLAGS...]     start fstun NAME in namespace NS
#   ste_cmd NS IP [FLAGS...]            the command line that runs fstun NS in NS,
#                                       as one string (for socat EXEC)
#   ste_cleanup                         e2e_cleanup, and the sockets
#
# Required: FSTUN (the binary). STE_SOCKETS is a short directory for Unix
# sockets.
E2E_SUMMARY="stopping\|garbage\|hello"
source "${RUNFILES:-$(dirname "${BASH_SOURCE[0]}")/../..}/testing/tunnel_e2e_lib.sh"
# Unix socket paths have at most 107 characters; $TEST_TMPDIR is deeper.
STE_SOCKETS="$(mktemp -d /tmp/ste.XXXXXX)"

ste_cmd() {  # ste_cmd NS IP [FLAGS...]
  local ns="$1" ip="$2"
  shift 2
  e2e_fstun_cmd "$ns" "$ns" st0 --transport=stream --ip="$ip" "$@" || return 1
  echo "${E2E_CMD[*]}"
}

ste_start() {  # ste_start NAME NS IP [FLAGS...]
  local name="$1" ns="$2" ip="$3"
  shift 3
  e2e_start "$name" "$ns" st0 --transport=stream --ip="$ip" "$@"
}

ste_cleanup() {
  e2e_cleanup
  rm -rf "$STE_SOCKETS"
}
