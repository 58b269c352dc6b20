#!/usr/bin/env bash
# Time for `ps:scale web=1 → web=20` until all 20 web dynos are up, and the
# server's memory per running dyno (its RSS growth from 1 to 20 dynos,
# divided by 19), plus the memory of one dyno's init process.
#   bench/scale.sh [N] [APP]   (N: target quantity, default 20;
#                               APP: a testdata app, default go-app)
# The Go app starts in milliseconds, so the figure is hako's own cost
# (namespaces, private root, cgroups, readiness); procfile-app adds
# Python's start-up, which depends on how python3 is installed.
. "$(dirname "$0")/lib.sh"
N=${1:-20}
APP=${2:-go-app}
start_server
"$HAKO" apps:create scaler >/dev/null || fail "apps:create"
repo "$T/app" "$APP"
git -C "$T/app" push -q "ssh://git@127.0.0.1:$SSHP/scaler.git" main >"$T/push.log" 2>&1 || fail "push"
wait_200 scaler || fail "no 200"
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
up_count() { "$HAKO" ps -a scaler --json | grep -c '"state": "up"'; }
before=$(rss "$pid")
t0=$(now_ms)
"$HAKO" ps:scale web="$N" -a scaler >/dev/null || fail "ps:scale"
until [ "$(up_count)" -ge "$N" ]; do sleep 0.01; done
t1=$(now_ms)
sleep 1
after=$(rss "$pid")
init=$("$HAKO" ps -a scaler --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["pid"])')
echo "$APP: ps:scale web=1 → web=$N, all up: $((t1 - t0)) ms"
echo "server RSS: ${before} KiB with 1 dyno, ${after} KiB with $N → $(( (after - before) / (N - 1) )) KiB per dyno"
pss=$(awk '/^Pss:/ {print $2}' "/proc/$init/smaps_rollup" 2>/dev/null)
echo "one dyno's init process: RSS $(rss "$init") KiB, PSS ${pss:-?} KiB (its binary's pages are shared by every dyno; the command's own memory comes on top)"
