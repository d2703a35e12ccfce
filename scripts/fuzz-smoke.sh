#!/usr/bin/env bash
# Builds every libFuzzer harness and runs each briefly on its seed corpus, so
# a harness that no longer builds or a crash on the seeds fails the suite.
# Longer campaigns: `make fuzz FUZZ_SECONDS=600`.
set -euo pipefail
build=${1:-build-fuzz}
seconds=${2:-10}
CC=clang cmake -S . -B "$build" -DBW_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
status=0
for src in tests/fuzz/fuzz_*.c; do
  name=$(basename "$src" .c)
  corpus=tests/fuzz/corpus/${name#fuzz_}
  work=$(mktemp -d)
  [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
  if "$build/$name" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 "$work" \
       >"$work.log" 2>&1; then
    echo "fuzz $name: ok ($(grep -o 'Done [0-9]* runs' "$work.log" || echo 'done'))"
  else
    echo "fuzz $name: FAILED"; tail -40 "$work.log"; status=1
  fi
  rm -rf "$work" "$work.log"
done
if [ "$status" = 0 ]; then echo "fuzz: all harnesses passed"; fi
exit $status
