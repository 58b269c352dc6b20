package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// statusView is `hako status --json`.
type statusView struct {
	Version       string         `json:"version"`
	UptimeSeconds int64          `json:"uptime_seconds"`
	Isolation     string         `json:"isolation"`
	AppsCount     int            `json:"apps_count"`
	Dynos         map[string]int `json:"dynos"`
	Home          string         `json:"home"`
	HomeBytes     int64          `json:"home_bytes"`
	Apps          []struct {
		Name     string `json:"name"`
		Repo     int64  `json:"repo_bytes"`
		Slugs    int64  `json:"slugs_bytes"`
		Unpacked int64  `json:"unpacked_bytes"`
		Cache    int64  `json:"cache_bytes"`
		Builds   int64  `json:"builds_bytes"`
		Total    int64  `json:"total_bytes"`
	} `json:"apps"`
	Addons []struct {
		Service   string `json:"service"`
		Name      string `json:"name"`
		State     string `json:"state"`
		DataBytes int64  `json:"data_bytes"`
	} `json:"addon_servers"`
}

// TestStatus checks `hako status`, as JSON, as a table and over SSH: the
// apps, their dynos by state, the disk each takes, the add-on servers.
func TestStatus(t *testing.T) {
	need(t, "python3", "redis-server")
	s := startServer(t)
	s.hako(t, "apps:create", "shown")
	s.hako(t, "apps:create", "bare")
	if out, err := s.push(repo(t, "procfile-app"), s.key, "shown", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	out := s.hako(t, "addons:create", "heroku-redis", "-a", "shown")
	redisName := ""
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 4 && f[0] == "Created" && f[2] == "as" && f[3] == "REDIS_URL" {
			redisName = f[1]
		}
	}
	if redisName == "" {
		t.Fatalf("addons:create heroku-redis:\n%s", out)
	}
	s.waitBody(t, "shown", "hello")

	var st statusView
	if err := json.Unmarshal([]byte(s.hako(t, "status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Version == "" || st.Isolation == "" || st.UptimeSeconds < 0 || st.Home != s.home {
		t.Errorf("status: version %q, isolation %q, uptime %d, home %q", st.Version, st.Isolation, st.UptimeSeconds, st.Home)
	}
	if st.AppsCount != 2 || len(st.Dynos) != 1 || st.Dynos["up"] != 1 {
		t.Errorf("status: %d apps, dynos %v; want 2 apps and 1 up", st.AppsCount, st.Dynos)
	}
	var names []string
	var sum int64
	for _, a := range st.Apps {
		names = append(names, a.Name)
		sum += a.Total
		if a.Total != a.Repo+a.Slugs+a.Unpacked+a.Cache+a.Builds {
			t.Errorf("%s: total %d is not the sum of its parts %+v", a.Name, a.Total, a)
		}
		switch a.Name {
		case "shown":
			if a.Repo <= 0 || a.Slugs <= 0 || a.Unpacked <= 0 || a.Builds <= 0 {
				t.Errorf("deployed app's disk use: %+v, want repo, slugs, unpacked and build output above zero", a)
			}
		case "bare":
			if a.Total != 0 {
				t.Errorf("app never deployed takes %+v, want nothing", a)
			}
		}
	}
	if !slices.Equal(names, []string{"bare", "shown"}) {
		t.Errorf("apps in status: %v", names)
	}
	if st.HomeBytes < sum {
		t.Errorf("HAKO_HOME takes %d bytes, less than its apps' %d", st.HomeBytes, sum)
	}
	if len(st.Addons) != 1 || st.Addons[0].Service != "heroku-redis" || st.Addons[0].Name != redisName || st.Addons[0].State != "running" || st.Addons[0].DataBytes <= 0 {
		t.Errorf("add-on servers: %+v, want %s running with data", st.Addons, redisName)
	}

	human := s.hako(t, "status")
	t.Logf("hako status:\n%s", human)
	lines := strings.Split(human, "\n")
	fields := func(first string) []string {
		for _, l := range lines {
			if f := strings.Fields(l); len(f) > 0 && f[0] == first {
				return f
			}
		}
		t.Errorf("no line starts with %q in status:\n%s", first, human)
		return nil
	}
	for _, want := range [][]string{
		{"Apps:", "2"},
		{"Dynos:", "1", "up"},
		{"bare", "0", "B", "0", "B", "0", "B", "0", "B", "0", "B", "0", "B"},
		{"App", "Repo", "Slugs", "Unpacked", "Build", "cache", "Build", "output", "Total"},
		{"heroku-redis", redisName, "running"},
	} {
		got := fields(want[0])
		if want[0] == "heroku-redis" && len(got) > 3 {
			got = got[:3] // then the data's size
		}
		if !slices.Equal(got, want) {
			t.Errorf("status line %v, want %v:\n%s", got, want, human)
		}
	}
	for _, header := range []string{"=== hako server", "=== Disk use by app", "=== Add-on servers"} {
		if !slices.Contains(lines, header) {
			t.Errorf("status lacks the line %q:\n%s", header, human)
		}
	}
	if out, err := s.ssh(s.key, nil, "status"); err != nil || !slices.Contains(strings.Split(out, "\n"), "=== hako server") {
		t.Errorf("status over SSH: %v\n%s", err, out)
	}
}
