#!/usr/bin/env bash
# Start-up and one-offs, each a median:
#   start            ms from exec of `hako server` (no apps, a fresh
#                    HAKO_HOME each time) until the router, the API and SSH
#                    all answer, of RUNS starts;
#   run              ms of `hako run -a APP -- true`, RUNS of them on one
#                    server that has settled (started with --warm-go=false:
#                    see run-warming);
#   run-warming      the same on a server of default flags in its first
#                    seconds, while it compiles the Go standard library in
#                    the background (--warm-go);
#   startN           ms from exec of `hako server` until all three answer,
#                    on a HAKO_HOME of N apps of testdata/apps/go-app, each
#                    with a web dyno to restore (START_APPS, default 20; 0
#                    skips this), of START_ROUNDS restarts (default 3);
#   startN-serving   ms from the same exec until every one of the N apps
#                    answers 200 through the router.
# Prints "NAME MS" lines (for bench/compare.sh).
#   bench/startup.sh [RUNS]
. "$(dirname "$0")/lib.sh"
RUNS=${1:-7}
NAPPS=${START_APPS:-20}
ROUNDS=${START_ROUNDS:-3}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
if [ -n "${HAKO_BIN:-}" ]; then HAKO=$HAKO_BIN; else (cd "$ROOT" && go build -o "$T/hako" .) || fail "go build"; HAKO=$T/hako; fi
# start_ms [APPS]: start a server on HAKO_HOME and free ports SSHP, HTTPP,
# APIP (with SUBNET, and the flags in FLAGS), print the ms from its exec
# until the router and the API answer HTTP and SSH sends its banner (one
# prober, polling every millisecond), and leave it running as $pid. With
# APPS (names, comma-separated), print a second figure: the ms until each
# of them answers 200 through the router.
start_ms() {
  # shellcheck disable=SC2086
  python3 - "$HAKO" "$SSHP" "$HTTPP" "$APIP" "$T/server.log" "$T/pid" "$SUBNET" "${1:-}" ${FLAGS:-} <<'PY'
import socket, subprocess, sys, time
hako, sshp, httpp, apip, log, pidfile, subnet, apps = sys.argv[1:9]
flags = sys.argv[9:]
apps = [a for a in apps.split(",") if a]
def answers(port, send, want):
    try:
        s = socket.create_connection(("127.0.0.1", int(port)), timeout=1)
        s.settimeout(1)
        if send:
            s.sendall(send)
        ok = s.recv(16).startswith(want)
        s.close()
        return ok
    except OSError:
        return False
def get(host):
    return b"GET / HTTP/1.1\r\nHost: " + host.encode() + b"\r\nConnection: close\r\n\r\n"
t0 = time.monotonic()
p = subprocess.Popen([hako, "server", "--dyno-subnet", subnet,
    "--ssh-addr", "127.0.0.1:" + sshp, "--http-addr", "127.0.0.1:" + httpp, "--api-addr", "127.0.0.1:" + apip,
    "--https-addr", "127.0.0.1:0", "--rendezvous-addr", "127.0.0.1:0"] + flags,
    stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
open(pidfile, "w").write(str(p.pid))
todo = [(httpp, get("x"), b"HTTP/"), (apip, get("x"), b"HTTP/"), (sshp, None, b"SSH-")]
while todo and time.monotonic() - t0 < 20:
    todo = [t for t in todo if not answers(*t)]
    if todo:
        if p.poll() is not None:
            sys.exit(3)  # it could not start (a port taken meanwhile?)
        time.sleep(0.001)
if todo:
    sys.exit(1)
print(round((time.monotonic() - t0) * 1000))
if apps:
    # One prober per app, each trying every 10 ms: one after the other, a
    # round of 20 requests took longer than that under load, and probing
    # more often loads the router the figure measures.
    import threading
    served = {}
    def serving(app):
        while time.monotonic() - t0 < 60:
            if answers(httpp, get(app + ".localhost"), b"HTTP/1.1 200"):
                served[app] = time.monotonic()
                return
            time.sleep(0.01)
    threads = [threading.Thread(target=serving, args=(a,)) for a in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if len(served) < len(apps):
        sys.exit(1)
    print(round((max(served.values()) - t0) * 1000))
PY
}
# start [APPS]: start_ms on free ports picked just before (SSHP, HTTPP,
# APIP), its figures in $T/figures; a server that exits at once, as when
# another connection took one of its ports as its local port meanwhile,
# is tried again on others.
start() {
  local try rc
  for try in 1 2 3; do
    SSHP=$(port); HTTPP=$(port); APIP=$(port)
    start_ms "$@" >"$T/figures"
    rc=$?
    [ "$rc" -eq 3 ] || break
  done
  pid=$(cat "$T/pid")
  return "$rc"
}
# stop_started: stop the server start_ms left running, and wait for it.
stop_started() {
  kill -INT "$pid"; for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done; pid=
}
# A dyno subnet of its own, so that dynos get network namespaces even when
# another hako server runs on this machine.
SUBNET="10.$((100 + RANDOM % 100)).0.0/16"
starts=()
for i in $(seq 1 "$RUNS"); do
  export HAKO_HOME=$T/home-$i
  start || fail "server did not start"
  starts+=("$(cat "$T/figures")")
  stop_started
done
echo "start $(median "${starts[@]}")"

ssh-keygen -q -t ed25519 -N '' -f "$T/key"
export GIT_SSH_COMMAND="ssh -i $T/key -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
repo "$T/oneoff" procfile-app
# oneoffs NAME: a new server of FLAGS, the Procfile app pushed to it, the
# median of RUNS one-offs printed as NAME MS; the server is stopped.
oneoffs() {
  export HAKO_HOME=$T/home-$1
  start || fail "server did not start"
  "$HAKO" apps:create oneoff >/dev/null || fail "apps:create"
  "$HAKO" keys:add "$T/key.pub" >/dev/null || fail "keys:add"
  git -C "$T/oneoff" push -q "ssh://git@127.0.0.1:$SSHP/oneoff.git" main >"$T/push.log" 2>&1 || { cat "$T/push.log"; fail "push"; }
  "$HAKO" run -a oneoff -- true >/dev/null 2>&1 # the first pays for the unpack
  local runs=()
  for _ in $(seq 1 "$RUNS"); do
    local t0
    t0=$(date +%s%N)
    "$HAKO" run -a oneoff -- true >/dev/null 2>&1 || fail "hako run"
    runs+=($((($(date +%s%N) - t0) / 1000000)))
  done
  echo "$1 $(median "${runs[@]}")"
  stop_started
}
FLAGS=--warm-go=false oneoffs run
oneoffs run-warming

[ "$NAPPS" -gt 0 ] || exit 0
# N apps of the Go app, each pushed (one web dyno up), then the server
# stops and starts again ROUNDS times on the same HAKO_HOME.
export HAKO_HOME=$T/home-apps
start || fail "server did not start"
"$HAKO" keys:add "$T/key.pub" >/dev/null || fail "keys:add"
repo "$T/goapp" go-app
apps=()
for i in $(seq 1 "$NAPPS"); do
  "$HAKO" apps:create "restore$i" >/dev/null || fail "apps:create"
  git -C "$T/goapp" push -q "ssh://git@127.0.0.1:$SSHP/restore$i.git" main >"$T/push.log" 2>&1 || { cat "$T/push.log"; fail "push"; }
  apps+=("restore$i")
done
stop_started
list=$(IFS=,; echo "${apps[*]}")
up=() serving=()
for _ in $(seq 1 "$ROUNDS"); do
  start "$list" || fail "server did not start or an app did not answer 200"
  up+=("$(sed -n 1p "$T/figures")") serving+=("$(sed -n 2p "$T/figures")")
  stop_started
done
echo "start$NAPPS $(median "${up[@]}")"
echo "start$NAPPS-serving $(median "${serving[@]}")"
