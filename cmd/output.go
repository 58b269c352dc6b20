package cmd

import (
	"encoding/json"
	"fmt"
	"io"
)

// printFields prints "Key: value" lines with values aligned, as the
// Heroku CLI does.
func printFields(w io.Writer, fields [][2]string) {
	width := 0
	for _, f := range fields {
		if len(f[0]) > width {
			width = len(f[0])
		}
	}
	for _, f := range fields {
		fmt.Fprintf(w, "%-*s %s\n", width+1, f[0]+":", f[1])
	}
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// progress prints Heroku's "Doing something... done" around do, with
// "failed" instead when it fails (the error is printed by Run).
func progress(w io.Writer, what string, do func() error) error {
	fmt.Fprintf(w, "%s... ", what)
	if err := do(); err != nil {
		fmt.Fprintln(w, "failed")
		return err
	}
	fmt.Fprintln(w, "done")
	return nil
}
