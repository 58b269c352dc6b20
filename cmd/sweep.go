package cmd

import (
	"log"

	"hako/engine"
)

// sweepLeftovers removes, before the server serves anything, what an
// earlier server killed without cleaning up left behind, and says so.
func sweepLeftovers(eng *engine.Engine, logger *log.Logger) {
	swept, err := eng.Sweep()
	if len(swept) > 0 {
		logger.Printf("start: removed %d leftovers of a server that stopped without cleaning up", len(swept))
	}
	if err != nil {
		logger.Printf("start: removing leftovers: %v", err)
	}
}
