//go:build !linux

package dyno

import (
	"fmt"
	"os"
)

// InitMain is the init of an isolated dyno. Isolation needs Linux
// namespaces, so elsewhere it only reports that it cannot run; the
// supervisor never starts it there.
func InitMain(args []string) int {
	fmt.Fprintln(os.Stderr, "dyno-init: dyno isolation needs Linux")
	return 126
}
