#!/usr/bin/env bash
# Push-to-200 for a Procfile app carrying a prebuilt 8 MB static Go
# server: "cold" is the first push of a new app, "warm" a second push of
# a changed file to it; each waits until the router serves the new
# release's body. RUNS apps (default 3); prints the medians as
# "NAME MS" lines (for bench/compare.sh) and each push's timing line.
#   bench/push-static.sh [RUNS]
. "$(dirname "$0")/lib.sh"
RUNS=${1:-3}
start_server
mkdir -p "$T/static-src"
cat >"$T/static-src/main.go" <<'GO'
package main

import (
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		b, _ := os.ReadFile("VERSION")
		w.Write(b)
	})
	panic(http.ListenAndServe(":"+os.Getenv("PORT"), nil))
}
GO
printf 'module static\n\ngo 1.22\n' >"$T/static-src/go.mod"
(cd "$T/static-src" && CGO_ENABLED=0 go build -o server .) || fail "build the static server"

# wait_body APP BODY: poll every 5 ms until APP answers BODY.
wait_body() {
  for _ in $(seq 1 12000); do
    [ "$(curl -s -H "Host: $1.localhost" "http://127.0.0.1:$HTTPP/")" = "$2" ] && return 0
    sleep 0.005
  done
  return 1
}
# push_ms APP DIR BODY: push DIR's main and set MS to the ms until BODY
# serves.
push_ms() {
  local t0 t1
  t0=$(now_ms)
  git -C "$2" push -q "ssh://git@127.0.0.1:$SSHP/$1.git" main >"$T/push.log" 2>&1 || { cat "$T/push.log"; "$HAKO" logs -a "$1" | tail; fail "push $1"; }
  wait_body "$1" "$3" || fail "$1 never served $3"
  t1=$(now_ms)
  grep -- '-----> Done in' "$T/push.log" | sed "s/^/# $1: /"
  MS=$((t1 - t0))
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
cold=() warm=()
for i in $(seq 1 "$RUNS"); do
  app=static-$i d=$T/static-$i
  "$HAKO" apps:create "$app" >/dev/null || fail "apps:create $app"
  mkdir -p "$d" && cp "$T/static-src/server" "$d/" && echo 'web: ./server' >"$d/Procfile" && echo "v$i-a" >"$d/VERSION"
  git -C "$d" init -q -b main && git -C "$d" add -A && git -C "$d" -c user.email=b@example.test -c user.name=b commit -qm one
  push_ms "$app" "$d" "v$i-a" && cold+=("$MS")
  echo "v$i-b" >"$d/VERSION"
  git -C "$d" -c user.email=b@example.test -c user.name=b commit -qam two
  push_ms "$app" "$d" "v$i-b" && warm+=("$MS")
done
echo "cold $(median "${cold[@]}")"
echo "warm $(median "${warm[@]}")"
