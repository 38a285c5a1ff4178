#!/usr/bin/env bash
# fuzz_bench.sh <name> <seconds> <fuzzer> <args>...: the long run of one libFuzzer target
# (`make bench`; `make test` runs each for KEEL_FUZZ_SECONDS, 10 s). Prints the executions per
# second and the coverage reached; a crash fails the benchmark with the fuzzer's report.
set -uo pipefail
name=$1 seconds=$2 fuzzer=$3
shift 3
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! "$fuzzer" -max_total_time="$seconds" "$@" >"$log" 2>&1; then
  tail -n 60 "$log" >&2
  exit 1
fi
awk -v n="fuzz.$name" '
  /^stat::number_of_executed_units:/ { runs = $2 }
  /^stat::average_exec_per_sec:/ { rate = $2 }
  / cov: / { for (i = 1; i < NF; i++) if ($i == "cov:") cov = $(i + 1) }
  END {
    if (runs == "") { print "fuzz_bench.sh: no final stats from " n > "/dev/stderr"; exit 1 }
    printf "BENCH %s.runs %d runs\nBENCH %s.exec_rate %d runs/s\nBENCH %s.coverage %d edges\n", n, runs, n, rate, n, cov
  }' "$log"
