package cmd

import "testing"

func TestBudgets(t *testing.T) {
	cases := []struct {
		files       uint64
		router, ssh int
		want        connBudget
	}{
		{20000, 0, 0, connBudget{Router: 6988, API: 1250, SSH: 625}},
		{1024, 0, 0, connBudget{Router: 64, API: 64, SSH: 32}},
		{1 << 20, 0, 0, connBudget{Router: maxRouterConns, API: 4096, SSH: 1024}},
		{20000, 500, 0, connBudget{Router: 500, API: 1250, SSH: 625}},
		{20000, 0, 100, connBudget{Router: 8563, API: 1250, SSH: 100}},
	}
	for _, c := range cases {
		got := budgets(c.files, c.router, c.ssh)
		if got != c.want {
			t.Errorf("budgets(%d, %d, %d) = %+v, want %+v", c.files, c.router, c.ssh, got, c.want)
		}
		if c.router == 0 && c.ssh == 0 && c.files > 4096 {
			// Every connection at once, two descriptors a router one,
			// still leaves the reserve.
			if used := 2*got.Router + got.API + filesPerSSH*got.SSH; uint64(used+reservedFiles) > c.files {
				t.Errorf("budgets(%d) uses %d descriptors, leaving less than %d", c.files, used, reservedFiles)
			}
		}
	}
}
