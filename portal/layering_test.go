package portal_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayering keeps the portal a thin user of the client library: of our
// packages it may import only client, ledger and what they import, never
// app, node or a command, nor CometBFT's node or cobra.
func TestLayering(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go tool not on PATH")
	}
	const mod = "github.com/civicledger/civicledger/"
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if ours, ok := strings.CutPrefix(dep, mod); ok {
			switch {
			case ours == "portal", ours == "client", strings.HasPrefix(ours, "ledger"), ours == "version", strings.HasPrefix(ours, "internal/"):
			default:
				t.Errorf("portal imports %s", dep)
			}
			continue
		}
		for _, bad := range []string{"github.com/spf13/cobra", "github.com/cometbft/cometbft/node", "github.com/cometbft/cometbft/consensus"} {
			if strings.HasPrefix(dep, bad) {
				t.Errorf("portal depends on %s", dep)
			}
		}
	}
}
