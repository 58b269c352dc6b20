#!/usr/bin/env bash
# Start-up and one-offs: the ms from exec of `hako server` (no apps, a
# fresh HAKO_HOME each time) until the router, the API and SSH all
# answer, median of RUNS starts; then the median ms of RUNS
# `hako run -a APP -- true` on one server. Prints "NAME MS" lines (for
# bench/compare.sh).
#   bench/startup.sh [RUNS]
. "$(dirname "$0")/lib.sh"
RUNS=${1:-7}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
if [ -n "${HAKO_BIN:-}" ]; then HAKO=$HAKO_BIN; else (cd "$ROOT" && go build -o "$T/hako" .) || fail "go build"; HAKO=$T/hako; fi
# start_ms: start a server on HAKO_HOME and the ports SSHP, HTTPP, APIP, print the ms
# from its exec until the router and the API answer HTTP and SSH sends
# its banner (one prober, polling every millisecond), and leave it
# running as $pid.
start_ms() {
  python3 - "$HAKO" "$SSHP" "$HTTPP" "$APIP" "$T/server.log" "$T/pid" <<'PY'
import socket, subprocess, sys, time
hako, sshp, httpp, apip, log, pidfile = sys.argv[1:]
def answers(port, send, want):
    try:
        s = socket.create_connection(("127.0.0.1", int(port)), timeout=1)
        s.settimeout(1)
        if send:
            s.sendall(send)
        ok = s.recv(8).startswith(want)
        s.close()
        return ok
    except OSError:
        return False
get = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
t0 = time.monotonic()
# A subnet of its own, so that dynos get network namespaces even when
# another hako server runs on this machine.
import random
p = subprocess.Popen([hako, "server", "--dyno-subnet", "10.%d.0.0/16" % random.randint(100, 199),
    "--ssh-addr", "127.0.0.1:" + sshp, "--http-addr", "127.0.0.1:" + httpp, "--api-addr", "127.0.0.1:" + apip,
    "--https-addr", "127.0.0.1:0", "--rendezvous-addr", "127.0.0.1:0"],
    stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
open(pidfile, "w").write(str(p.pid))
todo = [(httpp, get, b"HTTP/"), (apip, get, b"HTTP/"), (sshp, None, b"SSH-")]
while todo and time.monotonic() - t0 < 20:
    todo = [t for t in todo if not answers(*t)]
    if todo:
        time.sleep(0.001)
if todo:
    sys.exit(1)
print(round((time.monotonic() - t0) * 1000))
PY
}
starts=()
for i in $(seq 1 "$RUNS"); do
  export HAKO_HOME=$T/home-$i
  SSHP=$(port); HTTPP=$(port); APIP=$(port)
  ms=$(start_ms) || fail "server did not start"
  pid=$(cat "$T/pid")
  starts+=("$ms")
  if [ "$i" -lt "$RUNS" ]; then
    kill -INT "$pid"; for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done; pid=
  fi
done
echo "start $(median "${starts[@]}")"
# One-offs on the last server.
for _ in $(seq 1 100); do [ -f "$HAKO_HOME/server.json" ] && break; sleep 0.05; done
"$HAKO" apps:create oneoff >/dev/null || fail "apps:create"
ssh-keygen -q -t ed25519 -N '' -f "$T/key"
"$HAKO" keys:add "$T/key.pub" >/dev/null || fail "keys:add"
export GIT_SSH_COMMAND="ssh -i $T/key -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
repo "$T/oneoff" procfile-app
git -C "$T/oneoff" push -q "ssh://git@127.0.0.1:$SSHP/oneoff.git" main >"$T/push.log" 2>&1 || { cat "$T/push.log"; fail "push"; }
"$HAKO" run -a oneoff -- true >/dev/null 2>&1 # the first pays for the unpack
runs=()
for _ in $(seq 1 "$RUNS"); do
  t0=$(date +%s%N)
  "$HAKO" run -a oneoff -- true >/dev/null 2>&1 || fail "hako run"
  runs+=($((($(date +%s%N) - t0) / 1000000)))
done
echo "run $(median "${runs[@]}")"
