#!/usr/bin/env bash
# tools/demo, the README's first command, must pass (exit 0) with the
# fstun binary Bazel built. It creates and removes its own namespaces.
set -uo pipefail
RUNFILES="${TEST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}"
[[ -d "$RUNFILES/fstun" ]] && RUNFILES="$RUNFILES/fstun"
export FSTUN="${FSTUN:-$RUNFILES/cmd/fstun}"
export PATH="/usr/sbin:/sbin:$PATH"
out="$("$RUNFILES/tools/demo" 2>&1)"
rc=$?
echo "$out"
grep -q "all .* steps worked" <<<"$out" || { echo "FAIL: the demo did not report success"; exit 1; }
[[ $rc == 0 ]] || { echo "FAIL: tools/demo exited $rc"; exit 1; }
echo "PASS: tools/demo"
