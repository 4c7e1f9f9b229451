package verify_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/civicledger/civicledger/ledger/verify"
)

// TestParseGenesis: good genesis files parse; a validator key of the wrong
// length or a validator without a key, on which CometBFT's reader panics,
// is an error naming the validator.
func TestParseGenesis(t *testing.T) {
	good, err := filepath.Glob(filepath.Join("..", "..", "genesis", "testdata", "good", "*.json"))
	if err != nil || len(good) == 0 {
		t.Fatalf("no good genesis files: %v", err)
	}
	for _, f := range good {
		bz, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := verify.ParseGenesis(bz); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	bz, err := os.ReadFile(filepath.Join("..", "..", "genesis", "testdata", "bad", "long-genesis-validator-key.json"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := verify.ParseGenesis(bz)
	if err == nil || doc != nil {
		t.Fatalf("accepted a 38-byte validator key: %v", doc)
	}
	if !strings.Contains(err.Error(), "genesis validator 1: ed25519 public key of 38 bytes") {
		t.Fatalf("error does not name the validator and its key: %v", err)
	}
	if _, err := verify.ParseGenesis([]byte(`{"chain_id": "0","validators": [{"power": "1"}]}`)); err == nil || !strings.Contains(err.Error(), "genesis validator 0: no pub_key") {
		t.Fatalf("a validator without a key: %v", err)
	}
	short := strings.Replace(string(bz), "KI7RXvffffffffyPcgYQsMKbUQMuDp4tDbc40wbelXUj74/qhsE=", "KI7RXvyPcgYQsMKbUQMu", 1)
	if _, err := verify.ParseGenesis([]byte(short)); err == nil || !strings.Contains(err.Error(), "of 15 bytes") {
		t.Fatalf("a 15-byte key: %v", err)
	}
}
