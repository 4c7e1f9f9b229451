package node_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/civicledger/civicledger/internal/keystore"
	"github.com/civicledger/civicledger/node"
)

// TestStartRefusesBadGenesisKey: a home whose genesis file has a validator
// key of the wrong length is refused by node.New with an error naming the
// file and the key (CometBFT's own genesis reader panics on it).
func TestStartRefusesBadGenesisKey(t *testing.T) {
	dir := t.TempDir()
	tn, err := node.GenerateTestnet(node.TestnetOptions{Agencies: 1, Output: dir, ChainID: "civic-ledger-test", Fast: true, Keyring: keystore.BackendTest})
	if err != nil {
		t.Fatal(err)
	}
	bad, err := os.ReadFile(filepath.Join("..", "genesis", "testdata", "bad", "long-genesis-validator-key.json"))
	if err != nil {
		t.Fatal(err)
	}
	home := tn.Agencies[0].Home
	cfg, err := node.LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.GenesisFile(), bad, 0o644); err != nil {
		t.Fatal(err)
	}
	n, err := node.New(cfg, nil, node.Options{NoMetrics: true})
	if err == nil {
		_ = n.Stop()
		t.Fatal("node.New accepted a genesis file with a 38-byte validator key")
	}
	if !strings.Contains(err.Error(), "genesis.json") || !strings.Contains(err.Error(), "ed25519 public key of 38 bytes") {
		t.Fatalf("error does not name the file and the key: %v", err)
	}
}
