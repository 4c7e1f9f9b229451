package client_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/internal/keystore"
	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/verify"
	"github.com/civicledger/civicledger/node"
)

// waitIncluded polls (tightly, unlike Submit) until the tx with the given
// hash is in a block and returns its height and result code.
func waitIncluded(ctx context.Context, t *testing.T, c *client.Client, hash string) (int64, uint32) {
	t.Helper()
	h, err := hex.DecodeString(hash)
	if err != nil {
		t.Fatal(err)
	}
	for {
		if res, err := c.RPC().Tx(ctx, h, false); err == nil {
			return res.Height, res.TxResult.Code
		}
		select {
		case <-ctx.Done():
			t.Fatalf("tx %s not included: %v", hash, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestVerifyTxOfficerAddedInSameBlock: an officer-add and a grant award
// signed by the new officer land in one block, both with code 0. ledger
// verify tx (online) and the exported bundle (offline) verify the award,
// naming the new officer, though the agency record before the block does
// not know the key: the award's result carries the record the chain
// authorized it with.
func TestVerifyTxOfficerAddedInSameBlock(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	dir := t.TempDir()
	net, err := node.StartNetwork(ctx, filepath.Join(dir, "net"), node.NetworkOptions{Agencies: 2, ChainID: "civic-txauth"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(net.Stop)
	a := net.Testnet.Agencies
	c, _ := client.New(a[0].RPC)
	ks, err := keystore.Open(net.KeyDir(0), keystore.BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := ks.PrivKey("admin")
	if err != nil {
		t.Fatal(err)
	}
	build := func(keys []ed25519.PrivateKey, p ledger.Payload) []byte {
		t.Helper()
		raw, err := c.BuildTx(ctx, client.Signer{Agency: a[0].ID, Keys: keys}, p, client.BuildOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	broadcast := func(raw []byte) string {
		t.Helper()
		res, err := c.Submit(ctx, raw, false)
		if err != nil || !res.OK() {
			t.Fatalf("CheckTx: %v %+v", err, res)
		}
		return res.Hash
	}
	award := func(id string) *ledger.GrantAward {
		return &ledger.GrantAward{ID: id, Recipient: ledger.Party{Name: "Acme", Scheme: "GB-COH", ID: "1"}, Programme: "P", Purpose: "Purpose",
			Amount: "1000", Currency: "EUR", PeriodStart: "2026-01-01", PeriodEnd: "2026-12-31", DecisionDate: "2026-01-01",
			DocumentHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}
	}

	// A state change, so that the next block is a proof block made
	// timeout_commit after it: the pair sent as soon as it is committed
	// reaches the mempool well before that block is proposed.
	prev := broadcast(build([]ed25519.PrivateKey{admin}, &ledger.OfficerAdd{Key: keyFor("pump").Public().(ed25519.PublicKey), Name: "pump", Roles: []ledger.Role{ledger.RoleGrants}}))
	var addHash, awardHash, name string
	for attempt := 0; ; attempt++ {
		if attempt == 5 {
			t.Fatal("the officer-add and the new officer's tx never landed in one block")
		}
		name = fmt.Sprintf("new-%d", attempt)
		k := keyFor(name)
		add := build([]ed25519.PrivateKey{admin}, &ledger.OfficerAdd{Key: k.Public().(ed25519.PublicKey), Name: name, Roles: []ledger.Role{ledger.RoleGrants}})
		byNew := build([]ed25519.PrivateKey{k}, award(fmt.Sprintf("G-T%d", attempt)))
		waitIncluded(ctx, t, c, prev)
		addHash, awardHash = broadcast(add), broadcast(byNew)
		ha, ca := waitIncluded(ctx, t, c, addHash)
		hn, cn := waitIncluded(ctx, t, c, awardHash)
		if ca != 0 || cn != 0 {
			t.Fatalf("codes %d and %d, want 0", ca, cn)
		}
		if ha == hn {
			t.Logf("officer-add and award in block %d (attempt %d)", ha, attempt+1)
			break
		}
		prev = awardHash
	}

	home := t.TempDir()
	if _, err := client.InitTrustFromGenesis(ctx, home, net.Testnet.Genesis, a[1].RPC); err != nil {
		t.Fatal(err)
	}
	v, err := client.NewVerifier(ctx, home, a[0].RPC, []string{a[1].RPC})
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := hex.DecodeString(awardHash)
	r, err := v.VerifyTx(ctx, hash)
	if err != nil {
		t.Fatalf("verify tx of a code-0 tx by an officer added in its block: %v\n%+v", err, r.Steps)
	}
	if r.Code != 0 || len(r.Signers) != 1 || r.Signers[0].Name != name || r.AgencyRecord != "result" {
		t.Fatalf("report: code %d, signers %+v, agency record %q", r.Code, r.Signers, r.AgencyRecord)
	}
	addH, _ := hex.DecodeString(addHash)
	if r, err := v.VerifyTx(ctx, addH); err != nil || r.AgencyRecord != "before" {
		t.Fatalf("verify tx of the officer-add: %v %q", err, r.AgencyRecord)
	}

	b, err := v.ExportTx(ctx, hash)
	if err != nil {
		t.Fatalf("proof export tx: %v", err)
	}
	doc, sum, err := client.LoadGenesisFile(net.Testnet.Genesis)
	if err != nil {
		t.Fatal(err)
	}
	bz, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	pb, err := verify.ParseBundle(bz)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := verify.VerifyBundle(pb, doc, sum, time.Now())
	if err != nil || rep.Outcome != "VERIFIED" || len(rep.Tx.Signers) != 1 || rep.Tx.Signers[0].Name != name || rep.Tx.AgencyRecord != "result" {
		t.Fatalf("bundle: %v %+v", err, rep.Tx)
	}
	d, _ := ledger.DecodeResultData(b.Tx.TxResult.Data)
	t.Logf("result data: %d bytes with the record of %s (%d bytes)", len(b.Tx.TxResult.Data), d.Auth.Agency, len(d.Auth.Record))
}

func keyFor(name string) ed25519.PrivateKey {
	s := sha256.Sum256([]byte("txauth-test/" + name))
	return ed25519.NewKeyFromSeed(s[:])
}
