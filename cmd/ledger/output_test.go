package main

import (
	"bytes"
	"testing"
)

// TestSanitizeEscapesUnusualCodePoints: text output shows bidirectional
// controls, zero-width and other invisible characters escaped, so that a
// payee stored as "Acme<U+202E>dtL" cannot pass for another name on screen;
// control characters still become '?', and ordinary text of any script is
// printed as it is.
func TestSanitizeEscapesUnusualCodePoints(t *testing.T) {
	for in, want := range map[string]string{
		"Acme Ltd":                "Acme Ltd",
		"Café Müller — «Luna» №5": "Café Müller — «Luna» №5",
		"مسرح المدينة":            "مسرح المدينة",
		"東京劇場":                    "東京劇場",
		"Acme\u202edtL":           `Acme\u202edtL`,
		"Ac\u200bme":              `Ac\u200bme`,
		"\ufeffAcme":              `\ufeffAcme`,
		"Acme\u2066x\u2069":       `Acme\u2066x\u2069`,
		"Acme\u00a0Ltd":           `Acme\u00a0Ltd`,
		"Acme\u3164":              `Acme\u3164`,
		"tag\U000e0041":           `tag\U000e0041`,
		"bad\xffbyte":             `bad\ufffdbyte`,
		"tab\there\nnewline\x1b[": "tab?here?newline?[",
	} {
		if got := sanitize(in); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
	var buf bytes.Buffer
	kv := newKV(&buf)
	kv.add("payee", "%s", "Acme\u202eLtd")
	if err := kv.flush(); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != "payee: Acme\\u202eLtd\n" {
		t.Fatalf("kv output %q", got)
	}
}

// TestCLITextRewordsOnce: the library's phrases get the CLI's words, and
// text already in the CLI's words keeps them.
func TestCLITextRewordsOnce(t *testing.T) {
	for _, w := range cliWords {
		in := "x: " + w[0] + ": y"
		want := "x: " + w[1] + ": y"
		if got := cliText(in); got != want {
			t.Errorf("cliText(%q) = %q, want %q", in, got, want)
		}
		if got := cliText(want); got != want {
			t.Errorf("cliText twice: %q, want %q", got, want)
		}
	}
}
