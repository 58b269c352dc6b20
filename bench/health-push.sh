#!/usr/bin/env bash
# The cost of a health-gated deploy: time from `git push` to the first 200
# through the router for the Procfile-only app, without and with an
# app.json startup check (GET / must answer 200 before the router
# switches), RUNS times each (default 5), each run a fresh app. Prints
# each run and the median, in ms.
#   bench/health-push.sh [RUNS]
. "$(dirname "$0")/lib.sh"
RUNS=${1:-5}
start_server
check='{"healthchecks": {"web": [{"type": "startup", "path": "/", "attempts": 3, "wait": 1, "timeout": 5}]}}'
for kind in plain checked; do
  times=()
  for i in $(seq 1 "$RUNS"); do
    app="b-$kind-$i"
    "$HAKO" apps:create "$app" >/dev/null || fail "apps:create $app"
    repo "$T/$app" procfile-app
    if [ "$kind" = checked ]; then
      printf '%s\n' "$check" >"$T/$app/app.json"
      git -C "$T/$app" add -A && git -C "$T/$app" -c user.email=b@example.test -c user.name=b commit -qm check
    fi
    t0=$(now_ms)
    git -C "$T/$app" push -q "ssh://git@127.0.0.1:$SSHP/$app.git" main >"$T/push.log" 2>&1 || { cat "$T/push.log"; fail "push $app"; }
    wait_200 "$app" || fail "$app never answered 200"
    t1=$(now_ms)
    times+=($((t1 - t0)))
  done
  median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  printf '%-8s push → first 200 (ms), runs: %s; median %s\n' "$kind" "${times[*]}" "$median"
done
