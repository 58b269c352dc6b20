#!/usr/bin/env bash
# Requests that fail while dynos are replaced under load: the env-app at
# web=N (default 2) takes a continuous stream of GET / through the router
# from 4 threads while `ps:restart` runs ROUNDS times (default 5); prints
# the requests sent and those that failed (any status but 200, or no
# answer).
#   bench/restart-load.sh [ROUNDS] [N]
. "$(dirname "$0")/lib.sh"
ROUNDS=${1:-5}
N=${2:-2}
start_server
"$HAKO" apps:create loaded >/dev/null || fail "apps:create"
repo "$T/app" env-app
git -C "$T/app" push -q "ssh://git@127.0.0.1:$SSHP/loaded.git" main >"$T/push.log" 2>&1 || fail "push"
wait_200 loaded || fail "no 200"
"$HAKO" ps:scale web="$N" -a loaded >/dev/null || fail "ps:scale"
python3 - "$HTTPP" "$T/stop" >"$T/load.out" <<'EOF' &
import http.client, os, sys, threading
port, stop = int(sys.argv[1]), sys.argv[2]
total = failed = 0
lock = threading.Lock()
def worker():
    global total, failed
    while not os.path.exists(stop):
        ok = False
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            c.request("GET", "/", headers={"Host": "loaded.localhost"})
            ok = c.getresponse().status == 200
            c.close()
        except Exception:
            pass
        with lock:
            total += 1
            failed += not ok
ts = [threading.Thread(target=worker) for _ in range(4)]
for t in ts: t.start()
for t in ts: t.join()
print(total, failed)
EOF
load=$!
sleep 1
for _ in $(seq 1 "$ROUNDS"); do
  "$HAKO" ps:restart -a loaded >/dev/null || fail "ps:restart"
  sleep 0.5
done
touch "$T/stop"
wait "$load"
read -r total failed <"$T/load.out"
echo "ps:restart x$ROUNDS with web=$N under load: $failed of $total requests failed"
