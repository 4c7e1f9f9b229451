package node_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/internal/keystore"
	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/node"
)

func officerKey(t *testing.T, net *node.Network, agency int, name string) ed25519.PrivateKey {
	t.Helper()
	ks, err := keystore.Open(net.KeyDir(agency), keystore.BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ks.PrivKey(name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

const docHash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

func startNetwork(t *testing.T, n int) *node.Network {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	net, err := node.StartNetwork(ctx, filepath.Join(t.TempDir(), "net"), node.NetworkOptions{Agencies: n, ExtraOfficers: true, ChainID: "civic-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(net.Stop)
	return net
}

// TestFourAgencyNetwork starts four real validators on loopback, commits
// transactions signed by officers of different agencies through different
// nodes, and checks that every node agrees on every AppHash.
func TestFourAgencyNetwork(t *testing.T) {
	net := startNetwork(t, 4)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()

	var last int64
	for i := 0; i < 4; i++ {
		c, err := client.New(net.Testnet.Agencies[i].RPC)
		if err != nil {
			t.Fatal(err)
		}
		agency := net.Testnet.Agencies[i].ID
		award := &ledger.GrantAward{
			ID: fmt.Sprintf("G-%d", i), Recipient: ledger.Party{Name: "Acme Ltd", Scheme: "GB-COH", ID: "0001"},
			Programme: "Digital", Purpose: "Broadband rollout", Amount: "500000", Currency: "EUR",
			PeriodStart: "2026-01-01", PeriodEnd: "2026-12-31", DecisionDate: "2026-01-01", DocumentHash: docHash,
		}
		raw, err := c.BuildTx(ctx, client.Signer{Agency: agency, Keys: []ed25519.PrivateKey{officerKey(t, net, i, "grants")}}, award, client.BuildOptions{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Submit(ctx, raw, true)
		if err != nil {
			t.Fatal(err)
		}
		if !res.OK() {
			t.Fatalf("award by %s: code %d: %s", agency, res.Code, res.Log)
		}
		pay := &ledger.PaymentRecord{
			ID: fmt.Sprintf("P-%d", i), Payee: award.Recipient, Amount: "125000", Currency: "EUR",
			Date: "2026-02-01", Purpose: "First instalment", Grant: award.ID,
		}
		raw, err = c.BuildTx(ctx, client.Signer{Agency: agency, Keys: []ed25519.PrivateKey{officerKey(t, net, i, "finance")}}, pay, client.BuildOptions{})
		if err != nil {
			t.Fatal(err)
		}
		res, err = c.Submit(ctx, raw, true)
		if err != nil {
			t.Fatal(err)
		}
		if !res.OK() {
			t.Fatalf("payment by %s: code %d: %s", agency, res.Code, res.Log)
		}
		last = max(last, res.Height)
	}
	if err := net.WaitForHeight(ctx, last+1); err != nil {
		t.Fatal(err)
	}
	for h := int64(1); h <= last+1; h++ {
		hashes, err := net.AppHashes(h)
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i < len(hashes); i++ {
			if !bytes.Equal(hashes[0], hashes[i]) {
				t.Fatalf("height %d: node 0 AppHash %X, node %d %X", h, hashes[0], i, hashes[i])
			}
		}
	}
	// Every node serves the same records.
	for i := 0; i < 4; i++ {
		c, _ := client.New(net.Testnet.Agencies[i].RPC)
		for j := 0; j < 4; j++ {
			if _, _, err := c.Record(ctx, "payment", fmt.Sprintf("P-%d", j), 0); err != nil {
				t.Fatalf("node %d: %v", i, err)
			}
		}
	}
}

// TestStoppedNodeCatchesUp stops one of four validators, keeps committing
// with the other three, restarts it from its home and checks that it
// resumes at its old height, catches up, and agrees on every AppHash.
func TestStoppedNodeCatchesUp(t *testing.T) {
	net := startNetwork(t, 4)
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	c, err := client.New(net.Testnet.Agencies[0].RPC)
	if err != nil {
		t.Fatal(err)
	}
	grants := officerKey(t, net, 0, "grants")
	submit := func(id string) int64 {
		award := &ledger.GrantAward{
			ID: id, Recipient: ledger.Party{Name: "Acme Ltd", Scheme: "GB-COH", ID: "0001"},
			Programme: "Digital", Purpose: "Broadband", Amount: "1000", Currency: "EUR",
			PeriodStart: "2026-01-01", PeriodEnd: "2026-12-31", DecisionDate: "2026-01-01", DocumentHash: docHash,
		}
		raw, err := c.BuildTx(ctx, client.Signer{Agency: "agency-1", Keys: []ed25519.PrivateKey{grants}}, award, client.BuildOptions{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Submit(ctx, raw, true)
		if err != nil || !res.OK() {
			t.Fatalf("submit %s: %v %+v", id, err, res)
		}
		return res.Height
	}
	submit("G-before")
	stoppedAt := net.Height(3)
	if err := net.StopNode(3); err != nil {
		t.Fatal(err)
	}
	var last int64
	for i := 0; i < 5; i++ {
		last = submit(fmt.Sprintf("G-during-%d", i))
	}
	if last <= stoppedAt {
		t.Fatalf("chain did not progress without node 3: %d <= %d", last, stoppedAt)
	}
	if err := net.StartNode(3, nil); err != nil {
		t.Fatal(err)
	}
	if h := net.Height(3); h < stoppedAt {
		t.Fatalf("restarted node resumed at %d, below %d", h, stoppedAt)
	}
	if err := net.WaitForHeight(ctx, last+1); err != nil {
		t.Fatal(err)
	}
	for h := int64(1); h <= last+1; h++ {
		hashes, err := net.AppHashes(h)
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i < 4; i++ {
			if !bytes.Equal(hashes[0], hashes[i]) {
				t.Fatalf("height %d: node 0 %X, node %d %X", h, hashes[0], i, hashes[i])
			}
		}
	}
	c3, _ := client.New(net.Testnet.Agencies[3].RPC)
	for _, id := range []string{"G-before", "G-during-4"} {
		if _, _, err := c3.Record(ctx, "grant", id, 0); err != nil {
			t.Fatalf("restarted node: %v", err)
		}
	}
}
