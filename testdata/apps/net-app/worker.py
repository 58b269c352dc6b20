# A worker dyno: prints what it reaches of NET_EXPECT's addresses
# ("worker: HOST:PORT open|closed"), then idles.
import os, time
from probe import probe

for item in os.environ.get("NET_EXPECT", "").split():
    target = item.split("=")[0]
    print("worker:", target, probe(target), flush=True)
while True:
    time.sleep(60)
