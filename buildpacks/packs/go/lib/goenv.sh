# Sourced by bin/compile and lib/build-std.sh: the settings every Go
# build of hako's Go pack uses. The standard library that hako compiles
# once for all apps (lib/build-std.sh) is only found in the cache by
# builds made with exactly these.
export GOTOOLCHAIN=local
export CGO_ENABLED=0
# Module cache files are read-only by default, which would stop the cache
# from being deleted with the app.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-modcacherw"
