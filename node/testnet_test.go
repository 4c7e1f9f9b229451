package node_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/civicledger/civicledger/internal/keystore"
	"github.com/civicledger/civicledger/node"
)

// TestGenerateTestnetNeedsKeyring: no keyring backend is an error, not a
// silent choice of plain key files.
func TestGenerateTestnetNeedsKeyring(t *testing.T) {
	for _, backend := range []keystore.Backend{"", "plain"} {
		out := filepath.Join(t.TempDir(), "tn")
		_, err := node.GenerateTestnet(node.TestnetOptions{Agencies: 1, Output: out, Keyring: backend})
		if err == nil || !strings.Contains(err.Error(), "keyring") {
			t.Fatalf("keyring %q: %v, want a keyring error", backend, err)
		}
		if keys, _ := filepath.Glob(filepath.Join(out, "*", "keys", "*")); len(keys) != 0 {
			t.Fatalf("keyring %q: keys written: %v", backend, keys)
		}
	}
}
