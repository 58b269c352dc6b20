package engine

import (
	"fmt"
	"testing"
)

func TestOneoffNameUnique(t *testing.T) {
	running := map[string]DynoStatus{}
	for i := 0; i < 20000; i++ {
		name := oneoffName("run", running)
		if _, taken := running[name]; taken {
			t.Fatalf("oneoffName gave %s, already running", name)
		}
		running[name] = DynoStatus{}
	}
	// Every four-digit name taken: the next one is longer, never a repeat.
	full := map[string]DynoStatus{}
	for n := 1000; n <= 9999; n++ {
		full[fmt.Sprintf("run.%d", n)] = DynoStatus{}
	}
	if name := oneoffName("run", full); len(name) != len("run.12345") {
		t.Errorf("oneoffName with all four-digit names taken = %s, want a five-digit one", name)
	}
	if name := oneoffName("run", nil); len(name) != len("run.1234") {
		t.Errorf("oneoffName() = %s, want run.NNNN", name)
	}
}
