#!/usr/bin/env bash
# The router against nginx, side by side on one dyno: the go-app pushed to
# a hako server (as root, the dyno in its network namespace), an nginx
# configured as Dokku configures it (upstream keepalive, access log)
# proxying to the same dyno's namespace address and PORT, and the dyno
# itself. wrk runs C connections for D against each of the three, the
# three interleaved, ROUNDS times; medians of req/s, p50 and p99 are
# printed with the ratio hako/nginx and the p99 hako adds over the dyno.
# That p99 is wrk's at saturation, where the three queue differently; a
# second phase measures latency below saturation: bench/latency sends
# requests on LAT_CONNS keep-alive connections (32) at fixed rates, open
# loop (Poisson arrivals, latency from each request's arrival, so waits
# for a busy connection count), against the three interleaved, ROUNDS
# times for D each, and prints the medians of p50, p99 and p99.9 and the
# p99 the router and nginx add over the dyno. LAT_RATES lists the rates,
# in req/s or as a percentage of nginx's highest median req/s of the wrk
# phase (default "25% 50%"); LAT=0 skips the phase, WRK=0 the wrk one
# (then give LAT_RATES in req/s).
#   bench/router.sh [ROUNDS] [D] [CONNS...]   (defaults: 3 5s 32 256)
# Needs root, wrk and nginx (apt-get install -y wrk nginx-light).
. "$(dirname "$0")/lib.sh"
ROUNDS=${1:-3}
D=${2:-5s}
shift 2 2>/dev/null || shift $#
CONNS=${*:-32 256}
[ "$(id -u)" -eq 0 ] || fail "run as root: dynos get network namespaces only then"
command -v wrk >/dev/null || fail "no wrk: apt-get install -y wrk"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || fail "no nginx: apt-get install -y nginx-light"
LAT=${LAT:-1}
WRK=${WRK:-1}
LAT_CONNS=${LAT_CONNS:-32}
LAT_RATES=${LAT_RATES:-25% 50%}
case $WRK$LAT_RATES in 0*%*) fail "WRK=0: give LAT_RATES in req/s, not as a percentage of nginx's" ;; esac
if [ "$LAT" != 0 ]; then
  (cd "$ROOT" && go build -o "$T/latency" ./bench/latency) || fail "go build ./bench/latency"
fi

start_server
"$HAKO" apps:create bench >/dev/null || fail "apps:create"
repo "$T/app" go-app
git -C "$T/app" push -q "ssh://git@127.0.0.1:$SSHP/bench.git" main >"$T/push.log" 2>&1 || fail "push"
wait_200 bench || fail "no 200"

