#!/bin/sh
# lib/build-std.sh GOCACHE
#
# Compiles the Go standard library into the build cache GOCACHE with the
# settings of bin/compile. hako runs it with no app's files, in a clean
# environment, as an unprivileged user, then makes GOCACHE a read-only
# layer under every app's own build cache, so that no app compiles the
# standard library again and none can change what another's build reads.
set -e
. "$(dirname "$0")/goenv.sh"
export GOCACHE="$1"
export GOMODCACHE="$HOME/go-mod"
go build -trimpath std
