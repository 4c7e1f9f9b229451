package ledger_test

import (
	"bytes"
	"testing"

	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/verify"
)

// TestResultDataCommitsAuthorization: a successful tx's result data names
// the agency record its signers were authorized with: only its digest when
// the record is the one of the state before the block, the record itself
// when the block wrote it before the tx, so that a tx signed by an officer
// added earlier in the same block verifies — even when a later tx of the
// block removes that officer again, so that no committed state shows the
// record the chain used.
func TestResultDataCommitsAuthorization(t *testing.T) {
	c := newChain(t)
	c.mustOK(c.tx(cultGrants, award("g-0", "100")))
	valueAt := func(h int64, id string) []byte {
		t.Helper()
		v, err := c.kv.At(h)
		if err != nil {
			t.Fatal(err)
		}
		bz, err := v.Get(ledger.StoreAgencies, ledger.RecordKey(id))
		if err != nil || bz == nil {
			t.Fatalf("agency %s at %d: %v", id, h, err)
		}
		return bz
	}
	auth := func(r ledger.Result) *ledger.TxAuth {
		t.Helper()
		d, err := ledger.DecodeResultData(r.Data)
		if err != nil || d.Auth == nil {
			t.Fatalf("result data %q: %v", r.Data, err)
		}
		return d.Auth
	}
	// checkVerifies checks the tx's signers as a verifier does, from its
	// result data and the record before its block.
	checkVerifies := func(name string, raw []byte, r ledger.Result, before []byte) {
		t.Helper()
		tx, err := ledger.DecodeTx(raw, 0)
		if err != nil {
			t.Fatal(err)
		}
		ag, _, err := verify.TxAuthority(tx, r.Data, before)
		if err == nil {
			_, err = verify.TxSignatures(raw, ag)
		}
		if err != nil {
			t.Errorf("%s: a code-0 tx does not verify: %v", name, err)
		}
	}

	byGrants := c.tx(cultGrants, award("g-1", "100"))
	add := c.tx(cultAdmin, addOfficer(newcomer, ledger.RoleGrants))
	byNewcomer := c.tx(newcomer, award("g-2", "100"))
	byGrantsAgain := c.tx(cultGrants, award("g-3", "100"))
	byWorks := c.tx(worksAdmin, award("w-1", "100"))
	byOutsider := c.txFor(agCulture, outsider, award("g-x", "100"))
	br := c.block(byGrants, add, byNewcomer, byGrantsAgain, byWorks, byOutsider)
	rs := br.results
	for i, r := range rs[:5] {
		if r.Code != ledger.CodeOK {
			t.Fatalf("tx %d: code %d: %s", i, r.Code, r.Log)
		}
	}
	if rs[5].Code == ledger.CodeOK || rs[5].Data != nil {
		t.Errorf("outsider's tx: code %d, data %q", rs[5].Code, rs[5].Data)
	}
	before, after := valueAt(1, agCulture), valueAt(2, agCulture)
	for i, want := range []struct {
		agency string
		digest []byte // the record whose digest is committed
		record []byte // the record carried, nil: none
	}{
		{agCulture, before, nil},
		{agCulture, before, nil}, // the officer-add is authorized before its own change
		{agCulture, after, after},
		{agCulture, after, after},
		{agWorks, valueAt(1, agWorks), nil},
	} {
		a := auth(rs[i])
		if a.Agency != want.agency || a.RecordSHA256 != ledger.RecordDigest(want.digest) || !bytes.Equal(a.Record, want.record) {
			t.Errorf("tx %d: auth %+v, want agency %s, digest %s, record %q", i, a, want.agency, ledger.RecordDigest(want.digest), want.record)
		}
	}
	checkVerifies("by the newcomer", byNewcomer, rs[2], before)
	checkVerifies("by an officer from before", byGrants, rs[0], before)
	checkVerifies("by an officer, after the add", byGrantsAgain, rs[3], before)

	// Added, signing and removed in one block.
	other := newOfficer(agCulture, "one-block")
	add2 := c.tx(cultAdmin, addOfficer(other, ledger.RoleGrants))
	byOther := c.tx(other, award("g-4", "100"))
	remove := c.tx(cultAdmin, removeOfficer(other))
	rs = c.mustOK(add2, byOther, remove).results
	used := auth(rs[1]).Record
	if bytes.Equal(used, valueAt(2, agCulture)) || bytes.Equal(used, valueAt(3, agCulture)) {
		t.Errorf("the record used in the block is a committed one: %s", used)
	}
	checkVerifies("by an officer added and removed in its block", byOther, rs[1], valueAt(2, agCulture))
	// The remove is authorized with the record holding the officer.
	if a := auth(rs[2]); !bytes.Equal(a.Record, used) {
		t.Errorf("remove authorized with %s, want %s", a.Record, used)
	}
}

// TestResultDataAfterGovernanceChange: an agency admitted by governance at
// the start of a block acts in that block; the state before the block has
// no record of it, so its tx's result carries the record.
func TestResultDataAfterGovernanceChange(t *testing.T) {
	c := govChain(t)
	id := c.propose(cultAdmin, proposeAdd("county-health", newValidator, 5, newAdmin))
	p := c.passNow(id)
	c.idle(p.Effective - 1)
	raw := c.tx(newAdmin, addOfficer(newOfficer("county-health", "grants"), ledger.RoleGrants))
	br := c.mustOK(raw)
	if br.height != p.Effective {
		t.Fatalf("height %d, effective %d", br.height, p.Effective)
	}
	d, err := ledger.DecodeResultData(br.results[0].Data)
	if err != nil || d.Auth == nil || d.Auth.Agency != "county-health" || len(d.Auth.Record) == 0 {
		t.Fatalf("result data %q: %v", br.results[0].Data, err)
	}
	tx, err := ledger.DecodeTx(raw, 0)
	if err != nil {
		t.Fatal(err)
	}
	ag, fromResult, err := verify.TxAuthority(tx, br.results[0].Data, nil)
	if err == nil {
		_, err = verify.TxSignatures(raw, ag)
	}
	if err != nil || !fromResult {
		t.Fatalf("the new agency's first tx does not verify: %v (from result %v)", err, fromResult)
	}
}