# The dyno's address, as the router dials it: its namespace's eth0
# address (127.0.0.1 when dynos share the host's network) and its PORT.
read -r DPID DPORT < <("$HAKO" ps -a bench --json | python3 -c '
import json, sys
d = [x for x in json.load(sys.stdin) if x.get("type") == "web"][0]
print(d["pid"], d["port"])') || fail "ps --json"
DIP=$(nsenter -t "$DPID" -n ip -4 -o addr show dev eth0 2>/dev/null | awk '{split($4, a, "/"); print a[1]}')
DIP=${DIP:-127.0.0.1}
DYNO=$DIP:$DPORT

# nginx as Dokku generates it for an app (nginx.conf.sigil): an upstream
# with keepalive, HTTP/1.1 to it, the forwarded headers, an access log.
NGP=$(port)
mkdir -p "$T/nginx"
cat >"$T/nginx/nginx.conf" <<EOF
user root;
worker_processes auto;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log;
events { worker_connections 4096; }
http {
  client_body_temp_path $T/nginx/body;
  proxy_temp_path $T/nginx/proxy;
  fastcgi_temp_path $T/nginx/fastcgi;
  uwsgi_temp_path $T/nginx/uwsgi;
  scgi_temp_path $T/nginx/scgi;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 65;
  keepalive_requests 100000;
  access_log $T/nginx/access.log;
  upstream bench-5000 { server $DYNO; keepalive 256; }
  server {
    listen 127.0.0.1:$NGP;
    server_name bench.localhost;
    location / {
      proxy_pass http://bench-5000;
      proxy_http_version 1.1;
      proxy_read_timeout 60s;
      proxy_buffer_size 4k;
      proxy_buffering on;
      proxy_buffers 8 4k;
      proxy_busy_buffers_size 8k;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection "";
      proxy_set_header Host \$http_host;
      proxy_set_header X-Forwarded-For \$remote_addr;
      proxy_set_header X-Forwarded-Port \$server_port;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header X-Request-Start \$msec;
    }
  }
}
EOF
# (a session of its own, as the server's, for BENCH_PRIO below)
setsid "$NGINX" -c "$T/nginx/nginx.conf" -g 'daemon off;' >"$T/nginx/out.log" 2>&1 &
ngpid=$!
stop_nginx() { kill "$ngpid" 2>/dev/null; wait "$ngpid" 2>/dev/null; }
trap 'stop_nginx; cleanup' EXIT
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$NGP/" && break; sleep 0.05; done
[ "$(curl -s -H 'Host: bench.localhost' "http://127.0.0.1:$NGP/")" = "hello from go" ] || fail "nginx does not reach the dyno at $DYNO: $(cat "$T/nginx/error.log")"
[ "$(curl -s "http://$DYNO/")" = "hello from go" ] || fail "the dyno does not answer at $DYNO"

# one NAME URL C: a wrk run; appends "NAME C RPS P50 P99" (ms) to figures.
one() {
  wrk -t2 -c"$3" -d"$D" --latency -H 'Host: bench.localhost' "$2" >"$T/wrk.out" 2>&1 || fail "wrk $1: $(cat "$T/wrk.out")"
  awk -v name="$1" -v c="$3" '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
    $1 == "Requests/sec:" { rps = $2 }
    /Non-2xx|Socket errors/ { bad = bad " " $0 }
    END { printf "%s %s %.0f %.3f %.3f%s\n", name, c, rps, p50, p99, (bad != "" ? " #" bad : "") }' "$T/wrk.out" | tee -a "$T/figures"
}

echo "dyno at $DYNO (pid $DPID), hako router :$HTTPP, nginx :$NGP; $ROUNDS rounds of $D; load average $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$WRK" != 0 ] && echo "name conns req/s p50ms p99ms"
: >"$T/figures"
[ "$WRK" = 0 ] && CONNS=
for c in $CONNS; do
  one warm "http://127.0.0.1:$HTTPP/" "$c" >/dev/null
  for r in $(seq 1 "$ROUNDS"); do
    # hako and nginx take turns going first, so that neither is always
    # measured right after the dyno was driven alone.
    if [ $((r % 2)) = 1 ]; then
      one hako "http://127.0.0.1:$HTTPP/" "$c"
      one nginx "http://127.0.0.1:$NGP/" "$c"
    else
      one nginx "http://127.0.0.1:$NGP/" "$c"
      one hako "http://127.0.0.1:$HTTPP/" "$c"
    fi
    one direct "http://$DYNO/" "$c"
  done
done
if [ "$WRK" != 0 ]; then
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "median of $ROUNDS rounds (req/s, p50 ms, p99 ms):"
awk -v conns="$CONNS" '
  $1 == "warm" { next }
  { k = $1 " " $2; rps[k] = rps[k] " " $3; p50[k] = p50[k] " " $4; p99[k] = p99[k] " " $5; cs[$2] = 1 }
  # Each round'"'"'s hako run against the nginx run next to it: a slow
  # spell of the machine weighs on both of a pair.
  $1 == "hako" { h[$2, ++nh[$2]] = $3 }
  $1 == "nginx" { g[$2, ++ng[$2]] = $3 }
  function median(list,   a, n, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return a[int((n + 1) / 2)]
  }
  END {
    nc = split(conns, order, " ")
    for (o = 1; o <= nc; o++) {
      c = order[o]
      for (i = 1; i <= 3; i++) {
        n = (i == 1 ? "hako" : i == 2 ? "nginx" : "direct"); k = n " " c
        printf "%-6s c=%-4s %8.0f req/s  p50 %7.3f ms  p99 %7.3f ms\n", n, c, median(rps[k]), median(p50[k]), median(p99[k])
      }
      pairs = ""; below = 0
      for (i = 1; i <= nh[c] && i <= ng[c]; i++) {
        pairs = pairs " " sprintf("%.3f", h[c, i] / g[c, i]); if (h[c, i] < g[c, i]) below++
      }
      printf "hako/nginx c=%s: %.2fx req/s (median of the rounds'"'"' pairs %.2fx, %d of %d below 1); p99 added over the dyno: hako %.3f ms, nginx %.3f ms\n", c,
        median(rps["hako " c]) / median(rps["nginx " c]), median(pairs), below, (nh[c] < ng[c] ? nh[c] : ng[c]),
        median(p99["hako " c]) - median(p99["direct " c]), median(p99["nginx " c]) - median(p99["direct " c])
    }
  }' "$T/figures"
fi

[ "$LAT" = 0 ] && exit 0

# The open-loop phase. Rates given as a percentage are of nginx's
# highest median req/s above.
nginx_max=$(awk '$1 == "nginx" { print $2, $3 }' "$T/figures" | awk '
  { rps[$1] = rps[$1] " " $2 }
  END {
    best = 0
    for (c in rps) {
      n = split(rps[c], a, " ")
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
      m = a[int((n + 1) / 2)] + 0; if (m > best) best = m
    }
    print best
  }')
rates=
for r in $LAT_RATES; do
  case $r in
    *%) rates="$rates $(awk -v p="${r%\%}" -v m="$nginx_max" 'BEGIN { printf "%.0f", m * p / 100 }')" ;;
    *) rates="$rates $r" ;;
  esac
