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
  # base and new take turns going first, so that neither is always
  # measured right after the other warmed (or slowed) the machine.
  order="base new"
  [ $((r % 2)) = 0 ] && order="new base"
  for which in $order; do
    HAKO_BIN=$W/hako-$which "$SCRIPT" "$@" | sed "s/^/$which /" | tee -a "$W/figures" || exit 1
  done
done
# The machine's speed drifts over minutes: each round's new/base pair is
# a fairer verdict than the ratio of the medians, so both are printed.
echo "median of $ROUNDS rounds: base ($BASE) / new (working tree) / ratio new/base / median of the rounds' new/base pairs"
awk '
  { v[$1 " " $2] = v[$1 " " $2] " " $3; names[$2] = 1; seq[$1, $2, ++cnt[$1 " " $2]] = $3 }
  function median(list,   a, n, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return a[int((n + 1) / 2)]
  }
  END {
    for (name in names) {
      b = median(v["base " name]); n = median(v["new " name])
      pairs = ""
      for (i = 1; i <= cnt["base " name] && i <= cnt["new " name]; i++)
        if (seq["base", name, i] > 0) pairs = pairs " " seq["new", name, i] / seq["base", name, i]
      printf "%-12s %10.2f %10.2f   %.3f   %.3f\n", name, b, n, (b > 0 ? n / b : 0), (pairs != "" ? median(pairs) : 0)
    }
  }' "$W/figures" | sort
