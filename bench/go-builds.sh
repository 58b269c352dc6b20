#!/usr/bin/env bash
# Push-to-first-200 times of Go apps, in milliseconds, one figure a line
# ("NAME MS"), on a fresh server:
#   go-first    the first Go app: the standard library is compiled then
#   go-new-app  median of RUNS new Go apps' first builds (the standard
#               library comes from the cache, the app's own code not)
#   go-warm     median of RUNS pushes of a new commit to an app already
#               built once (everything but the link comes from its cache)
#   go-warm-up  (a hako with --warm-go) ms from the server's start until
#               its background compile of the standard library is done;
#               go-first then waits for it, as a newcomer would
#   bench/go-builds.sh [RUNS]    (default 5; HAKO_BIN: a hako to run)
. "$(dirname "$0")/lib.sh"
RUNS=${1:-5}
t_start=$(now_ms)
start_server
if "$HAKO" server --help 2>/dev/null | grep -c -- '--warm-go' >/dev/null; then
  for _ in $(seq 1 12000); do
    ls "$HAKO_HOME/cache/_shared/go-std" 2>/dev/null | grep -q . && break
    sleep 0.05
  done
  ls "$HAKO_HOME/cache/_shared/go-std" 2>/dev/null | grep -q . || fail "the Go warm-up did not finish"
  echo "go-warm-up $(($(now_ms) - t_start))"
fi
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# push_time APP DIR: ms from `git push` of DIR to APP until its first 200.
push_time() {
  local t0 t1
  t0=$(now_ms)
  git -C "$2" push -q "ssh://git@127.0.0.1:$SSHP/$1.git" main >"$T/push.log" 2>&1 || { cat "$T/push.log"; fail "push $1"; }
  wait_200 "$1" || fail "$1 never answered 200"
  t1=$(now_ms)
  echo $((t1 - t0))
}
new_app() {
  "$HAKO" apps:create "$1" >/dev/null || fail "apps:create $1"
  repo "$T/$1" go-app
  push_time "$1" "$T/$1"
}
echo "go-first $(new_app g-0)"
times=()
for i in $(seq 1 "$RUNS"); do times+=("$(new_app "g-$i")"); done
echo "go-new-app $(median "${times[@]}")"
times=()
for i in $(seq 1 "$RUNS"); do
  echo "$i" >"$T/g-1/run.txt"
  git -C "$T/g-1" add -A && git -C "$T/g-1" -c user.email=b@example.test -c user.name=b commit -qm "run $i"
  times+=("$(push_time g-1 "$T/g-1")")
done
echo "go-warm $(median "${times[@]}")"
