#!/usr/bin/env bash
# The router against nginx, side by side on one dyno: the go-app pushed to
# a hako server (as root, the dyno in its network namespace), an nginx
# configured as Dokku configures it (upstream keepalive, access log)
# proxying to the same dyno's namespace address and PORT, and the dyno
# itself. wrk runs C connections for D against each of the three, the
# three interleaved, ROUNDS times; medians of req/s, p50 and p99 are
# printed with the ratio hako/nginx and the p99 hako adds over the dyno.
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
"$NGINX" -c "$T/nginx/nginx.conf" -g 'daemon off;' >"$T/nginx/out.log" 2>&1 &
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
echo "name conns req/s p50ms p99ms"
: >"$T/figures"
for c in $CONNS; do
  one warm "http://127.0.0.1:$HTTPP/" "$c" >/dev/null
  for r in $(seq 1 "$ROUNDS"); do
    one hako "http://127.0.0.1:$HTTPP/" "$c"
    one nginx "http://127.0.0.1:$NGP/" "$c"
    one direct "http://$DYNO/" "$c"
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "median of $ROUNDS rounds (req/s, p50 ms, p99 ms):"
awk -v conns="$CONNS" '
  $1 == "warm" { next }
  { k = $1 " " $2; rps[k] = rps[k] " " $3; p50[k] = p50[k] " " $4; p99[k] = p99[k] " " $5; cs[$2] = 1 }
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
      printf "hako/nginx c=%s: %.2fx req/s; p99 added over the dyno: hako %.3f ms, nginx %.3f ms\n", c,
        median(rps["hako " c]) / median(rps["nginx " c]),
        median(p99["hako " c]) - median(p99["direct " c]), median(p99["nginx " c]) - median(p99["direct " c])
    }
  }' "$T/figures"
