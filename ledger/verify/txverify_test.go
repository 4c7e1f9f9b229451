package verify_test

// Transaction checks (TxInclusion, TxResult, TxSignatures) against real
// transactions of network A (see the fixture in header_test.go).

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/crypto/merkle"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/civicledger/civicledger/internal/keystore"
	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/verify"
)

// wantTxErr checks that err is a TxError at step (any step if "") whose
// reason contains reason.
func wantTxErr(t *testing.T, name string, err error, step, reason string) {
	t.Helper()
	if !errors.Is(err, verify.ErrTx) {
		t.Errorf("%s: accepted or wrong error class: %v", name, err)
		return
	}
	var te *verify.TxError
	if !errors.As(err, &te) {
		t.Errorf("%s: %v is not a *TxError", name, err)
		return
	}
	if step != "" && te.Step != step {
		t.Errorf("%s: failed at step %q (%v), want %q", name, te.Step, err, step)
	}
	if !strings.Contains(te.Reason, reason) {
		t.Errorf("%s: reason %q, want it to mention %q", name, te.Reason, reason)
	}
}

func cloneTxProof(p cmttypes.TxProof) cmttypes.TxProof {
	aunts := make([][]byte, len(p.Proof.Aunts))
	for i, a := range p.Proof.Aunts {
		aunts[i] = bytes.Clone(a)
	}
	return cmttypes.TxProof{
		RootHash: bytes.Clone(p.RootHash), Data: bytes.Clone(p.Data),
		Proof: merkle.Proof{Total: p.Proof.Total, Index: p.Proof.Index, LeafHash: bytes.Clone(p.Proof.LeafHash), Aunts: aunts},
	}
}

func TestTxInclusionLive(t *testing.T) {
	f := live(t)
	g, p := f.Grant, f.Payment
	hg, hp := f.verifiedA(t, g.Height), f.verifiedA(t, p.Height)
	if err := verify.TxInclusion(hg.Header, g.Hash, g.Raw, g.Proof); err != nil {
		t.Fatalf("grant tx rejected against its verified header %d: %v", g.Height, err)
	}
	if err := verify.TxInclusion(hp.Header, p.Hash, p.Raw, p.Proof); err != nil {
		t.Fatalf("payment tx rejected against its verified header %d: %v", p.Height, err)
	}
	q0, q1 := f.Pair[0], f.Pair[1]
	hq := f.verifiedA(t, q0.Height)
	for _, q := range f.Pair {
		if err := verify.TxInclusion(hq.Header, q.Hash, q.Raw, q.Proof); err != nil {
			t.Fatalf("tx %d of block %d rejected: %v", q.Index, q.Height, err)
		}
	}

	type tc struct {
		name   string
		header *cmttypes.Header
		hash   []byte
		tx     []byte
		proof  cmttypes.TxProof
		step   string
	}
	var cases []tc
	// Every byte of the tx, three ways: the hash no longer matches; the
	// forger recomputes the hash; the forger also changes the proof's copy.
	for i := range g.Raw {
		bad := flipAt(g.Raw, i)
		sum := sha256Sum(bad)
		pr := cloneTxProof(g.Proof)
		pr.Data = bad
		cases = append(cases,
			tc{fmt.Sprintf("tx byte %d flipped", i), hg.Header, g.Hash, bad, g.Proof, "hash"},
			tc{fmt.Sprintf("tx byte %d flipped, hash recomputed", i), hg.Header, sum, bad, g.Proof, "inclusion"},
			tc{fmt.Sprintf("tx byte %d flipped in tx and proof, hash recomputed", i), hg.Header, sum, bad, pr, "inclusion"},
		)
	}
	withProof := func(edit func(*cmttypes.TxProof)) cmttypes.TxProof {
		pr := cloneTxProof(g.Proof)
		edit(&pr)
		return pr
	}
	otherProof := cloneTxProof(p.Proof)
	otherProof.Data = g.Raw
	cases = append(cases,
		tc{"wrong hash (the payment's)", hg.Header, p.Hash, g.Raw, g.Proof, "hash"},
		tc{"wrong hash (one bit)", hg.Header, flipAt(g.Hash, 31), g.Raw, g.Proof, "hash"},
		tc{"no hash", hg.Header, nil, g.Raw, g.Proof, "hash"},
		tc{"proof of another tx", hg.Header, g.Hash, g.Raw, p.Proof, "inclusion"},
		tc{"proof of the other tx of the same block", hq.Header, q0.Hash, q0.Raw, q1.Proof, "inclusion"},
		tc{"proof of the other tx of the same block, its data replaced", hq.Header, q0.Hash, q0.Raw, func() cmttypes.TxProof { pr := cloneTxProof(q1.Proof); pr.Data = q0.Raw; return pr }(), "inclusion"},
		tc{"proof of the same tx with the other index", hq.Header, q0.Hash, q0.Raw, func() cmttypes.TxProof {
			pr := cloneTxProof(q0.Proof)
			pr.Proof.Index = 1 - pr.Proof.Index
			return pr
		}(), "inclusion"},
		tc{"proof of another tx, its data replaced", hg.Header, g.Hash, g.Raw, otherProof, "inclusion"},
		tc{"proof of another tx, against that tx's header", hp.Header, g.Hash, g.Raw, otherProof, "inclusion"},
		tc{"header of the next height", f.verifiedA(t, g.Height+1).Header, g.Hash, g.Raw, g.Proof, "inclusion"},
		tc{"header of the previous height", f.verifiedA(t, g.Height-1).Header, g.Hash, g.Raw, g.Proof, "inclusion"},
		tc{"header of the payment's height", hp.Header, g.Hash, g.Raw, g.Proof, "inclusion"},
		tc{"proof root flipped", hg.Header, g.Hash, g.Raw, withProof(func(pr *cmttypes.TxProof) { pr.RootHash = flipAt(pr.RootHash, 0) }), "inclusion"},
		tc{"proof leaf hash flipped", hg.Header, g.Hash, g.Raw, withProof(func(pr *cmttypes.TxProof) { pr.Proof.LeafHash = flipAt(pr.Proof.LeafHash, 0) }), "inclusion"},
		tc{"proof index moved", hg.Header, g.Hash, g.Raw, withProof(func(pr *cmttypes.TxProof) { pr.Proof.Index++ }), "inclusion"},
		tc{"proof total changed", hg.Header, g.Hash, g.Raw, withProof(func(pr *cmttypes.TxProof) { pr.Proof.Total++ }), "inclusion"},
		tc{"proof with an extra aunt", hg.Header, g.Hash, g.Raw, withProof(func(pr *cmttypes.TxProof) { pr.Proof.Aunts = append(pr.Proof.Aunts, g.Hash) }), "inclusion"},
		tc{"empty proof", hg.Header, g.Hash, g.Raw, cmttypes.TxProof{}, "inclusion"},
	)
	for i := range g.Proof.Proof.Aunts {
		cases = append(cases, tc{fmt.Sprintf("proof aunt %d flipped", i), hg.Header, g.Hash, g.Raw,
			withProof(func(pr *cmttypes.TxProof) { pr.Proof.Aunts[i] = flipAt(pr.Proof.Aunts[i], 5) }), "inclusion"})
	}
	for _, c := range cases {
		wantTxErr(t, c.name, verify.TxInclusion(c.header, c.hash, c.tx, c.proof), c.step, "")
	}
}

