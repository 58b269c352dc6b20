# Shared by the bench scripts: build hako, start it on free ports with a
# fresh HAKO_HOME and a registered key, and stop it (and its dynos) on exit.
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d /tmp/hako-bench.XXXXXX)
export HAKO_HOME=$T/home
pid=
# stop_server stops the server started last, and its dynos.
stop_server() {
  if [ -n "$pid" ]; then kill -INT "$pid" 2>/dev/null; for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done; kill -KILL -- "-$pid" 2>/dev/null; fi
  pid=
}
cleanup() {
  stop_server
  [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "bench: FAILED: $*"; tail -20 "$T/server.log" 2>/dev/null; exit 1; }
# port: a free port; BENCH_PORTS=LO-HI takes it from that range instead,
# each call the next free one after the last given.
port() {
  python3 - "$T/.lastport" <<'PY'
import os, socket, sys
rng = os.environ.get("BENCH_PORTS", "")
if not rng:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); sys.exit(0)
lo, _, hi = rng.partition("-"); lo, hi = int(lo), int(hi or lo)
try:
    last = int(open(sys.argv[1]).read())
except (OSError, ValueError):
    last = lo - 1
for i in range(hi - lo + 1):
    p = lo + (last + 1 - lo + i) % (hi - lo + 1)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    open(sys.argv[1], "w").write(str(p)); print(p); sys.exit(0)
sys.exit("no free port in " + rng)
PY
}
now_ms() { date +%s%3N; }

start_server() {
  SSHP=$(port); HTTPP=$(port); APIP=$(port)
  # HAKO_BIN runs a hako built elsewhere (bench/compare.sh: a baseline).
  if [ -n "${HAKO_BIN:-}" ]; then
    HAKO=$HAKO_BIN
  else
    (cd "$ROOT" && go build -o "$T/hako" .) || fail "go build"
    HAKO=$T/hako
  fi
  # A dyno subnet of its own, so that dynos get network namespaces even
  # when another hako server runs on this machine.
  local subnet=()
  # (grep reads all: an early exit would fail the pipe under pipefail)
  "$HAKO" server --help 2>/dev/null | grep -c -- '--dyno-subnet' >/dev/null && subnet=(--dyno-subnet "10.$((100 + RANDOM % 100)).0.0/16")
  # The router's HTTPS side and the rendezvous on free ports too, for
  # revisions that have them.
  local help tlsports=()
  help=$("$HAKO" server --help 2>/dev/null || true)
  case $help in *--https-addr*) tlsports+=(--https-addr "127.0.0.1:$(port)") ;; esac
  case $help in *--rendezvous-addr*) tlsports+=(--rendezvous-addr "127.0.0.1:$(port)") ;; esac
  # SERVER_FLAGS: more flags for the server, split on spaces.
  # shellcheck disable=SC2086
  setsid "$HAKO" server "${subnet[@]}" "${tlsports[@]}" --ssh-addr "127.0.0.1:$SSHP" --http-addr "127.0.0.1:$HTTPP" --api-addr "127.0.0.1:$APIP" ${SERVER_FLAGS:-} >"$T/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do [ -f "$HAKO_HOME/server.json" ] && break; sleep 0.05; done
  [ -f "$HAKO_HOME/server.json" ] || fail "server did not start"
  [ -f "$T/key" ] || ssh-keygen -q -t ed25519 -N '' -f "$T/key"
  "$HAKO" keys:add "$T/key.pub" >/dev/null || fail "keys:add"
  export GIT_SSH_COMMAND="ssh -i $T/key -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
}

# repo DIR APP: a git repository of testdata/apps/APP in DIR.
repo() {
  mkdir -p "$1" && cp -r "$ROOT/testdata/apps/$2/." "$1/"
  git -C "$1" init -q -b main && git -C "$1" add -A && git -C "$1" -c user.email=b@example.test -c user.name=b commit -qm bench
}

# wait_200 APP: poll the router every 10 ms until APP answers 200.
wait_200() {
  for _ in $(seq 1 6000); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $1.localhost" "http://127.0.0.1:$HTTPP/")" = 200 ] && return 0
    sleep 0.01
  done
  return 1
}
