#!/usr/bin/env bash
# What dynos' network namespaces cost, measured in one run against the
# same server with --dyno-network host: requests per second through the
# router to one web dyno (go-app, C keep-alive connections for D), and
# the time of `ps:scale web=1 → web=N` until every dyno is up. Each mode
# runs ROUNDS times, alternating, and the median is kept. Needs root.
#   bench/netns.sh [N] [C] [D] [ROUNDS]   (defaults: 20 16 5s 3; SUBNET=10.219.0.0/24,
#   the dynos' subnet, away from the default that a running server may hold)
. "$(dirname "$0")/lib.sh"
N=${1:-20}
C=${2:-16}
D=${3:-5s}
ROUNDS=${4:-3}
[ "$(id -u)" -eq 0 ] || fail "network namespaces need a root server"
(cd "$ROOT" && go build -o "$T/rps" ./bench/rps) || fail "go build rps"
repo "$T/app" go-app

# one MODE: starts a server with --dyno-network MODE, pushes go-app,
# prints "RPS SCALE_MS", stops the server.
one() {
  export HAKO_HOME=$T/home-$1-$2
  SERVER_FLAGS="--dyno-network $1 --dyno-subnet ${SUBNET:-10.219.0.0/24}" start_server
  "$HAKO" apps:create bench >/dev/null || fail "apps:create"
  git -C "$T/app" push -q "ssh://git@127.0.0.1:$SSHP/bench.git" main >"$T/push.log" 2>&1 || fail "push"
  wait_200 bench || fail "no 200"
  "$T/rps" -url "http://127.0.0.1:$HTTPP/" -host bench.localhost -c "$C" -d 1s >/dev/null || fail "warm-up"
  rps=$("$T/rps" -url "http://127.0.0.1:$HTTPP/" -host bench.localhost -c "$C" -d "$D") || fail "rps"
  t0=$(now_ms)
  "$HAKO" ps:scale web="$N" -a bench >/dev/null || fail "ps:scale"
  until [ "$("$HAKO" ps -a bench --json | grep -c '"state": "up"')" -ge "$N" ]; do sleep 0.01; done
  t1=$(now_ms)
  echo "$rps $((t1 - t0))"
  stop_server
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
: >"$T/host"; : >"$T/isolated"
for r in $(seq 1 "$ROUNDS"); do
  for mode in host isolated; do
    res=$(one "$mode" "$r") || exit 1
    echo "round $r, --dyno-network $mode: $res (requests/s, scale-up ms)"
    echo "$res" >>"$T/$mode"
  done
done
for mode in host isolated; do
  eval "rps_$mode=$(cut -d' ' -f1 "$T/$mode" | median)"
  eval "scale_$mode=$(cut -d' ' -f2 "$T/$mode" | median)"
done
echo "router to one web dyno: host ${rps_host} requests/s, isolated ${rps_isolated} requests/s: $(( (rps_host - rps_isolated) * 100 / rps_host ))% fewer (limit 15%)"
echo "ps:scale web=1 → web=$N: host ${scale_host} ms, isolated ${scale_isolated} ms: $(( (scale_isolated - scale_host) * 100 / scale_host ))% longer (limit 30%)"
