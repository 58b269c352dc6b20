package postgres

import "testing"

func TestHBAForDynos(t *testing.T) {
	base := "# comment\nlocal\tall\tall\tscram-sha-256\nhost\tall\tall\t127.0.0.1/32\tscram-sha-256\n"
	withA := base + "host\tall\tpostgres\t10.213.0.0/16\treject\t# hako: dynos\n" +
		"host\tall\tall\t10.213.0.0/16\tscram-sha-256\t# hako: dynos\n"
	for _, tc := range []struct {
		name, in, subnet, want string
	}{
		{"added after the loopback lines", base, "10.213.0.0/16", withA},
		{"unchanged when already there", withA, "10.213.0.0/16", withA},
		{"replaced for another subnet", withA, "10.99.0.0/24", base +
			"host\tall\tpostgres\t10.99.0.0/24\treject\t# hako: dynos\n" +
			"host\tall\tall\t10.99.0.0/24\tscram-sha-256\t# hako: dynos\n"},
		{"removed without a subnet", withA, "", base},
	} {
		if got := string(hbaForDynos([]byte(tc.in), tc.subnet)); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}
