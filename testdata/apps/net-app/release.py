# The release phase: when NET_EXPECT is set ("HOST:PORT=open|closed ..."),
# checks what the phase can reach, and that its DATABASE_URL and
# REDIS_URL answer; fails the release on any surprise.
import os, subprocess, sys
from probe import probe

failed = False
for item in os.environ.get("NET_EXPECT", "").split():
    target, want = item.split("=")
    got = probe(target)
    print("release phase:", target, got, flush=True)
    failed = failed or got != want
if os.environ.get("NET_EXPECT") and os.environ.get("DATABASE_URL"):
    out = subprocess.run(["psql", os.environ["DATABASE_URL"], "-w", "-tAc", "select 6 * 7"], capture_output=True, text=True)
    print("release phase: database", out.stdout.strip() or out.stderr.strip(), flush=True)
    failed = failed or out.stdout.strip() != "42"
if os.environ.get("NET_EXPECT") and os.environ.get("REDIS_URL"):
    out = subprocess.run(["redis-cli", "-u", os.environ["REDIS_URL"], "--no-auth-warning", "ping"], capture_output=True, text=True)
    print("release phase: redis", out.stdout.strip() or out.stderr.strip(), flush=True)
    failed = failed or out.stdout.strip() != "PONG"
sys.exit(3 if failed else 0)