func cloneResults(rs []*abci.ExecTxResult) []*abci.ExecTxResult {
	out := make([]*abci.ExecTxResult, len(rs))
	for i, r := range rs {
		c := *r
		c.Data = bytes.Clone(r.Data)
		out[i] = &c
	}
	return out
}

func TestTxResultLive(t *testing.T) {
	f := live(t)
	g, p := f.Grant, f.Payment
	next := f.verifiedA(t, g.Height+1)
	results := f.results(t, g.Height)
	r, err := verify.TxResult(next.Header, results, int(g.Index))
	if err != nil {
		t.Fatalf("block_results of %d rejected against header %d: %v", g.Height, g.Height+1, err)
	}
	if r.Code != 0 || r.GasUsed != results[g.Index].GasUsed {
		t.Fatalf("TxResult returned %+v", r)
	}
	pResults := f.results(t, p.Height)
	if _, err := verify.TxResult(f.verifiedA(t, p.Height+1).Header, pResults, int(p.Index)); err != nil {
		t.Fatalf("block_results of %d rejected against header %d: %v", p.Height, p.Height+1, err)
	}

	pair := f.Pair[0].Height
	pairResults := f.results(t, pair)
	if len(pairResults) != 2 {
		t.Fatalf("block %d has %d results, want 2", pair, len(pairResults))
	}
	for i := range pairResults {
		if _, err := verify.TxResult(f.verifiedA(t, pair+1).Header, pairResults, i); err != nil {
			t.Fatalf("result %d of block %d rejected: %v", i, pair, err)
		}
	}
	// This app's successful results carry no data and no gas: every block
	// with one successful tx has the same LastResultsHash, so the payment
	// block's results verify for the grant's block. What they prove (tx 0
	// succeeded) is true of both; this pins that limit down.
	if _, err := verify.TxResult(next.Header, pResults, int(p.Index)); err != nil {
		t.Errorf("the payment block's results no longer match the grant block's (%v): use them as a tampering case", err)
	}

	edit := func(e func(rs []*abci.ExecTxResult) []*abci.ExecTxResult) []*abci.ExecTxResult {
		return e(cloneResults(results))
	}
	type tc struct {
		name    string
		next    *cmttypes.Header
		results []*abci.ExecTxResult
		index   int
		reason  string
	}
	cases := []tc{
		{"changed code", next.Header, edit(func(rs []*abci.ExecTxResult) []*abci.ExecTxResult { rs[g.Index].Code = 1; return rs }), int(g.Index), "LastResultsHash"},
		{"changed data", next.Header, edit(func(rs []*abci.ExecTxResult) []*abci.ExecTxResult {
			rs[g.Index].Data = append(rs[g.Index].Data, 'x')
			return rs
		}), int(g.Index), "LastResultsHash"},
		{"changed gas used", next.Header, edit(func(rs []*abci.ExecTxResult) []*abci.ExecTxResult { rs[g.Index].GasUsed++; return rs }), int(g.Index), "LastResultsHash"},
		{"changed gas wanted", next.Header, edit(func(rs []*abci.ExecTxResult) []*abci.ExecTxResult { rs[g.Index].GasWanted++; return rs }), int(g.Index), "LastResultsHash"},
		{"an extra result", next.Header, edit(func(rs []*abci.ExecTxResult) []*abci.ExecTxResult { return append(rs, rs[0]) }), int(g.Index), "LastResultsHash"},
		{"results of another block (two txs)", next.Header, pairResults, 0, "LastResultsHash"},
		{"results of an empty block", next.Header, f.results(t, g.Height-1), 0, "outside"},
		{"results checked against their own header, not the next", f.verifiedA(t, g.Height).Header, results, int(g.Index), "LastResultsHash"},
		{"results checked against the header after another block", f.verifiedA(t, pair+1).Header, results, int(g.Index), "LastResultsHash"},
		{"one result of a two-tx block", f.verifiedA(t, pair+1).Header, pairResults[:1], 0, "LastResultsHash"},
		{"index out of range (len)", next.Header, results, len(results), "outside"},
		{"index out of range (-1)", next.Header, results, -1, "outside"},
		{"no results", next.Header, nil, 0, "outside"},
	}
	for _, c := range cases {
		_, err := verify.TxResult(c.next, c.results, c.index)
		wantTxErr(t, c.name, err, "result", c.reason)
	}

	// Log, Info, Codespace and Events are not in LastResultsHash (CometBFT
	// hashes Code, Data, GasWanted and GasUsed only): a verifier must not
	// present them as verified. This pins down that limit.
	unhashed := edit(func(rs []*abci.ExecTxResult) []*abci.ExecTxResult {
		rs[g.Index].Log, rs[g.Index].Info, rs[g.Index].Codespace, rs[g.Index].Events = "forged", "forged", "forged", nil
		return rs
	})
	if _, err := verify.TxResult(next.Header, unhashed, int(g.Index)); err != nil {
		t.Errorf("Log/Info/Events are now hashed (%v): update TxResult's doc and this test", err)
	}
}

