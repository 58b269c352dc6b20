#!/usr/bin/env bash
# What TLS costs: git push of the Procfile app over SSH and over HTTPS
# (the API's port, the local CA trusted), alternating, each until git
# returns; a GET /apps on a new connection over plain HTTP and over
# HTTPS on the same port (curl); and `heroku run`'s round trip (POST
# /apps/APP/dynos with attach, TLS to the rendezvous, `true`). RUNS of
# each (default 5); prints the medians as "NAME MS" lines.
#   bench/tls.sh [RUNS]
. "$(dirname "$0")/lib.sh"
RUNS=${1:-5}
start_server
CA=$("$HAKO" ca:path) || fail "ca:path"
TOKEN=$(cat "$HAKO_HOME/api-token")
printf '#!/bin/sh\ntest "$1" = get || exit 0\necho username=heroku\necho password=%s\n' "$TOKEN" >"$T/helper" && chmod +x "$T/helper"
"$HAKO" apps:create tlsbench >/dev/null || fail "apps:create"
repo "$T/app" procfile-app
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
commit() { echo "$1" >>"$T/app/index.html" && git -C "$T/app" -c user.email=b@example.test -c user.name=b commit -qam "$1"; }

ssh_ms=() https_ms=()
for i in $(seq 1 "$RUNS"); do
  commit "ssh $i"
  t0=$(now_ms)
  git -C "$T/app" push -q "ssh://git@127.0.0.1:$SSHP/tlsbench.git" main >"$T/push.log" 2>&1 || { cat "$T/push.log"; fail "push over SSH"; }
  ssh_ms+=($(($(now_ms) - t0)))
  commit "https $i"
  t0=$(now_ms)
  env -u GIT_SSL_CAINFO git -C "$T/app" -c http.sslCAInfo="$CA" -c credential.helper= -c credential.helper="$T/helper" \
    push -q "https://127.0.0.1:$APIP/tlsbench.git" main >"$T/push.log" 2>&1 || { cat "$T/push.log"; fail "push over HTTPS"; }
  https_ms+=($(($(now_ms) - t0)))
done
echo "push-ssh $(median "${ssh_ms[@]}")"
echo "push-https $(median "${https_ms[@]}")"

for scheme in http https; do
  ms=()
  for _ in $(seq 1 $((RUNS * 10))); do
    s=$(curl -s -o /dev/null --cacert "$CA" -H "Authorization: Bearer $TOKEN" -w '%{time_total}' "$scheme://127.0.0.1:$APIP/apps") || fail "curl $scheme"
    ms+=("$(awk -v s="$s" 'BEGIN {printf "%.1f", s * 1000}')")
  done
  echo "api-$scheme $(median "${ms[@]}")"
done

# heroku run's round trip, as the CLI makes it (python3's ssl module).
python3 - "$APIP" "$TOKEN" "$CA" "$RUNS" <<'PY'
import json, socket, ssl, sys, time, urllib.request
port, token, ca, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
ctx = ssl.create_default_context(cafile=ca)
times = []
for _ in range(runs * 4):
    t0 = time.monotonic()
    req = urllib.request.Request("https://127.0.0.1:%s/apps/tlsbench/dynos" % port, method="POST",
        data=json.dumps({"command": "true", "attach": True}).encode(),
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    dyno = json.load(urllib.request.urlopen(req, context=ctx))
    host, secret = dyno["attach_url"][len("rendezvous://"):].split("/", 1)
    h, p = host.rsplit(":", 1)
    with ctx.wrap_socket(socket.create_connection((h, int(p))), server_hostname=h) as c:
        c.sendall((secret + "\r\n").encode())
        got = b""
        while True:
            b = c.recv(4096)
            if not b:
                break
            got += b
    if got != b"rendezvous\r\n":
        sys.exit("rendezvous answered %r" % got)
    times.append((time.monotonic() - t0) * 1000)
times.sort()
print("heroku-run-true %d" % times[(len(times) - 1) // 2])
PY
[ $? -eq 0 ] || fail "rendezvous"
