#!/usr/bin/env bash
# tools/install and tools/uninstall (dist/install.sh, dist/uninstall.sh)
# into a DESTDIR: the files land with the right modes, the unit points at the
# installed binary, the installed binary runs; uninstall removes them all but
# keeps the user's own flag file.
set -uo pipefail
RUNFILES="${TEST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}"
[[ -d "$RUNFILES/fstun" ]] && RUNFILES="$RUNFILES/fstun"
FSTUN="$(realpath "$RUNFILES/cmd/fstun")"
ROOT="$(mktemp -d "${TEST_TMPDIR:-/tmp}/destdir.XXXXXX")"
failures=0
pass() { echo "PASS: $*"; }
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
mode_is() {  # mode_is PATH MODE
  local m
  m=$(stat -c %a "$ROOT$1" 2>/dev/null) || { fail "$1 missing"; return; }
  [[ $m == "$2" ]] && pass "$1 ($m)" || fail "$1 has mode $m, want $2"
}

out=$(DESTDIR="$ROOT" PREFIX=/usr "$RUNFILES/dist/install.sh" --binary="$FSTUN" 2>&1) && rc=0 || rc=$?
[[ $rc -eq 0 ]] && pass "install exits 0" || { fail "install: rc=$rc: $out"; exit 1; }
mode_is /usr/sbin/fstun 755
mode_is /etc/systemd/system/fstun@.service 644
mode_is /etc/fstun/server.flags.example 644
mode_is /etc/fstun/client.flags.example 644
mode_is /usr/share/doc/fstun/operations.md 644
grep -q "^ExecStart=/usr/sbin/fstun --flagfile=/etc/fstun/%i.flags --ifname=%i$" "$ROOT/etc/systemd/system/fstun@.service" &&
  pass "the unit runs the installed binary (PREFIX=/usr)" || fail "unit ExecStart: $(grep ExecStart "$ROOT/etc/systemd/system/fstun@.service")"
"$ROOT/usr/sbin/fstun" --version | grep -q "fstun version" && pass "installed binary runs" || fail "installed binary"
"$ROOT/usr/sbin/fstun" --flagfile="$ROOT/etc/fstun/server.flags.example" --list_transports >/dev/null &&
  pass "installed example parses" || fail "installed example does not parse"
out=$(DESTDIR="$ROOT" "$RUNFILES/dist/install.sh" --bogus 2>&1) && rc=0 || rc=$?
[[ $rc -eq 2 && "$out" == *"unknown argument '--bogus'"* ]] && pass "unknown argument: exit 2" || fail "bad argument: rc=$rc $out"

echo "--tranport=fs" >"$ROOT/etc/fstun/tun0.flags"  # the user's own file
out=$(DESTDIR="$ROOT" PREFIX=/usr "$RUNFILES/dist/uninstall.sh" 2>&1) && rc=0 || rc=$?
[[ $rc -eq 0 ]] && pass "uninstall exits 0" || fail "uninstall: rc=$rc: $out"
left=$(cd "$ROOT" && find . -type f | sort)
[[ "$left" == "./etc/fstun/tun0.flags" ]] && pass "only the user's flag file is left" || fail "left behind: $left"
rm "$ROOT/etc/fstun/tun0.flags"
DESTDIR="$ROOT" PREFIX=/usr "$RUNFILES/dist/uninstall.sh" >/dev/null 2>&1 && [[ ! -e "$ROOT/etc/fstun" ]] &&
  pass "a second uninstall succeeds and removes the empty /etc/fstun" || fail "second uninstall"
echo "$failures failure(s)"
[[ $failures -eq 0 ]]
