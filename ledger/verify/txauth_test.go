package verify_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"testing"

	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/verify"
)

// TestBundleOfficerAddedInSameBlock: tx 3 of block 2 is signed by an
// officer whose officer-add went into block 2 before it, so the record at
// height 1 does not know the signer; the chain accepted it (code 0) and its
// result carries the record it was authorized with. The bundle verifies,
// naming the new officer, with or without the agency query.
func TestBundleOfficerAddedInSameBlock(t *testing.T) {
	f := newFixture(t)
	for name, b := range map[string]*verify.Bundle{
		"with agency query":    f.txBundle(t, 3),
		"without agency query": func() *verify.Bundle { b := f.txBundle(t, 3); b.AgencyQuery = nil; return b }(),
	} {
		rep, err := verify.VerifyBundle(roundTrip(t, b), f.genesis, f.genesisSum, f.now())
		if err != nil {
			t.Fatalf("%s: the bundle of a code-0 tx by an officer added in its block was rejected: %v\n%+v", name, err, rep.Steps)
		}
		if rep.Outcome != "VERIFIED" || rep.Tx == nil || rep.Tx.Code != 0 || rep.Tx.AgencyRecord != "result" {
			t.Fatalf("%s: report %+v %+v", name, rep.Outcome, rep.Tx)
		}
		if len(rep.Tx.Signers) != 1 || rep.Tx.Signers[0].Name != "R&D <grants>" {
			t.Errorf("%s: signers %+v, want the new officer", name, rep.Tx.Signers)
		}
	}
	rep, err := verify.VerifyBundle(f.txBundle(t, 1), f.genesis, f.genesisSum, f.now())
	if err != nil || rep.Tx.AgencyRecord != "before" {
		t.Errorf("tx 1, authorized with the record before the block: %v %+v", err, rep.Tx)
	}
	rep, err = verify.VerifyBundle(f.firstBlockTxBundle(), f.genesis, f.genesisSum, f.now())
	if err != nil || rep.Tx.AgencyRecord != "genesis" {
		t.Errorf("tx of the first block, authorized with the genesis record: %v %+v", err, rep.Tx)
	}

	// The result data is covered by LastResultsHash: a record with the new
	// officer slipped into another tx's result, or a changed record in tx
	// 3's, is refused.
	good := func() *verify.Bundle { return clone(t, f.txBundle(t, 3)) }
	with := func(fn func(b *verify.Bundle)) *verify.Bundle { b := good(); fn(b); return b }
	tamperData := func(b *verify.Bundle, i int, data []byte) {
		b.BlockResults.TxsResults[i].Data = data
		if i == int(b.Tx.Index) {
			b.Tx.TxResult.Data = data
		}
	}
	var joined ledger.Agency
	d, _ := ledger.DecodeResultData(f.results[3].Data)
	if err := json.Unmarshal(d.Auth.Record, &joined); err != nil {
		t.Fatal(err)
	}
	joined.Officers[0].Roles = append(joined.Officers[0].Roles, ledger.RoleFinance)
	forged, _ := ledger.AgencyValue(&joined)
	one := clone(t, f.txBundle(t, 1))
	tamperData(one, 1, f.results[3].Data)
	checkTampers(t, f, []tamper{
		{name: "record in the result changed", b: with(func(b *verify.Bundle) { tamperData(b, 3, authData(t, forged, true)) }), step: verify.StepTxResult, kind: verify.ErrTx},
		{name: "record dropped from the result", b: with(func(b *verify.Bundle) { tamperData(b, 3, authData(t, forged, false)) }), step: verify.StepTxResult, kind: verify.ErrTx},
		{name: "another tx's result data", b: one, step: verify.StepTxResult, kind: verify.ErrTx},
	})
}

// TestTxAuthority checks the choice of the agency record a tx's signers are
// checked against, and that a record the result does not commit is refused.
func TestTxAuthority(t *testing.T) {
	officer := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	newcomer := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, 32))
	before := ledger.Agency{ID: "agency-1", Name: "Agency One", Officers: []ledger.Officer{
		{Key: officer.Public().(ed25519.PublicKey), Name: "grants", Roles: []ledger.Role{ledger.RoleGrants}}}}
	after := before
	after.Officers = append(after.Officers, ledger.Officer{Key: newcomer.Public().(ed25519.PublicKey), Name: "new", Roles: []ledger.Role{ledger.RoleGrants}})
	bv, _ := ledger.AgencyValue(&before)
	av, _ := ledger.AgencyValue(&after)
	raw := signedTx(t, newcomer, "G-N")
	tx, err := ledger.DecodeTx(raw, 0)
	if err != nil {
		t.Fatal(err)
	}
	other := func(fn func(a *ledger.TxAuth)) []byte {
		a := &ledger.TxAuth{Agency: "agency-1", RecordSHA256: ledger.RecordDigest(av), Record: av}
		fn(a)
		d, _ := json.Marshal(ledger.ResultData{Auth: a})
		return d
	}

	// The record the result carries: the new officer signs.
	ag, fromResult, err := verify.TxAuthority(tx, authData(t, av, true), bv)
	if err != nil || !fromResult || ag.Officer(newcomer.Public().(ed25519.PublicKey)) == nil {
		t.Fatalf("record in the result: %v %v %+v", err, fromResult, ag)
	}
	if _, err := verify.TxSignatures(raw, ag); err != nil {
		t.Errorf("signers against the record in the result: %v", err)
	}
	// Only the digest: the record before the block must be that record.
	ag, fromResult, err = verify.TxAuthority(tx, authData(t, bv, false), bv)
	if err != nil || fromResult || ag.ID != "agency-1" {
		t.Errorf("digest of the record before: %v %v %+v", err, fromResult, ag)
	}
	if _, err := verify.TxSignatures(raw, ag); err == nil {
		t.Error("the newcomer passes against the record before the block")
	}
	// No authorization data (a rejected tx, or an older chain version).
	if ag, _, err := verify.TxAuthority(tx, nil, bv); err != nil || ag == nil || len(ag.Officers) != 1 {
		t.Errorf("no data: %v %+v", err, ag)
	}
	if ag, _, err := verify.TxAuthority(tx, nil, nil); err != nil || ag != nil {
		t.Errorf("no data, no record: %v %+v", err, ag)
	}

	for name, c := range map[string]struct{ data, before []byte }{
		"record before is not the one committed": {authData(t, av, false), bv},
		"agency absent but a record committed":   {authData(t, bv, false), nil},
		"record in the result does not hash":     {other(func(a *ledger.TxAuth) { a.RecordSHA256 = ledger.RecordDigest(bv) }), bv},
		"result names another agency":            {other(func(a *ledger.TxAuth) { a.Agency = "agency-2" }), bv},
		"record does not decode": {other(func(a *ledger.TxAuth) {
			a.Record = json.RawMessage(`[1]`)
			a.RecordSHA256 = ledger.RecordDigest(a.Record)
		}), bv},
		"result data does not decode": {[]byte("ok"), bv},
	} {
		_, _, err := verify.TxAuthority(tx, c.data, c.before)
		var te *verify.TxError
		if !errors.Is(err, verify.ErrTx) || !errors.As(err, &te) || te.Step != "officer" {
			t.Errorf("%s: %v", name, err)
		}
	}
}
