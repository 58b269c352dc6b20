package dashboard

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// sparkSeconds is how many seconds a sparkline shows; rateWindow over how
// many the rate is averaged; latencyWindow how far back p50/p95 look.
const (
	sparkSeconds  = 60
	rateWindow    = 5
	latencyWindow = 10 * time.Second
	maxSamples    = 2048
)

// second is one second of an app's router traffic.
type second struct {
	at      int64 // unix second; 0 for none
	n       int
	classes [6]int // 1xx … 5xx by first digit
	dynos   map[string]int
}

// traffic is an app's router traffic, told by its router log lines.
type traffic struct {
	secs    [sparkSeconds]second
	samples []sample // service times, a ring of up to maxSamples
	next    int      // where the next sample goes once the ring is full
	last    int64    // the last second with a request
}

type sample struct {
	at time.Time
	ms int
}

// routerLine is what the dashboard reads of a router log line.
type routerLine struct {
	code, desc, dyno string
	status, service  int
}

// parseRouterLine reads a router line: at=… code=H12 desc="…" method=…
// dyno=web.1 connect=0ms service=12ms status=200 …. It walks the line
// key by key, skipping quoted values whole, so that a path such as
// "/x dyno=web.9" cannot pass for a field.
func parseRouterLine(text string) routerLine {
	var l routerLine
	for text != "" {
		key, rest, ok := strings.Cut(text, "=")
		if !ok {
			break
		}
		var val string
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				break
			}
			val, rest = q, rest[len(q):]
			if u, err := strconv.Unquote(q); err == nil {
				val = u
			}
		} else if i := strings.IndexByte(rest, ' '); i >= 0 {
			val, rest = rest[:i], rest[i:]
		} else {
			val, rest = rest, ""
		}
		text = strings.TrimLeft(rest, " ")
		switch key {
		case "code":
			l.code = val
		case "desc":
			l.desc = val
		case "dyno":
			l.dyno = val
		case "status":
			l.status, _ = strconv.Atoi(val)
		case "service":
			l.service, _ = strconv.Atoi(strings.TrimSuffix(val, "ms"))
		}
	}
	return l
}

// add counts one request at t.
func (tr *traffic) add(l routerLine, t time.Time) {
	sec := t.Unix()
	b := &tr.secs[sec%sparkSeconds]
	if b.at != sec {
		*b = second{at: sec}
	}
	b.n++
	if c := l.status / 100; c >= 1 && c <= 5 {
		b.classes[c]++
	}
	if l.dyno != "" {
		if b.dynos == nil {
			b.dynos = map[string]int{}
		}
		b.dynos[l.dyno]++
	}
	tr.last = sec
	if l.code == "" || l.service > 0 {
		// A ring: a busy app adds thousands a second.
		if len(tr.samples) < maxSamples {
			tr.samples = append(tr.samples, sample{at: t, ms: l.service})
		} else {
			tr.samples[tr.next] = sample{at: t, ms: l.service}
			tr.next = (tr.next + 1) % maxSamples
		}
	}
}

// TrafficView is an app's traffic as the page draws it.
type TrafficView struct {
	App     string             `json:"app"`
	RPS     float64            `json:"rps"`
	Dynos   map[string]float64 `json:"dynos"`
	Classes map[string]int     `json:"classes"` // "2xx": count over the rate window
	P50     int                `json:"p50_ms"`
	P95     int                `json:"p95_ms"`
	Spark   []int              `json:"spark"` // requests per second, oldest first
}

// view sums the traffic up to now (the seconds before it; now's own is
// still counting).
func (tr *traffic) view(app string, now time.Time) TrafficView {
	v := TrafficView{App: app, Dynos: map[string]float64{}, Classes: map[string]int{}, Spark: make([]int, sparkSeconds)}
	cur := now.Unix()
	for i := 0; i < sparkSeconds; i++ {
		sec := cur - sparkSeconds + int64(i)
		b := &tr.secs[sec%sparkSeconds]
		if b.at != sec {
			continue
		}
		v.Spark[i] = b.n
		if sec >= cur-rateWindow {
			v.RPS += float64(b.n) / rateWindow
			for c := 1; c <= 5; c++ {
				if b.classes[c] > 0 {
					v.Classes[strconv.Itoa(c)+"xx"] += b.classes[c]
				}
			}
			for d, n := range b.dynos {
				v.Dynos[d] += float64(n) / rateWindow
			}
		}
	}
	var ms []int
	for _, s := range tr.samples {
		if now.Sub(s.at) <= latencyWindow {
			ms = append(ms, s.ms)
		}
	}
	if len(ms) > 0 {
		slices.Sort(ms)
		v.P50 = ms[(len(ms)-1)*50/100]
		v.P95 = ms[(len(ms)-1)*95/100]
	}
	return v
}

// idle reports whether the app has had no request for a sparkline's span.
func (tr *traffic) idle(now time.Time) bool { return now.Unix()-tr.last > sparkSeconds }
