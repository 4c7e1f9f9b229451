package export_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayering keeps export a library of the client side: it may import
// client, ledger (with ledger/verify), version and internal packages,
// never app, node or cmd, nor CometBFT's node, cobra or the schema
// validators of the tests; schematest imports nothing of ours.
func TestLayering(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go tool not on PATH")
	}
	const mod = "github.com/civicledger/civicledger/"
	for _, tc := range []struct {
		pkg       string   // relative to the module root
		dir       string   // for go list, relative to this package
		ours      []string // prefixes of our packages it may depend on (itself aside)
		forbidden []string // prefixes of foreign packages it must not depend on
	}{
		{"export", ".", []string{"client", "ledger", "version", "internal/"}, []string{
			"github.com/spf13/cobra", "github.com/cometbft/cometbft/node",
			"github.com/santhosh-tekuri/jsonschema", "github.com/jacoelho/xsd",
		}},
		{"export/schematest", "./schematest", nil, []string{"github.com/spf13/cobra", "github.com/cometbft/"}},
	} {
		out, err := exec.Command("go", "list", "-deps", tc.dir).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", tc.pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if ours, ok := strings.CutPrefix(dep, mod); ok {
				if ours != tc.pkg && !hasAnyPrefix(ours, tc.ours) {
					t.Errorf("%s imports %s", tc.pkg, dep)
				}
				continue
			}
			if hasAnyPrefix(dep, tc.forbidden) {
				t.Errorf("%s depends on %s", tc.pkg, dep)
			}
		}
	}
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
