//go:build !unix

package cmd

// raiseFileLimit returns a modest limit where there is no RLIMIT_NOFILE.
func raiseFileLimit() (uint64, error) { return 8192, nil }
