package engine

import (
	"fmt"
	"math/rand/v2"
)

var (
	nameAdjectives = []string{"ancient", "bright", "calm", "crisp", "daring", "eager", "fancy", "gentle", "glad", "golden", "hidden", "jolly", "keen", "lively", "lucky", "mellow", "misty", "noble", "polar", "quiet", "rapid", "shy", "silent", "sunny", "swift", "tidy", "vast", "warm", "wild", "young"}
	nameNouns      = []string{"anchor", "badger", "brook", "canyon", "cedar", "comet", "coral", "dawn", "delta", "ember", "falcon", "fern", "forest", "harbor", "island", "lake", "meadow", "mesa", "moon", "otter", "peak", "pine", "plains", "reef", "river", "shore", "sparrow", "summit", "tundra", "willow"}
)

// generateName makes a Heroku-style app name (adjective-noun-12345) for
// `apps:create` without a name.
func generateName() string {
	return fmt.Sprintf("%s-%s-%05d", nameAdjectives[rand.IntN(len(nameAdjectives))], nameNouns[rand.IntN(len(nameNouns))], rand.IntN(100000))
}
