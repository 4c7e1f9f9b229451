package ledger_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayering keeps the dependency arrows pointing one way: the domain
// packages import nothing of ours outside ledger/..., and nothing of the
// CometBFT node, cobra or Prometheus.
func TestLayering(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go tool not on PATH")
	}
	const mod = "github.com/civicledger/civicledger/"
	forbidden := []string{
		"github.com/spf13/cobra",
		"github.com/prometheus/",
		"github.com/cometbft/cometbft/node",
		"github.com/cometbft/cometbft/rpc",
		"github.com/cometbft/cometbft/consensus",
		"github.com/cometbft/cometbft/p2p",
	}
	for _, pkg := range []string{"ledger", "ledger/store", "ledger/verify"} {
		out, err := exec.Command("go", "list", "-deps", "./"+strings.TrimPrefix(pkg, "ledger")).CombinedOutput()
		if pkg != "ledger" {
			out, err = exec.Command("go", "list", "-deps", "./"+strings.TrimPrefix(pkg, "ledger/")).CombinedOutput()
		}
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, mod) && !strings.HasPrefix(dep, mod+"ledger") {
				t.Errorf("%s imports %s", pkg, dep)
			}
			for _, f := range forbidden {
				if strings.HasPrefix(dep, f) {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}
