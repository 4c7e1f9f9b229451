package ledger_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayering keeps the dependency arrows pointing one way (cmd → node →
// app → ledger; client → ledger; genesis → ledger): each package below may
// import only the packages of ours listed for it, and none of the foreign
// packages forbidden to it (the CometBFT node, cobra, ...).
func TestLayering(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go tool not on PATH")
	}
	const mod = "github.com/civicledger/civicledger/"
	// domain: what the state machine packages must not depend on.
	domain := []string{
		"github.com/spf13/cobra",
		"github.com/prometheus/",
		"github.com/cometbft/cometbft/node",
		"github.com/cometbft/cometbft/rpc",
		"github.com/cometbft/cometbft/consensus",
		"github.com/cometbft/cometbft/p2p",
	}
	for _, tc := range []struct {
		pkg       string   // relative to the module root
		ours      []string // prefixes of our packages it may depend on (itself aside)
		forbidden []string // prefixes of foreign packages it must not depend on
	}{
		{"ledger", []string{"ledger"}, domain},
		// The store marks a crash point between two stores' saves
		// (internal/crashpoint: standard library only, empty outside the
		// crash tests' build).
		{"ledger/store", []string{"ledger", "internal/crashpoint"}, domain},
		{"ledger/verify", []string{"ledger"}, domain},
		// The ABCI adapter: the state machine below it, never node, cmd or
		// client above or beside it, nor CometBFT's node or cobra.
		{"app", []string{"ledger", "version", "internal/"}, []string{
			"github.com/spf13/cobra",
			"github.com/cometbft/cometbft/node",
		}},
		// The client library: the ledger's types and verification only,
		// never the app, node or cmd, nor CometBFT's node or cobra.
		{"client", []string{"ledger", "version", "internal/"}, []string{
			"github.com/spf13/cobra",
			"github.com/cometbft/cometbft/node",
		}},
		// Genesis: ledger and CometBFT's types only.
		{"genesis", []string{"ledger"}, domain},
	} {
		out, err := exec.Command("go", "list", "-deps", "../"+tc.pkg).CombinedOutput()
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
