package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestWorkshopSeedSkips: a seed over seats taken goes on past each with
// a line saying why: a student's own app (their token keeps working, no
// new sheet), an app of the student's name owned by someone else (left
// theirs), a user of the student's email who is not a student; the free
// seats get their sheets. After workshop:reset the next seed seats the
// students again.
func TestWorkshopSeedSkips(t *testing.T) {
	s := startServer(t)
	s.hako(t, "apps:create", "student2")
	s.hako(t, "users:add", "student3@hako.local")
	out := s.hako(t, "workshop:seed", "--users", "1")
	token := ""
	for _, l := range lines(out) {
		if v, ok := strings.CutPrefix(l, "Token:    "); ok {
			token = v
		}
	}
	if len(token) != 64 {
		t.Fatalf("first seed:\n%s", out)
	}

	out = s.hako(t, "workshop:seed", "--users", "4")
	for _, want := range []string{
		"Skipped student1@hako.local: The app student1 exists already and is theirs: their sheet and tokens are unchanged.",
		"Skipped student2@hako.local: The app student2 belongs to admin: destroy or rename it to seat student2@hako.local.",
		"Skipped student3@hako.local: student3@hako.local is a user who is not a student: remove them to seat them.",
		"=== student4@hako.local",
	} {
		if !hasLine(out, want) {
			t.Errorf("second seed lacks %q:\n%s", want, out)
		}
	}
	for _, unwanted := range []string{"=== student1@hako.local", "=== student2@hako.local", "=== student3@hako.local"} {
		if hasLine(out, unwanted) {
			t.Errorf("second seed printed %q:\n%s", unwanted, out)
		}
	}
	if out := s.hako(t, "access", "-a", "student2"); !hasLineMatch(out, `admin\s+owner`) || strings.Contains(out, "student2@hako.local") {
		t.Errorf("student2's access after the seed:\n%s", out)
	}
	if out := s.hako(t, "users"); strings.Contains(out, "student2@hako.local") || !hasLineMatch(out, `student3@hako\.local\s+member`) || !hasLineMatch(out, `student4@hako\.local\s+student`) {
		t.Errorf("users after the seed:\n%s", out)
	}
	whoami := exec.Command(bin, "auth:whoami")
	whoami.Env = append(os.Environ(), "HAKO_API_URL=http://127.0.0.1:"+s.apiPort, "HAKO_API_TOKEN="+token, "HAKO_HOME="+t.TempDir())
	if b, err := whoami.CombinedOutput(); err != nil || string(b) != "student1@hako.local\n" {
		t.Errorf("student1's first token after the second seed: %v %q", err, b)
	}

	// After a reset the seats are free again.
	s.hako(t, "workshop:reset", "--confirm", "workshop")
	if out := s.hako(t, "workshop:seed", "--users", "1"); !hasLine(out, "=== student1@hako.local") || strings.Contains(out, "Skipped") {
		t.Errorf("seed after reset:\n%s", out)
	}
}
