// Command hako is a Heroku-style PaaS on one machine: `hako server` runs
// it, every other command talks to the running server.
package main

import (
	"os"

	"hako/cmd"
)

func main() {
	os.Exit(cmd.Main(os.Args))
}
