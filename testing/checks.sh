# PASS/FAIL bookkeeping for shell tests, sourced:  source testing/checks.sh
# (add "//testing:checks_sh" to the test's data). A test goes on after a
# failed check, so one run shows everything that is wrong, and its last line
# says how many failed.
#
#   pass DESCRIPTION          prints "PASS: DESCRIPTION"
#   fail DESCRIPTION          prints "FAIL: DESCRIPTION" and counts it
#   check DESCRIPTION CMD...  pass if CMD succeeds, else fail
#   checks_result             the test's last line: prints "N failure(s)";
#                             succeeds only if N is 0
#
# `failures` is the count so far.
failures=0

pass() { echo "PASS: $*"; }

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

check() {  # check DESCRIPTION CMD...
  local what="$1"
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

checks_result() {
  echo "$failures failure(s)"
  [[ "$failures" == 0 ]]
}
