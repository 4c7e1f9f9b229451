package client_test

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/internal/keystore"
	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/node"
)

// TestSubmitToNodeWithoutTxIndex submits through a node that keeps no tx
// index (as an auditor's node): the wait for inclusion finds the tx in the
// node's blocks at once, with its result, instead of waiting for a lookup
// that can never succeed; a history on that node says plainly why it cannot
// be given.
func TestSubmitToNodeWithoutTxIndex(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	net, err := node.StartNetwork(ctx, filepath.Join(t.TempDir(), "net"), node.NetworkOptions{Agencies: 2, ExtraOfficers: true, ChainID: "civic-noindex",
		Tweak: func(i int, c *node.Config) {
			if i == 1 {
				c.TxIndex.Indexer = "null"
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(net.Stop)
	c, err := client.New(net.Testnet.Agencies[1].RPC)
	if err != nil {
		t.Fatal(err)
	}
	ks, _ := keystore.Open(net.KeyDir(0), keystore.BackendTest, nil)
	k, _ := ks.PrivKey("grants")
	award := func(id string) []byte {
		raw, err := c.BuildTx(ctx, client.Signer{Agency: "agency-1", Keys: []ed25519.PrivateKey{k}}, &ledger.GrantAward{
			ID: id, Recipient: ledger.Party{Name: "Acme", Scheme: "GB-COH", ID: "1"}, Programme: "P", Purpose: "Purpose",
			Amount: "1000", Currency: "EUR", PeriodStart: "2026-01-01", PeriodEnd: "2026-12-31", DecisionDate: "2026-01-01",
			DocumentHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}, client.BuildOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	start := time.Now()
	res, err := c.Submit(wctx, award("G-NOIDX"), true)
	if err != nil || res.Stage != "block" || res.Code != 0 || res.Height == 0 {
		t.Fatalf("submit through a node without a tx index: %v %+v", err, res)
	}
	t.Logf("included at %d, found in %v", res.Height, time.Since(start))
	if len(res.Events) == 0 {
		t.Error("no events from block_results")
	}
	// The same tx's result, from an indexing node, agrees.
	v, _ := client.New(net.Testnet.Agencies[0].RPC)
	other, err := v.RPC().Tx(ctx, mustHex(t, res.Hash), false)
	for deadline := time.Now().Add(10 * time.Second); err != nil && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		other, err = v.RPC().Tx(ctx, mustHex(t, res.Hash), false) // indexing follows the commit
	}
	if err != nil || other.Height != res.Height || other.TxResult.Code != res.Code {
		t.Fatalf("the indexing node says %v %+v", err, other)
	}
	if _, err := c.History(ctx, "grant", "G-NOIDX"); !errors.Is(err, client.ErrNoTxIndex) {
		t.Fatalf("history on a node without a tx index: %v", err)
	}
	if h, err := v.History(ctx, "grant", "G-NOIDX"); err != nil || len(h) != 1 {
		t.Fatalf("history on the indexing node: %v %+v", err, h)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
