#!/usr/bin/env python3
"""Watch hako's dashboard as a browser does and time its events.

  sse-watch.py BASE TOKEN OUT

Logs in at BASE (http://127.0.0.1:PORT/dashboard) with TOKEN, reads the
server-sent events and, for each state change an event reports, how long
after the change the event arrived: every step of a deploy's explain
panel (stamped by the server as it happens) and every dyno state (its
since). On SIGTERM it writes the figures as JSON to OUT.
"""
import http.client, json, signal, sys, time, urllib.parse
from datetime import datetime

base, token, out = sys.argv[1], sys.argv[2], sys.argv[3]
u = urllib.parse.urlsplit(base)
start = time.time()

def ts(s):
    # RFC 3339 with up to nanoseconds; Python takes microseconds.
    s = s.replace("Z", "+00:00")
    if "." in s:
        head, rest = s.split(".", 1)
        i = 0
        while i < len(rest) and rest[i].isdigit():
            i += 1
        s = head + "." + rest[:i][:6].ljust(6, "0") + rest[i:]
    return datetime.fromisoformat(s).timestamp()

c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
c.request("POST", u.path + "/login", body=urllib.parse.urlencode({"token": token}),
          headers={"Content-Type": "application/x-www-form-urlencoded"})
r = c.getresponse(); r.read()
cookie = r.getheader("Set-Cookie", "").split(";", 1)[0]
if r.status != 303 or not cookie:
    sys.exit("log-in failed: %d" % r.status)
c = http.client.HTTPConnection(u.hostname, u.port, timeout=None)
c.request("GET", u.path + "/events", headers={"Cookie": cookie, "Accept": "text/event-stream"})
r = c.getresponse()
if r.status != 200:
    sys.exit("events: %d" % r.status)

steps, dynos, seen, counts = [], [], set(), {}

def report(*_):
    def stats(xs):
        xs = sorted(xs)
        if not xs:
            return {"n": 0}
        return {"n": len(xs), "p50_ms": round(xs[len(xs) // 2] * 1000), "p95_ms": round(xs[int(len(xs) * 0.95) - (1 if len(xs) * 0.95 == int(len(xs) * 0.95) else 0)] * 1000),
                "max_ms": round(xs[-1] * 1000), "over_1s": sum(1 for x in xs if x > 1)}
    json.dump({"explain_steps": stats(steps), "dyno_states": stats(dynos), "events": counts}, open(out, "w"))
    sys.exit(0)

signal.signal(signal.SIGTERM, report)
name = None
while True:
    line = r.readline()  # through the chunked encoding
    if not line:
        report()
    now = time.time()
    line = line.decode().rstrip("\n")
    if line.startswith("event: "):
        name = line[7:]
    elif line.startswith("data: ") and name:
        counts[name] = counts.get(name, 0) + 1
        d = json.loads(line[6:])
        if name == "explain":
            for s in d["steps"]:
                k = (d["app"], s["step"], s["time"])
                if k not in seen:
                    seen.add(k)
                    t = ts(s["time"])
                    if t >= start:
                        steps.append(now - t)
        elif name == "app":
            for dy in d["dynos"]:
                k = (d["name"], dy["name"], dy["state"], dy["since"])
                if k not in seen:
                    seen.add(k)
                    t = ts(dy["since"])
                    if t >= start:
                        dynos.append(now - t)
