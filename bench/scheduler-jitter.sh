#!/usr/bin/env bash
# Scheduler jitter: how late each run of an `@every 1s` job starts against
# its planned time (the whole second the schedule names), over RUNS runs
# (default 100): when the run's dyno is logged as starting, and when its
# process is up. Prints p50, p99 and max in ms.
#   bench/scheduler-jitter.sh [RUNS]
. "$(dirname "$0")/lib.sh"
RUNS=${1:-100}
start_server
app=b-jitter
"$HAKO" apps:create "$app" >/dev/null || fail "apps:create"
repo "$T/$app" procfile-app
git -C "$T/$app" push -q "ssh://git@127.0.0.1:$SSHP/$app.git" main >"$T/push.log" 2>&1 || { cat "$T/push.log"; fail "push"; }
"$HAKO" scheduler:add -a "$app" --schedule "@every 1s" -- true >/dev/null || fail "scheduler:add"
# The log keeps 1500 lines per app, 4 per run: read it as it goes.
"$HAKO" logs -a "$app" --tail >"$T/logs" 2>&1 &
tail_pid=$!
for _ in $(seq 1 $((RUNS * 3 + 60))); do
  n=$(grep -c 'heroku\[scheduler\.[0-9]*\]: State changed from starting to up' "$T/logs" || true)
  [ "$n" -ge $((RUNS + 3)) ] && break
  sleep 0.5
done
kill "$tail_pid" 2>/dev/null
python3 - "$T/logs" "$RUNS" <<'PY'
import re, sys, datetime
runs = int(sys.argv[2])
start, up = {}, {}
for line in open(sys.argv[1]):
    m = re.match(r'(\S+) heroku\[(scheduler\.\d+)\]: (Starting process with command|State changed from starting to up)', line)
    if not m:
        continue
    t = datetime.datetime.fromisoformat(m.group(1))
    (start if m.group(3).startswith("Starting") else up)[m.group(2)] = t
def late(t):
    return (t - t.replace(microsecond=0)).total_seconds() * 1000
names = [n for n in start if n in up][1:runs + 1]  # the first run may be the add's
if len(names) < runs:
    sys.exit("bench: FAILED: only %d runs" % len(names))
for what, d in (("dyno starting", start), ("process up", up)):
    v = sorted(late(d[n]) for n in names)
    print("scheduler jitter, %-13s over %d runs: p50 %.1f ms, p99 %.1f ms, max %.1f ms" % (what, len(v), v[len(v) // 2], v[int(len(v) * 0.99) - 1], v[-1]))
PY
