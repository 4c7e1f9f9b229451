package main

import (
	"strings"
	"testing"

	"github.com/civicledger/civicledger/version"
)

func TestVersion(t *testing.T) {
	out, errOut, code := run(t, "version")
	if code != 0 {
		t.Fatalf("ledger version: exit %d: %s", code, errOut)
	}
	for _, want := range []string{"ledger       " + version.Release, "cometbft     0.38.", "app_version  1", "go           go1."} {
		if !strings.Contains(out, want) {
			t.Errorf("ledger version lacks %q:\n%s", want, out)
		}
	}
	out, errOut, code = run(t, "version", "-o", "json")
	if code != 0 {
		t.Fatalf("ledger version -o json: exit %d: %s", code, errOut)
	}
	v := decodeJSON[version.Info](t, out)
	if v != version.Get() || v.Release != version.Release || v.CometBFT == "" {
		t.Errorf("ledger version -o json = %+v, want %+v", v, version.Get())
	}
	wantCode(t, 2, []string{"usage: ledger version"}, "version", "extra")
}
