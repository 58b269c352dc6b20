#!/usr/bin/env bash
# Pack and unpack a ~100 MB node_modules-like tree with hako's slug code
# and with `tar czf`/`tar xzf`, interleaved on the same tree, and print
# the medians and the ratios (tar's time over hako's).
#   bench/slug.sh [ROUNDS] [MB]
# HAKO_BENCH_PRIORITY=1 runs it in a session of its own whose scheduling
# group comes first (as root: `echo -20 > /proc/self/autogroup`), so
# that other work on a busy machine weighs less on both sides.
set -eu
cd "$(dirname "$0")/.."
run=(env HAKO_BENCH_ROUNDS="${1:-5}" HAKO_BENCH_MB="${2:-100}"
  go test ./buildpacks -run '^$' -bench '^BenchmarkSlugVsTar$' -benchtime 1x -count 1 -timeout 20m)
if [ "${HAKO_BENCH_PRIORITY:-}" = 1 ]; then
  exec setsid --wait sh -c 'echo -20 > /proc/self/autogroup && exec "$@"' sh "${run[@]}"
fi
exec "${run[@]}"
