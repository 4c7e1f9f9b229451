package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestLayering keeps the in-browser verifier small: as built for the
// browser, of our packages it imports only ledger/verify and ledger, and
// nothing of the client library, CometBFT's RPC or light client.
func TestLayering(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go tool not on PATH")
	}
	cmd := exec.Command("go", "list", "-tags", "force64bit", "-deps", ".")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const mod = "github.com/civicledger/civicledger/"
	for _, dep := range strings.Fields(string(out)) {
		if ours, ok := strings.CutPrefix(dep, mod); ok {
			switch ours {
			case "cmd/verifywasm", "ledger", "ledger/verify":
			default:
				t.Errorf("the verifier imports %s", dep)
			}
			continue
		}
		for _, bad := range []string{"github.com/cometbft/cometbft/rpc", "github.com/cometbft/cometbft/light", "github.com/spf13/cobra"} {
			if strings.HasPrefix(dep, bad) {
				t.Errorf("the verifier depends on %s", dep)
			}
		}
	}
}
