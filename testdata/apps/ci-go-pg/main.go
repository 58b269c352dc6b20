// Command cigopg serves a greeting; its test needs the PostgreSQL of
// app.json's environments.test.
package main

import (
	"fmt"
	"net/http"
	"os"
)

// greeting is what the app answers, checked by the test.
func greeting() string { return "hello from the box" }

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, greeting()) })
	if err := http.ListenAndServe(":"+os.Getenv("PORT"), nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
