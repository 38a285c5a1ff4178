#!/usr/bin/env bash
# Runs every registered benchmark (build/*/benchmarks.tsv: name<TAB>command) and prints only
# its `BENCH <name> <value> <unit>` lines. A benchmark that fails is reported on stderr.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
for list in build/host-release/benchmarks.tsv build/aarch64/benchmarks.tsv build/fuzz/benchmarks.tsv; do
  [[ -f $list ]] || continue
  while IFS=$'\t' read -r name cmd; do
    [[ -n $name ]] || continue
    out=$(bash -c "$cmd" 2>&1); rc=$?
    grep -E '^BENCH [^ ]+ [-0-9.e+]+ [^ ]+' <<<"$out"
    if ((rc != 0)); then echo "bench.sh: $name failed (exit $rc)" >&2; status=1; fi
  done <"$list"
done
exit $status