// agencyAt returns agency id's record at state height h, verified against
// the AppHash of A's verified header h+1.
func (f *liveFixture) agencyAt(t *testing.T, id string, h int64) *ledger.Agency {
	t.Helper()
	res := f.query(t, ledger.StoreAgencies, ledger.RecordKey(id), h)
	hdr := f.verifiedA(t, h+1)
	if _, err := verify.StoreValue(hdr.AppHash, ledger.StoreAgencies, ledger.RecordKey(id), res.Value, res.ProofOps.Ops); err != nil {
		t.Fatalf("agency %s at %d: %v", id, h, err)
	}
	var ag ledger.Agency
	if err := json.Unmarshal(res.Value, &ag); err != nil {
		t.Fatal(err)
	}
	return &ag
}

func TestTxSignaturesLive(t *testing.T) {
	f := live(t)
	g, p := f.Grant, f.Payment
	ag := f.agencyAt(t, "agency-1", g.Height-1)
	tx, err := verify.TxSignatures(g.Raw, ag)
	if err != nil {
		t.Fatalf("grant tx rejected with the agency record at %d: %v", g.Height-1, err)
	}
	if tx.Body.Type != ledger.TypeGrantAward || tx.Body.Agency != "agency-1" || tx.Hash != [32]byte(g.Hash) {
		t.Fatalf("decoded %s by %s, hash %X", tx.Body.Type, tx.Body.Agency, tx.Hash)
	}
	pAg := f.agencyAt(t, "agency-1", p.Height-1)
	if _, err := verify.TxSignatures(p.Raw, pAg); err != nil {
		t.Fatalf("payment tx rejected with the agency record at %d: %v", p.Height-1, err)
	}

	var env ledger.Envelope
	if err := json.Unmarshal(g.Raw, &env); err != nil {
		t.Fatal(err)
	}
	if re, _ := ledger.Canonical(env); !bytes.Equal(re, g.Raw) {
		t.Fatal("re-encoding the envelope does not give the tx back")
	}
	reencode := func(e func(*ledger.Envelope)) []byte {
		var c ledger.Envelope
		_ = json.Unmarshal(g.Raw, &c)
		e(&c)
		raw, err := ledger.Canonical(c)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	signer := env.Signatures[0].PubKey
	editAgency := func(e func(*ledger.Agency)) *ledger.Agency {
		c := f.agencyAt(t, "agency-1", g.Height-1)
		e(c)
		return c
	}
	// A tx of agency-1 signed, validly, by agency-2's grants officer.
	ks, err := keystore.Open(f.A.net.KeyDir(1), keystore.BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := ks.PrivKey("grants")
	if err != nil {
		t.Fatal(err)
	}
	var body ledger.Body
	if err := json.Unmarshal(env.Body, &body); err != nil {
		t.Fatal(err)
	}
	body.Signer = k2.Public().(ed25519.PublicKey)
	foreign, err := ledger.SignTx(body, k2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify.TxSignatures(foreign, f.agencyAt(t, "agency-2", g.Height-1)); err == nil {
		t.Fatal("a tx for agency-1 accepted with agency-2's record")
	}
	after := f.OfficersChanged

	type tc struct {
		name   string
		raw    []byte
		agency *ledger.Agency
		step   string
	}
	var cases []tc
	for i := range env.Signatures[0].Signature {
		cases = append(cases, tc{fmt.Sprintf("signature byte %d flipped", i), reencode(func(e *ledger.Envelope) {
			e.Signatures[0].Signature = flipAt(e.Signatures[0].Signature, i)
		}), ag, "signature"})
	}
	// Every byte of the raw tx: broken JSON, a non-canonical encoding, another
	// body or another signature — never a valid tx.
	for i := range g.Raw {
		cases = append(cases, tc{fmt.Sprintf("raw byte %d flipped", i), flipAt(g.Raw, i), ag, "signature"})
	}
	cases = append(cases,
		tc{"signer key flipped", reencode(func(e *ledger.Envelope) { e.Signatures[0].PubKey = flipAt(e.Signatures[0].PubKey, 0) }), ag, "signature"},
		tc{"signature removed", reencode(func(e *ledger.Envelope) { e.Signatures = nil }), ag, "signature"},
		tc{"signature duplicated", reencode(func(e *ledger.Envelope) { e.Signatures = append(e.Signatures, e.Signatures[0]) }), ag, ""},
		tc{"signature of the payment tx", reencode(func(e *ledger.Envelope) {
			var pe ledger.Envelope
			_ = json.Unmarshal(p.Raw, &pe)
			e.Signatures = pe.Signatures
		}), ag, "signature"},
		tc{"no agency record", g.Raw, nil, "officer"},
		tc{"another agency's record (agency-2 at H-1)", g.Raw, f.agencyAt(t, "agency-2", g.Height-1), "officer"},
		tc{"record where the signer is not an officer", g.Raw, editAgency(func(a *ledger.Agency) {
			for i, o := range a.Officers {
				if bytes.Equal(o.Key, signer) {
					a.Officers = append(a.Officers[:i], a.Officers[i+1:]...)
					break
				}
			}
		}), "officer"},
		tc{"record where the signer lacks the grants role", g.Raw, editAgency(func(a *ledger.Agency) {
			a.Officer(signer).Roles = []ledger.Role{ledger.RoleFinance}
		}), "officer"},
		tc{"record where the signer has no role", g.Raw, editAgency(func(a *ledger.Agency) { a.Officer(signer).Roles = nil }), "officer"},
		tc{"another agency's officer signing for agency-1", foreign, ag, "officer"},
		// Real governance: by height OfficersChanged, agency-1's admin had
		// removed the grants officer and made the finance officer a
		// licensing officer. The txs were valid before, not after.
		tc{"grant tx with the record after its signer was removed", g.Raw, f.agencyAt(t, "agency-1", after), "officer"},
		tc{"payment tx with the record after its signer lost the finance role", p.Raw, f.agencyAt(t, "agency-1", after), "officer"},
	)
	for _, c := range cases {
		_, err := verify.TxSignatures(c.raw, c.agency)
		wantTxErr(t, c.name, err, c.step, "")
	}
}

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}
