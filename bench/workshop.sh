#!/usr/bin/env bash
# A class at once: workshop:seed makes N students (default 30), each
# registers an SSH key of their own with their own token, then all push
# the Procfile app to their own app and curl it at the same time. Prints
# the wall time from the first push to the last 200, how many were
# served, the slowest student's time, and the memory of the server and
# everything it runs (its peak RSS, and the RSS of its process tree with
# every student's dyno up).
# Meanwhile the teacher's dashboard (bench/sse-watch.py, logged in with
# the administrator's token) reads the event stream and times each state
# change to its event: every step of every deploy's explain panel and, in
# a second round where every student scales to web=2 at once, every
# dyno's state. It fails if any event came more than 1 s after its change.
#   bench/workshop.sh [N]
. "$(dirname "$0")/lib.sh"
N=${1:-30}
start_server
"$HAKO" workshop:seed --users "$N" --json >"$T/seats.json" || fail "workshop:seed"
python3 - "$T/seats.json" >"$T/seats.txt" <<'PY' || fail "read the sheets"
import json, sys
for s in json.load(open(sys.argv[1])):
    print(s["app"], s["token"])
PY
[ "$(wc -l <"$T/seats.txt")" = "$N" ] || fail "workshop:seed made $(wc -l <"$T/seats.txt") sheets, not $N"
# Each student's key and repository, registered with the student's own
# token (not the administrator's).
while read -r app tok; do
  ssh-keygen -q -t ed25519 -N '' -C "$app" -f "$T/$app.key" </dev/null
  HAKO_API_URL="http://127.0.0.1:$APIP" HAKO_API_TOKEN=$tok "$HAKO" keys:add "$T/$app.key.pub" >/dev/null </dev/null || fail "keys:add as $app"
  repo "$T/$app" procfile-app </dev/null
done <"$T/seats.txt"
sshas() { # APP ARGS...: an SSH command as the student of APP
  local app=$1
  shift
  ssh -i "$T/$app.key" -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -p "$SSHP" git@127.0.0.1 "$@"
}

# The teacher's dashboard, live through both rounds.
python3 "$ROOT/bench/sse-watch.py" "http://127.0.0.1:$APIP/dashboard" "$(cat "$HAKO_HOME/api-token")" "$T/sse.json" 2>"$T/sse.err" &
watcher=$!
sleep 1
kill -0 "$watcher" 2>/dev/null || { cat "$T/sse.err"; fail "the dashboard watcher did not start"; }

student() { # APP: push as the student, then poll until the app answers
  local app=$1 t0
  t0=$(now_ms)
  GIT_SSH_COMMAND="ssh -i $T/$app.key -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR" \
    git -C "$T/$app" push -q "ssh://git@127.0.0.1:$SSHP/$app.git" main >"$T/$app.push.log" 2>&1 || { echo "$app push-failed"; return; }
  wait_200 "$app" && echo "$app $(($(now_ms) - t0))" || echo "$app never-200"
}
t0=$(now_ms)
pids=()
while read -r app _; do student "$app" >"$T/$app.result" </dev/null & pids+=($!); done <"$T/seats.txt"
wait "${pids[@]}" # not the server, also a child of this shell
wall=$(($(now_ms) - t0))
cat "$T"/*.result >"$T/results.txt"
served=$(awk '$2 ~ /^[0-9]+$/' "$T/results.txt" | wc -l)
slowest=$(awk '$2 ~ /^[0-9]+$/ {if ($2 > m) m = $2} END {print m + 0}' "$T/results.txt")
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
tree=$(ps -e -o pid=,ppid=,rss= | awk -v root="$pid" '{p[$1] = $2; r[$1] = $3} END {for (k in p) {x = k; while (x != "" && x != 0 && x != root) x = p[x]; if (x == root) s += r[k]} print s}')

# Everyone scales to web=2 at once: the new dynos' states, live.
t1=$(now_ms)
pids=()
while read -r app _; do sshas "$app" ps:scale web=2 -a "$app" >"$T/$app.scale.log" 2>&1 </dev/null & pids+=($!); done <"$T/seats.txt"
scaled=0
for p in "${pids[@]}"; do wait "$p" && scaled=$((scaled + 1)); done
scale=$(($(now_ms) - t1))
sleep 2
kill -TERM "$watcher"
wait "$watcher" 2>/dev/null
[ -s "$T/sse.json" ] || { cat "$T/sse.err"; fail "the dashboard watcher wrote no figures"; }

printf 'students: %d, served: %d, wall time first push → last 200: %d ms, slowest student: %d ms\n' "$N" "$served" "$wall" "$slowest"
printf 'server peak RSS: %d MiB; server and its process tree (dynos included) now: %d MiB\n' "$((hwm / 1024))" "$((tree / 1024))"
printf 'all scale to web=2 at once: %d of %d in %d ms\n' "$scaled" "$N" "$scale"
python3 - "$T/sse.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for k, label in (("explain_steps", "dashboard, deploy step → event"), ("dyno_states", "dashboard, dyno state → event")):
    s = d[k]
    if s["n"]:
        print("%s: %d events, p50 %d ms, p95 %d ms, max %d ms, %d over 1 s" % (label, s["n"], s["p50_ms"], s["p95_ms"], s["max_ms"], s["over_1s"]))
    else:
        print("%s: none seen" % label)
PY
grep -v -E ' [0-9]+$' "$T/results.txt" && fail "not every student was served"
[ "$scaled" = "$N" ] || fail "only $scaled of $N scaled"
over=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["explain_steps"].get("over_1s",0)+d["dyno_states"].get("over_1s",0))' "$T/sse.json")
[ "$over" = 0 ] || fail "$over dashboard events came more than 1 s after their change"
exit 0
