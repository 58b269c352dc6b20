package dashboard

import (
	"strings"
	"testing"
	"time"

	"hako/engine"
)

func TestSessionsBounded(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	ss := sessions{max: 3, perUser: 2, ttl: time.Hour}
	a1, _ := ss.create("a", "", now)
	a2, _ := ss.create("a", "", now.Add(time.Second))
	a3, _ := ss.create("a", "", now.Add(2*time.Second))
	if ss.find(a1, now) != nil {
		t.Error("a user's oldest session outlived their bound")
	}
	if ss.find(a2, now) == nil || ss.find(a3, now) == nil {
		t.Error("a user's newer sessions were lost")
	}
	if b1, _ := ss.create("b", "", now); b1 == "" {
		t.Fatal("a third session refused under the bound of 3")
	}
	if c1, _ := ss.create("c", "", now); c1 != "" {
		t.Error("a session past the overall bound was made")
	}
	if ss.find(a2, now.Add(time.Hour+time.Minute)) != nil {
		t.Error("an expired session was found")
	}
	if c1, _ := ss.create("c", "", now.Add(2*time.Hour)); c1 == "" {
		t.Error("expired sessions were not swept to make room")
	}
	if ss.find("", now) != nil || ss.find("nonsense", now) != nil {
		t.Error("a made-up secret found a session")
	}
}

func TestParseRouterLine(t *testing.T) {
	for _, tc := range []struct {
		text string
		want routerLine
	}{
		{`at=info method=GET path="/" host=a.localhost request_id=x fwd="127.0.0.1" dyno=web.1 connect=0ms service=12ms status=200 bytes=5 protocol=http`,
			routerLine{dyno: "web.1", status: 200, service: 12}},
		{`at=error code=H12 desc="Request timeout" method=GET path="/code=H99 dyno=x" host=a.localhost request_id=x fwd="1" dyno=web.2 connect=1ms service=30000ms status=503 bytes=0 protocol=http`,
			routerLine{code: "H12", desc: "Request timeout", dyno: "web.2", status: 503, service: 30000}},
		{`at=error code=H14 desc="No web processes running" method=GET path="/" host=a.localhost request_id=x fwd="1" dyno= connect= service= status=503 bytes=0 protocol=http`,
			routerLine{code: "H14", desc: "No web processes running", status: 503}},
	} {
		if got := parseRouterLine(tc.text); got != tc.want {
			t.Errorf("parseRouterLine(%s) = %+v, want %+v", tc.text, got, tc.want)
		}
	}
}

func TestTrafficView(t *testing.T) {
	var tr traffic
	now := time.Unix(1_800_000_000, 0)
	for i := 0; i < 10; i++ {
		tr.add(routerLine{dyno: "web.1", status: 200, service: i + 1}, now.Add(-2*time.Second))
	}
	tr.add(routerLine{code: "H12", dyno: "web.2", status: 503, service: 30000}, now.Add(-time.Second))
	v := tr.view("a", now)
	if v.RPS != 11.0/rateWindow || v.Dynos["web.1"] != 10.0/rateWindow || v.Classes["2xx"] != 10 || v.Classes["5xx"] != 1 {
		t.Errorf("view = %+v", v)
	}
	if v.P50 != 6 || v.P95 != 10 {
		t.Errorf("p50, p95 = %d, %d; want 6, 10", v.P50, v.P95)
	}
	if v.Spark[sparkSeconds-2] != 10 || v.Spark[sparkSeconds-1] != 1 {
		t.Errorf("spark ends %v", v.Spark[sparkSeconds-3:])
	}
	if tr.idle(now) || !tr.idle(now.Add(2*time.Minute)) {
		t.Error("idle is wrong")
	}
}

func TestNarrative(t *testing.T) {
	n := &Narrative{App: "a"}
	at := time.Unix(1_800_000_000, 0)
	if n.narrate(engine.StepOutput, "-----> Procfile app detected", at) {
		t.Error("output outside a deploy was narrated")
	}
	for _, s := range [][2]string{
		{engine.StepPush, "1a2b3c4"},
		{engine.StepOutput, "-----> Building on the heroku-24 stack"},
		{engine.StepOutput, "-----> Procfile app detected"},
		{engine.StepOutput, "-----> Discovering process types"},
		{engine.StepOutput, "       Procfile declares types -> web"},
		{engine.StepOutput, "-----> Compressing..."},
		{engine.StepSlug, "2048 0123456789abcdef0123"},
	} {
		n.narrate(s[0], s[1], at)
	}
	n.logLine("app", "api", "Deploy 1a2b3c4 by user a@example.test", at)
	n.logLine("app", "api", "Release v2 created by user a@example.test", at)
	n.logLine("heroku", "web.1", "Starting process with command `x`", at)
	n.logLine("heroku", "web.1", "State changed from starting to up", at)
	n.narrate(engine.StepLive, "v2", at)
	var got []string
	for _, s := range n.Steps {
		got = append(got, s.Step+": "+s.Text)
	}
	want := []string{
		"push: Push received: 1a2b3c4",
		"detect: Detected: Procfile app detected",
		"compile: Compiling: Discovering process types",
		"slug: Slug 2.0 KB, sha256 0123456789ab",
		"release: Release v2 written (pending until it serves)",
		"dynos: Dynos starting: web.1",
		"router: Router switched to v2: the new web dynos take its requests",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("steps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !n.Done || n.narrate(engine.StepLive, "v3", at) {
		t.Error("a release after the deploy changed its narrative")
	}
}
