package client_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/internal/keystore"
	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/node"
)

func TestVerifyRecordFromGenesis(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	net, err := node.StartNetwork(ctx, filepath.Join(t.TempDir(), "net"), node.NetworkOptions{Agencies: 4, ExtraOfficers: true, ChainID: "civic-verify"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(net.Stop)
	a := net.Testnet.Agencies
	c, _ := client.New(a[0].RPC)
	ks, _ := keystore.Open(net.KeyDir(0), keystore.BackendTest, nil)
	k, _ := ks.PrivKey("grants")
	raw, err := c.BuildTx(ctx, client.Signer{Agency: a[0].ID, Keys: []ed25519.PrivateKey{k}}, &ledger.GrantAward{
		ID: "G-V1", Recipient: ledger.Party{Name: "Acme", Scheme: "GB-COH", ID: "1"}, Programme: "P", Purpose: "Purpose",
		Amount: "1000", Currency: "EUR", PeriodStart: "2026-01-01", PeriodEnd: "2026-12-31", DecisionDate: "2026-01-01",
		DocumentHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}, client.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := c.Submit(ctx, raw, true); err != nil || !res.OK() {
		t.Fatalf("%v %+v", err, res)
	}
	home := t.TempDir()
	if _, err := client.InitTrustFromGenesis(ctx, home, net.Testnet.Genesis, a[1].RPC); err != nil {
		t.Fatal(err)
	}
	v, err := client.NewVerifier(ctx, home, a[0].RPC, []string{a[1].RPC, a[2].RPC})
	if err != nil {
		t.Fatal(err)
	}
	kp, err := v.VerifyKey(ctx, ledger.StoreGrants, []byte("G-V1"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !kp.Present {
		t.Fatal("grant not present")
	}
	kp, err = v.VerifyKey(ctx, ledger.StoreGrants, []byte("G-NONE"), 0)
	if err != nil || kp.Present {
		t.Fatalf("absent: %v %+v", err, kp)
	}
	names, err := v.AgencyNames(ctx, kp.Height)
	if err != nil || len(names) != 4 {
		t.Fatalf("names %v %v", names, err)
	}
}

// TestForkIsReported starts two networks from the same genesis and the same
// validator keys (every validator signs both chains: equivocation), lets them
// diverge, and checks that a verifier whose witness serves the other chain
// reports a fork naming the validators that signed both headers.
func TestForkIsReported(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	dir := t.TempDir()
	tn, err := node.GenerateTestnet(node.TestnetOptions{Agencies: 2, Output: filepath.Join(dir, "a"), ChainID: "civic-fork", Fast: true, Keyring: keystore.BackendTest, ExtraOfficers: true})
	if err != nil {
		t.Fatal(err)
	}
	tnB, err := node.CloneTestnet(filepath.Join(dir, "a"), filepath.Join(dir, "b"))
	if err != nil {
		t.Fatal(err)
	}
	netA, err := node.StartTestnet(ctx, tn, node.NetworkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(netA.Stop)
	netB, err := node.StartTestnet(ctx, tnB, node.NetworkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(netB.Stop)
	// Different records on each chain make their AppHashes, hence headers, differ.
	for i, net := range []*node.Network{netA, netB} {
		c, _ := client.New(net.Testnet.Agencies[0].RPC)
		ks, _ := keystore.Open(net.KeyDir(0), keystore.BackendTest, nil)
		k, _ := ks.PrivKey("grants")
		raw, err := c.BuildTx(ctx, client.Signer{Agency: "agency-1", Keys: []ed25519.PrivateKey{k}}, &ledger.GrantAward{
			ID: []string{"G-A", "G-B"}[i], Recipient: ledger.Party{Name: "Acme", Scheme: "GB-COH", ID: "1"}, Programme: "P", Purpose: "Purpose",
			Amount: "1000", Currency: "EUR", PeriodStart: "2026-01-01", PeriodEnd: "2026-12-31", DecisionDate: "2026-01-01",
			DocumentHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}, client.BuildOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res, err := c.Submit(ctx, raw, true); err != nil || !res.OK() {
			t.Fatalf("%v %+v", err, res)
		}
	}
	home := t.TempDir()
	if _, err := client.InitTrustFromGenesis(ctx, home, tn.Genesis, tn.Agencies[0].RPC); err != nil {
		t.Fatal(err)
	}
	v, err := client.NewVerifier(ctx, home, tn.Agencies[0].RPC, []string{tnB.Agencies[1].RPC})
	if err == nil { // the chains may share their first blocks: the fork shows later
		_, err = v.VerifyKey(ctx, ledger.StoreGrants, []byte("G-A"), 0)
	}
	var fe *client.ForkError
	if !errors.As(err, &fe) {
		t.Fatalf("want a fork report, got %v", err)
	}
	if len(fe.SignedBoth) == 0 || fe.PrimaryHeader == nil || fe.WitnessHeader == nil {
		t.Fatalf("fork report lacks evidence: %+v", fe)
	}
	// Each validator that signed both is named by its agency, in the
	// report and in its text.
	agencyOf := map[string]string{}
	for _, a := range tn.Agencies {
		agencyOf[cmttypes.Address(cmted25519.PubKey(a.ValidatorK).Address()).String()] = a.ID
	}
	named := func(fe *client.ForkError) {
		t.Helper()
		for _, s := range fe.SignedBoth {
			want := agencyOf[s.Address]
			if want == "" || s.Name != want {
				t.Fatalf("fork report names validator %s %q, want %q", s.Address, s.Name, want)
			}
			if !strings.Contains(fe.Error(), want+" ("+s.Address+")") {
				t.Fatalf("fork report text does not name %s (%s): %v", want, s.Address, fe)
			}
		}
		t.Logf("%v", fe)
	}
	named(fe)

	// From a checkpoint of chain A at a later height (no genesis file to
	// name agencies from): the names come from the agency listing proved
	// against the checkpoint header.
	cA, _ := client.New(tn.Agencies[0].RPC)
	if err := cA.WaitForHeight(ctx, 4); err != nil {
		t.Fatal(err)
	}
	cp := int64(4)
	com, err := cA.RPC().Commit(ctx, &cp)
	if err != nil {
		t.Fatal(err)
	}
	home2 := t.TempDir()
	if _, err := client.InitTrustCheckpoint(home2, tn.ChainID, cp, fmt.Sprintf("%X", com.Header.Hash())); err != nil {
		t.Fatal(err)
	}
	_, err = client.NewVerifier(ctx, home2, tn.Agencies[0].RPC, []string{tnB.Agencies[1].RPC})
	fe = nil
	if !errors.As(err, &fe) || fe.Height != cp {
		t.Fatalf("from checkpoint %d: want a fork report at %d, got %v", cp, cp, err)
	}
	named(fe)
}
