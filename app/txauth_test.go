package app_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/verify"
)

// TestOfficerAddedInSameBlockVerifies: an officer-add and a tx signed by
// the new officer in one block both succeed; the second tx's result data
// (hashed into LastResultsHash) carries the agency record the chain
// authorized it with, so that its signer verifies, while the record at the
// state before the block (proved like a verifier gets it) does not name the
// signer.
func TestOfficerAddedInSameBlockVerifies(t *testing.T) {
	ctx := context.Background()
	f := newFixture()
	a := openApp(t, "")
	f.initChain(t, a)
	root := finalize(t, a, 1, f.tx(t, "agency-1", 1, 50, award("G-0", "100"), "grants")).AppHash

	f.officers["agency-1/new"] = key("agency-1/new")
	add := f.tx(t, "agency-1", 2, 50, &ledger.OfficerAdd{Key: f.officers["agency-1/new"].Public().(ed25519.PublicKey), Name: "new", Roles: []ledger.Role{ledger.RoleGrants}}, "admin")
	byNew := f.tx(t, "agency-1", 1, 50, award("G-1", "100"), "new")
	fin := finalize(t, a, 2, add, byNew)
	for i, r := range fin.TxResults {
		if r.Code != 0 || len(r.Data) == 0 {
			t.Fatalf("tx %d: code %d (%s), data %q", i, r.Code, r.Log, r.Data)
		}
	}
	// The data is part of what LastResultsHash commits.
	stripped := []*abci.ExecTxResult{{Code: 0}, {Code: 0}}
	if string(cmttypes.NewResults(fin.TxResults).Hash()) == string(cmttypes.NewResults(stripped).Hash()) {
		t.Fatal("the result data is not covered by the results hash")
	}

	// The record before block 2, proved against the state hash of height 1.
	q, err := a.Query(ctx, &abci.RequestQuery{Path: "/store/agencies/key", Data: ledger.RecordKey("agency-1"), Height: 1, Prove: true})
	if err != nil || q.Code != 0 {
		t.Fatalf("query: %v %+v", err, q)
	}
	if _, err := verify.StoreValue(root, ledger.StoreAgencies, q.Key, q.Value, q.ProofOps.Ops); err != nil {
		t.Fatal(err)
	}
	tx, err := ledger.DecodeTx(byNew, 0)
	if err != nil {
		t.Fatal(err)
	}
	before := new(ledger.Agency)
	if err := json.Unmarshal(q.Value, before); err != nil {
		t.Fatal(err)
	}
	if _, err := verify.TxSignatures(byNew, before); err == nil {
		t.Fatal("the new officer is already in the record before the block")
	}
	ag, fromResult, err := verify.TxAuthority(tx, fin.TxResults[1].Data, q.Value)
	if err != nil || !fromResult {
		t.Fatalf("TxAuthority: %v (from result %v)", err, fromResult)
	}
	if _, err := verify.TxSignatures(byNew, ag); err != nil {
		t.Fatalf("a code-0 tx by an officer added in its block does not verify: %v", err)
	}
	// The officer-add itself was authorized with the record before.
	addTx, _ := ledger.DecodeTx(add, 0)
	if ag, fromResult, err := verify.TxAuthority(addTx, fin.TxResults[0].Data, q.Value); err != nil || fromResult {
		t.Fatalf("officer-add: %v (from result %v)", err, fromResult)
	} else if _, err := verify.TxSignatures(add, ag); err != nil {
		t.Fatal(err)
	}
}
