package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// countingWriter counts what a command wrote to stdout.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// errorJSON is what a failed command prints on stdout with -o json when it
// printed nothing there itself (verify commands print their report, with
// its own "error").
type errorJSON struct {
	Error    string `json:"error"`
	ExitCode int    `json:"exit_code"`
}

// execute runs root with stdout and stderr, prints a failure as main does
// ("error: ..." on stderr; with -o json also {"error", "exit_code"} on
// stdout unless the command printed its own report there) and returns the
// exit status.
func execute(root *cobra.Command, stdout, stderr io.Writer, run func() error) int {
	out := &countingWriter{w: stdout}
	root.SetOut(out)
	root.SetErr(stderr)
	err := run()
	if err == nil {
		return 0
	}
	code := exitCode(err)
	msg := errorText(err)
	fmt.Fprintln(stderr, "error:", msg)
	if f := root.PersistentFlags().Lookup(flagOutput); f != nil && f.Value.String() == "json" && out.n == 0 {
		_ = writeJSON(out, errorJSON{Error: msg, ExitCode: code})
	}
	return code
}
