#!/usr/bin/env bash
# Runs a bench script against hako built from BASE (a git revision) and
# from the working tree, ROUNDS times each, alternately (so that a busy
# machine weighs on both alike), and prints the median of each figure
# for both and their ratio (new / base).
#   bench/compare.sh BASE ROUNDS SCRIPT [ARGS...]
#   e.g. bench/compare.sh main 3 bench/go-builds.sh 5
# SCRIPT prints "NAME VALUE" lines (bench/go-builds.sh does).
set -u -o pipefail
[ $# -ge 3 ] || { echo "usage: bench/compare.sh BASE ROUNDS SCRIPT [ARGS...]"; exit 2; }
BASE=$1 ROUNDS=$2 SCRIPT=$3
shift 3
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d /tmp/hako-compare.XXXXXX)
trap 'rm -rf "$W"' EXIT
mkdir "$W/base-src"
git -C "$ROOT" archive "$BASE" | tar -x -C "$W/base-src" || { echo "compare: cannot read $BASE"; exit 1; }
(cd "$W/base-src" && go build -o "$W/hako-base" .) || { echo "compare: cannot build $BASE"; exit 1; }
(cd "$ROOT" && go build -o "$W/hako-new" .) || { echo "compare: cannot build the working tree"; exit 1; }
for r in $(seq 1 "$ROUNDS"); do
  for which in base new; do
    HAKO_BIN=$W/hako-$which "$SCRIPT" "$@" | sed "s/^/$which /" | tee -a "$W/figures" || exit 1
  done
done
echo "median of $ROUNDS rounds: base ($BASE) / new (working tree) / ratio new/base"
awk '
  { v[$1 " " $2] = v[$1 " " $2] " " $3; names[$2] = 1 }
  function median(list,   a, n, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return a[int((n + 1) / 2)]
  }
  END {
    for (name in names) {
      b = median(v["base " name]); n = median(v["new " name])
      printf "%-12s %8d %8d   %.2f\n", name, b, n, (b > 0 ? n / b : 0)
    }
  }' "$W/figures" | sort
