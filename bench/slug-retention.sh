#!/usr/bin/env bash
# What PUSHES pushes of one app leave on disk: a Procfile app carrying
# 2 MiB of random bytes (so that each slug takes about that much), each
# push a new commit. Prints "NAME VALUE" lines:
#   slug-files   slug archives in HAKO_HOME/slugs
#   slugs-kib    what they take on disk (du), KiB
#   run-kib      what the unpacked slugs take (HAKO_HOME/run), KiB
#   releases     release records of the app
# HAKO_BIN runs another build (a baseline); SERVER_FLAGS adds flags
# (--keep-slugs 5, say).
#   bench/slug-retention.sh [PUSHES]
. "$(dirname "$0")/lib.sh"
PUSHES=${1:-30}
start_server
"$HAKO" apps:create kept >/dev/null || fail "apps:create"
d=$T/kept
repo "$d" procfile-app || fail "repo"
head -c $((2 << 20)) /dev/urandom >"$d/blob.bin"
for i in $(seq 1 "$PUSHES"); do
  echo "push $i" >"$d/index.html"
  git -C "$d" add -A && git -C "$d" -c user.email=b@example.test -c user.name=b commit -qm "push $i" || fail "commit $i"
  git -C "$d" push -q "ssh://git@127.0.0.1:$SSHP/kept.git" main >"$T/push.log" 2>&1 || { cat "$T/push.log"; fail "push $i"; }
done
wait_200 kept || fail "kept never served"
echo "slug-files $(find "$HAKO_HOME/slugs" -maxdepth 1 -name '*.tgz' | wc -l)"
echo "slugs-kib $(du -sk "$HAKO_HOME/slugs" | cut -f1)"
echo "run-kib $(du -sk "$HAKO_HOME/run" | cut -f1)"
echo "releases $("$HAKO" releases -a kept -n 1000 --json | grep -c '"version"')"
