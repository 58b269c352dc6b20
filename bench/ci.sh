#!/usr/bin/env bash
# bench/ci.sh [RUNS]: wall time of `hako ci` for a Procfile app with a
# trivial test (environments.test.scripts.test), cold (a new cache
# directory: the first run on a machine) and warm (the caches of an
# earlier run), against the script a CI job needs without it: start
# `hako server` in the background, wait for it, make and register a key,
# apps:create, git push, poll the app until it answers, run the test in a
# one-off dyno, apps:destroy, stop the server and remove its home. Runs
# alternate, RUNS of each (default 5); medians and the ratio are printed,
# with the part of a warm `hako ci` that is hako's own (everything but the
# build and the test: server start, app set-up, teardown), which must stay
# under 2 s.
. "$(dirname "$0")/lib.sh"
RUNS=${1:-5}

(cd "$ROOT" && go build -o "$T/hako" .) || fail "go build"
HAKO=$T/hako
export HAKO_HOME=$T/no-server # no server.json: hako ci embeds its own
export HAKO_WARM_GO=false     # a Procfile app: neither side compiles Go
unset HAKO_API_URL HAKO_API_TOKEN

app=$T/app
repo "$app" procfile-app
cat >"$app/app.json" <<'EOF'
{"environments": {"test": {"scripts": {"test": "test -f index.html && echo test passed"}}}}
EOF
git -C "$app" add -A && git -C "$app" -c user.email=b@example.test -c user.name=b commit -qm ci || fail "commit"

# ci_run CACHE: one `hako ci --json`; prints "WALL_MS HAKO_MS", HAKO_MS
# being the wall time less the build and the test.
ci_run() {
  local t0 t1 json
  t0=$(now_ms)
  json=$(HAKO_CACHE_DIR=$1 "$HAKO" ci --dir "$app" --json 2>"$T/ci.log") || { cat "$T/ci.log"; fail "hako ci"; }
  t1=$(now_ms)
  python3 -c '
import json, sys
r = json.loads(sys.argv[1]); wall = int(sys.argv[2]); t = r["timings_ms"]
assert r["status"] == "succeeded", r
print(wall, wall - t["build"] - t["test"], t["server_start"], t["app_create"] + t["setup"], t["teardown"])
' "$json" $((t1 - t0))
}

# manual_run N: the script of a CI job without `hako ci`; prints WALL_MS.
manual_run() {
  local n=$1 t0 t1 home=$T/manual-home sshp httpp apip mpid key=$T/manual-key name
  name=bench-ci-$n
  t0=$(now_ms)
  sshp=$(port); httpp=$(port); apip=$(port)
  # Every other port of the server on a free one too (those of this
  # version: --https-addr, --rendezvous-addr, ...).
  local more=()
  for flag in $("$HAKO" server --help 2>/dev/null | grep -o -- '--[a-z-]*-addr' | sort -u); do
    case $flag in --ssh-addr | --http-addr | --api-addr | --dns-addr) ;; *) more+=("$flag" "127.0.0.1:$(port)") ;; esac
  done
  HAKO_HOME=$home setsid "$HAKO" server --dyno-subnet "10.$((100 + RANDOM % 100)).0.0/16" --ssh-addr "127.0.0.1:$sshp" \
    --http-addr "127.0.0.1:$httpp" --api-addr "127.0.0.1:$apip" "${more[@]}" >"$T/manual.log" 2>&1 &
  mpid=$!
  for _ in $(seq 1 3000); do [ -f "$home/server.json" ] && break; sleep 0.01; done
  [ -f "$home/server.json" ] || { cat "$T/manual.log" >&2; fail "manual: server did not start" >&2; }
  rm -f "$key" "$key.pub" && ssh-keygen -q -t ed25519 -N '' -f "$key" || fail "manual: ssh-keygen"
  HAKO_HOME=$home "$HAKO" keys:add "$key.pub" >/dev/null || fail "manual: keys:add"
  HAKO_HOME=$home "$HAKO" apps:create "$name" >/dev/null || fail "manual: apps:create"
  GIT_SSH_COMMAND="ssh -i $key -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR" \
    git -C "$app" push -q "ssh://git@127.0.0.1:$sshp/$name.git" main 2>"$T/push.log" || { cat "$T/push.log"; fail "manual: push"; }
  HTTPP=$httpp wait_200 "$name" || fail "manual: the app never answered"
  HAKO_HOME=$home "$HAKO" run -a "$name" --no-tty -- sh -c 'test -f index.html && echo test passed' >"$T/run.log" 2>&1 || { cat "$T/run.log"; fail "manual: test"; }
  grep -qx 'test passed' "$T/run.log" || fail "manual: the test did not run"
  HAKO_HOME=$home "$HAKO" apps:destroy -a "$name" --confirm "$name" >/dev/null || fail "manual: apps:destroy"
  kill -INT "$mpid"; wait "$mpid" 2>/dev/null
  rm -rf "$home"
  t1=$(now_ms)
  echo $((t1 - t0))
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2] + a[NR/2+1]) / 2)}'; }

: >"$T/cold"; : >"$T/warm"; : >"$T/own"; : >"$T/parts"; : >"$T/manual"
ci_run "$T/cache-warm" >/dev/null # the warm runs' first run
for i in $(seq 1 "$RUNS"); do
  read -r wall _ < <(ci_run "$T/cache-cold-$i") && echo "$wall" >>"$T/cold"
  rm -rf "$T/cache-cold-$i"
  read -r wall own start setup down < <(ci_run "$T/cache-warm")
  echo "$wall" >>"$T/warm"; echo "$own" >>"$T/own"; echo "$start $setup $down" >>"$T/parts"
  manual_run "$i" >>"$T/manual"
done

cold=$(median <"$T/cold"); warm=$(median <"$T/warm"); own=$(median <"$T/own"); manual=$(median <"$T/manual")
echo "hako ci, cold:          ${cold} ms (median of $RUNS)"
echo "hako ci, warm:          ${warm} ms"
echo "  hako's own part:      ${own} ms (server start, app set-up, teardown; limit 2000 ms)"
echo "  server start / set-up / teardown medians: $(cut -d' ' -f1 "$T/parts" | median) / $(cut -d' ' -f2 "$T/parts" | median) / $(cut -d' ' -f3 "$T/parts" | median) ms"
echo "manual CI script:       ${manual} ms"
python3 -c "import sys; m, c, w = map(float, sys.argv[1:]); print(f'ratio manual / hako ci: {m / c:.1f}x cold, {m / w:.1f}x warm')" "$manual" "$cold" "$warm"
[ "$own" -lt 2000 ] || { echo "bench: FAILED: hako's own part of a warm run is ${own} ms, over 2 s"; exit 1; }
