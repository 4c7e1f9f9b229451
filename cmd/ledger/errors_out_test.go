package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestJSONErrors: with -o json every failure is a JSON object on stdout
// (one object: a verify report carries its own "error"), and the text on
// stderr; without -o json, stdout stays empty.
func TestJSONErrors(t *testing.T) {
	home := t.TempDir()
	dead := deadNode(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unreachable node", []string{"--node", dead, "query", "grant", "G-1"}, 3, "connection refused"},
		{"usage", []string{"query", "grant"}, 2, "usage: ledger query grant"},
		{"unknown flag", []string{"query", "grant", "G-1", "--colour"}, 2, "unknown flag: --colour"},
		{"unknown key", []string{"--keyring-backend", "test", "keys", "show", "nobody"}, 1, "key not found"},
		{"bad node address", []string{"--node", "htp://x:1", "query", "grant", "G-1"}, 2, `unknown scheme "htp"`},
		{"no trust root", []string{"--node", dead, "verify", "grant", "G-1"}, 2, "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--home", home, "-o", "json"}, tc.args...)
			out, errOut, code := run(t, args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
			dec := json.NewDecoder(strings.NewReader(out))
			var obj map[string]any
			if err := dec.Decode(&obj); err != nil {
				t.Fatalf("stdout is not JSON: %v\n%s", err, out)
			}
			if dec.More() {
				t.Fatalf("stdout holds more than one JSON value:\n%s", out)
			}
			if msg, _ := obj["error"].(string); !strings.Contains(msg, tc.want) {
				t.Errorf("error %q lacks %q", msg, tc.want)
			}
			if _, isReport := obj["result"]; !isReport && obj["exit_code"] != float64(tc.code) {
				t.Errorf("exit_code %v, want %d", obj["exit_code"], tc.code)
			}
			if !strings.Contains(errOut, "error: ") || !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr: %q", errOut)
			}
			// The same failure in text: nothing on stdout.
			out, _, _ = run(t, append([]string{"--home", home}, tc.args...)...)
			if out != "" {
				t.Errorf("text mode wrote to stdout: %q", out)
			}
		})
	}
}
