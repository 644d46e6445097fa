#!/usr/bin/env bash
# Runs a Google Benchmark binary for one short round of every benchmark and
# fails if any benchmark reports an error or none ran. Catches benchmarks that
# crash, hang (the test's timeout) or stop measuring; says nothing about speed.
set -euo pipefail

binary="$1"
out="${TEST_TMPDIR:-/tmp}/benchmark.json"
"$binary" --benchmark_min_time=0 --benchmark_format=json --benchmark_out="$out" \
  --benchmark_out_format=json >/dev/null

runs=$(grep -c '"run_name"' "$out" || true)
errors=$(grep -c '"error_occurred": true' "$out" || true)
echo "benchmarks run: $runs, with errors: $errors"
if [[ "$runs" -eq 0 ]]; then
  echo "FAIL: no benchmark ran" >&2
  exit 1
fi
if [[ "$errors" -ne 0 ]]; then
  grep -B2 -A2 '"error_message"' "$out" >&2
  echo "FAIL: $errors benchmark(s) reported an error" >&2
  exit 1
fi
