#!/usr/bin/env bash
# Time for `ps:scale web=1 → web=N` until all N web dynos are up, and the
# server's memory per running dyno (its RSS growth from 1 to N dynos,
# divided by N-1), plus the memory of one dyno's init process.
#   bench/scale.sh [N] [APP]   (N: target quantity, default 20;
#                               APP: a testdata app, default go-app)
# Past 100 (a process type's cap) the dynos are spread over apps of 100,
# scaled at the same time.
# The Go app starts in milliseconds, so the figure is hako's own cost
# (namespaces, private root, cgroups, readiness); procfile-app adds
# Python's start-up, which depends on how python3 is installed.
# It ends with NAME VALUE lines (scale_ms, kib_per_dyno, init_pss_kib),
# so that bench/compare.sh can set two revisions side by side:
#   bench/compare.sh BASE 4 bench/scale.sh 50
. "$(dirname "$0")/lib.sh"
N=${1:-20}
APP=${2:-go-app}
APPS=$(( (N + 99) / 100 ))
start_server
repo "$T/app" "$APP"
names=()
for i in $(seq 1 "$APPS"); do
  name=scaler; [ "$i" -gt 1 ] && name=scaler$i
  names+=("$name")
  "$HAKO" apps:create "$name" >/dev/null || fail "apps:create"
  git -C "$T/app" push -q "ssh://git@127.0.0.1:$SSHP/$name.git" main >"$T/push.log" 2>&1 || fail "push"
  wait_200 "$name" || fail "no 200"
done
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
up_count() {
  local n=0 a
  for a in "${names[@]}"; do n=$((n + $("$HAKO" ps -a "$a" --json | grep -c '"state": "up"'))); done
  echo "$n"
}
before=$(rss "$pid")
t0=$(now_ms)
left=$N
scales=()
for a in "${names[@]}"; do
  q=$(( left > 100 ? 100 : left )); left=$((left - q))
  "$HAKO" ps:scale web="$q" -a "$a" >/dev/null &
  scales+=($!)
done
for s in "${scales[@]}"; do wait "$s" || fail "ps:scale"; done
until [ "$(up_count)" -ge "$N" ]; do sleep 0.01; done
t1=$(now_ms)
sleep 1
after=$(rss "$pid")
init=$("$HAKO" ps -a scaler --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["pid"])')
echo "$APP: ps:scale web=1 → web=$N ($APPS app(s)), all up: $((t1 - t0)) ms"
echo "server RSS: ${before} KiB with $APPS dyno(s), ${after} KiB with $N → $(( (after - before) / (N - APPS) )) KiB per dyno"
pss=$(awk '/^Pss:/ {print $2}' "/proc/$init/smaps_rollup" 2>/dev/null)
echo "one dyno's init process: RSS $(rss "$init") KiB, PSS ${pss:-?} KiB (its binary's pages are shared by every dyno; the command's own memory comes on top)"
echo "scale_ms $((t1 - t0))"
echo "kib_per_dyno $(( (after - before) / (N - APPS) ))"
echo "init_pss_kib ${pss:-0}"
