#!/usr/bin/env bash
# The server's CPU per request through the router: the Go app pushed to a
# hako server, wrk at 32 and at 256 connections for D each (default 5s)
# against the router, and the server process's user and system time over
# the requests served. Prints NAME VALUE lines (rps32, cpu_us32, rps256,
# cpu_us256), so that bench/compare.sh can set two revisions side by side:
#   bench/compare.sh BASE 4 bench/router-cpu.sh
# CPU per request moves less with other work on the machine than req/s.
# Needs wrk.
. "$(dirname "$0")/lib.sh"
D=${1:-5s}
command -v wrk >/dev/null || fail "no wrk: apt-get install -y wrk"
start_server
"$HAKO" apps:create bench >/dev/null || fail "apps:create"
repo "$T/app" go-app
git -C "$T/app" push -q "ssh://git@127.0.0.1:$SSHP/bench.git" main >"$T/push.log" 2>&1 || fail "push"
for _ in $(seq 1 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: bench.localhost' "http://127.0.0.1:$HTTPP/")" = 200 ] && break
  sleep 0.1
done
wrk -t2 -c32 -d2s -H 'Host: bench.localhost' "http://127.0.0.1:$HTTPP/" >/dev/null # warm-up
ticks=$(getconf CLK_TCK)
for c in 32 256; do
  s0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  wrk -t2 -c"$c" -d"$D" -H 'Host: bench.localhost' "http://127.0.0.1:$HTTPP/" >"$T/wrk.out" || fail "wrk"
  s1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  reqs=$(awk '/requests in/ {print $1}' "$T/wrk.out")
  echo "rps$c $(awk '/Requests\/sec/ {print $2}' "$T/wrk.out")"
  echo "cpu_us$c $(python3 -c "print(round(($s1 - $s0) * 1e6 / $ticks / $reqs, 2))")"
done
