#!/usr/bin/env bash
# Time from `git push` to the first 200 through the router, for the
# Procfile-only app and the Go app, RUNS times each (default 3). Each run
# pushes a new commit to a fresh app, so every run builds and releases;
# the first Go run starts with an empty build cache.
#   bench/push-to-200.sh [RUNS]
. "$(dirname "$0")/lib.sh"
RUNS=${1:-3}
start_server
for kind in procfile-app go-app; do
  times=()
  for i in $(seq 1 "$RUNS"); do
    app="b-${kind%-app}-$i"
    "$HAKO" apps:create "$app" >/dev/null || fail "apps:create $app"
    repo "$T/$app" "$kind"
    t0=$(now_ms)
    git -C "$T/$app" push -q "ssh://git@127.0.0.1:$SSHP/$app.git" main >"$T/push.log" 2>&1 || { cat "$T/push.log"; fail "push $app"; }
    wait_200 "$app" || fail "$app never answered 200"
    t1=$(now_ms)
    times+=($((t1 - t0)))
  done
  printf '%-14s push → first 200 (ms), runs: %s\n' "$kind" "${times[*]}"
done
