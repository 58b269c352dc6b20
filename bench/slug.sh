#!/usr/bin/env bash
# Pack and unpack a ~100 MB node_modules-like tree with hako's slug code
# and with `tar czf`/`tar xzf`, interleaved on the same tree, and print
# the medians and the ratios (tar's time over hako's).
#   bench/slug.sh [ROUNDS] [MB]
set -eu
cd "$(dirname "$0")/.."
HAKO_BENCH_ROUNDS=${1:-5} HAKO_BENCH_MB=${2:-100} \
  go test ./buildpacks -run '^$' -bench '^BenchmarkSlugVsTar$' -benchtime 1x -count 1 -timeout 20m
