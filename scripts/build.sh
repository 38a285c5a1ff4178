#!/usr/bin/env bash
# Configures and builds the host, aarch64 and fuzz trees (`make build`, `make test`), JOBS jobs per
# tree (default: the number of cores).
#
# The three configures run at once (the aarch64 one fetches Debian's arm64 packages: network time).
# The host tree (ASan + UBSan: Fleet, Studio and their tests, by far the longest) builds in the
# foreground. The aarch64 and fuzz trees build beside it at a lower priority (nice 10): they take the
# CPU the host build leaves idle (its npm install and Linux reference guest downloads, single long
# links) and add little to its time; their output goes to build/<tree>.build.log, shown when one
# fails. docs/performance.md ("Build and test time") has the figures.
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=${JOBS:-$(nproc)}
mkdir -p build

pids=()
for preset in host aarch64 fuzz; do
  cmake --preset "$preset" >build/"$preset".configure.log 2>&1 &
  pids+=($!)
done
status=0
for i in 0 1 2; do
  if ! wait "${pids[$i]}"; then
    preset=$(sed -n "$((i + 1))p" <<<$'host\naarch64\nfuzz')
    echo "build.sh: configuring $preset failed (build/$preset.configure.log):"
    tail -n 40 build/"$preset".configure.log
    status=1
  fi
done
((status == 0)) || exit 1

echo "build.sh: configured in ${SECONDS} s"
(
  start=$SECONDS
  nice -n 10 cmake --build --preset aarch64 -j "$jobs" >build/aarch64.build.log 2>&1 || exit 1
  echo "build.sh: aarch64 built in $((SECONDS - start)) s" >>build/aarch64.build.log
  start=$SECONDS
  nice -n 10 cmake --build --preset fuzz -j "$jobs" --target fuzz_all >build/fuzz.build.log 2>&1 || exit 2
  echo "build.sh: fuzz built in $((SECONDS - start)) s" >>build/fuzz.build.log
) &
side=$!

start=$SECONDS
cmake --build --preset host -j "$jobs" || status=1
echo "build.sh: host built in $((SECONDS - start)) s"

echo "build.sh: waiting for the aarch64 and fuzz builds (build/aarch64.build.log, build/fuzz.build.log)"
wait "$side"
case $? in
  0) tail -qn 1 build/aarch64.build.log build/fuzz.build.log; echo "build.sh: all built in ${SECONDS} s" ;;
  1) echo "build.sh: the aarch64 build failed:"; tail -n 60 build/aarch64.build.log; status=1 ;;
  *) echo "build.sh: the fuzz build failed:"; tail -n 60 build/fuzz.build.log; status=1 ;;
esac
exit $status