done
# BENCH_PRIO=nice or rt: on a machine busy with other work, the measured
# processes (the server and its dynos, nginx and the load generator, each
# in a session of its own) run this phase at nice -20 (each thread, and
# each session's autogroup, as sessions weigh alike whatever their
# threads' nice) or SCHED_FIFO, so that other work weighs less on the
# figures. nice does not keep others from delaying a wake-up by
# milliseconds at load 20 on 2 cores; SCHED_FIFO does, and is kept to
# this phase, which does not saturate the CPUs.
tree() { echo "$1"; for c in $(pgrep -P "$1"); do tree "$c"; done; }
prio= run=()
case ${BENCH_PRIO:-} in
  "") ;;
  nice | rt)
    for p in $(tree "$pid") $(tree "$DPID") $(tree "$ngpid"); do
      if [ "$BENCH_PRIO" = rt ]; then
        chrt -a -f -p 10 "$p" || fail "chrt $p"
      else
        echo -20 >"/proc/$p/autogroup" || fail "autogroup $p"
        # shellcheck disable=SC2046
        renice -n -20 -p $(ls "/proc/$p/task") >/dev/null || fail "renice $p"
      fi
    done
    # shellcheck disable=SC2016
    case $BENCH_PRIO in
      rt) run=(chrt -f 10) ;;
      nice) run=(setsid -w sh -c 'echo -20 >/proc/self/autogroup && exec nice -n -20 "$0" "$@"') ;;
    esac
    prio=", $BENCH_PRIO priority (BENCH_PRIO)" ;;
  *) fail "BENCH_PRIO=$BENCH_PRIO: want nice or rt" ;;
esac
# lat NAME URL RATE: a bench/latency run; appends its key=value line.
lat() {
  "${run[@]}" "$T/latency" -name "$1" -url "$2" -host bench.localhost -c "$LAT_CONNS" -rate "$3" -d "$D" >>"$T/lat" 2>"$T/lat.err" ||
    echo "bench: $1 at $3 req/s: $(cat "$T/lat.err")" >&2
}
echo
of=
[ "$WRK" != 0 ] && of=" (nginx's highest median: $nginx_max req/s)"
echo "open loop, $LAT_CONNS connections, Poisson arrivals at${rates} req/s$of; $ROUNDS rounds of $D$prio; load average $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$T/lat"
targets=("hako http://127.0.0.1:$HTTPP/" "nginx http://127.0.0.1:$NGP/" "direct http://$DYNO/")
for r in $(seq 1 "$ROUNDS"); do
  for rate in $rates; do
    # Each round starts with the next of the three, so none is always
    # measured first.
    for k in 0 1 2; do
      read -r n u <<<"${targets[$(((k + r) % 3))]}"
      lat "$n" "$u" "$rate"
      tail -1 "$T/lat"
    done
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "median of $ROUNDS rounds (ms from each request's arrival; achieved req/s):"
awk -v rates="$rates" '
  {
    delete f
    for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    k = f["name"] " " f["rate"]
    p50[k] = p50[k] " " f["p50"]; p99[k] = p99[k] " " f["p99"]; p999[k] = p999[k] " " f["p99.9"]
    got[k] = got[k] " " f["achieved"]; bad[k] += f["errors"] + f["unsent"]
  }
  # inf (requests left unsent) sorts last.
  function val(v) { return v == "inf" ? 1e300 : v + 0 }
  function median(list,   a, n, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (val(a[j]) < val(a[i])) { t = a[i]; a[i] = a[j]; a[j] = t }
    return a[int((n + 1) / 2)]
  }
  function diff(a, b) { return (a == "inf" || b == "inf") ? "inf" : sprintf("%.3f", a - b) }
  END {
    nr = split(rates, order, " ")
    for (o = 1; o <= nr; o++) {
      r = order[o]
      for (i = 1; i <= 3; i++) {
        n = (i == 1 ? "hako" : i == 2 ? "nginx" : "direct"); k = n " " r
        printf "%-6s %6s req/s (got %7.0f)  p50 %7s ms  p99 %7s ms  p99.9 %7s ms%s\n", n, r, median(got[k]),
          median(p50[k]), median(p99[k]), median(p999[k]), (bad[k] ? "  # " bad[k] " failed or unsent" : "")
      }
      printf "p99 added over the dyno at %s req/s: hako %s ms, nginx %s ms\n", r,
        diff(median(p99["hako " r]), median(p99["direct " r])), diff(median(p99["nginx " r]), median(p99["direct " r]))
    }
  }' "$T/lat"
