package ledger_test

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/civicledger/civicledger/ledger"
)

// ---- authorization ----

func TestAuthorization(t *testing.T) {
	runTxCases(t, []txCase{
		{name: "unknown agency", tx: func(c *chain) []byte {
			return c.txFor("ministry-of-magic", cultAdmin, addOfficer(newcomer, ledger.RoleAdmin))
		}, want: ledger.ErrUnknownAgency},
		{name: "signer not an officer", tx: func(c *chain) []byte { return c.txFor(agCulture, outsider, award("g-new", "1")) }, want: ledger.ErrNotOfficer},
		{name: "signer officer of another agency", tx: func(c *chain) []byte { return c.txFor(agWorks, cultGrants, award("g-new", "1")) }, want: ledger.ErrNotOfficer},
		{name: "co-signer not an officer", tx: func(c *chain) []byte { return c.tx(cultGrants, award("g-new", "1"), outsider) }, want: ledger.ErrNotOfficer},
		{name: "wrong role", tx: func(c *chain) []byte { return c.tx(cultLic, pay("p-new", "", "1")) }, want: ledger.ErrMissingRole},
		{name: "amend another agency's grant", tx: func(c *chain) []byte { return c.tx(worksAdmin, amend("g-open", "6000000")) }, want: ledger.ErrWrongAgency},
		{name: "suspend another agency's licence", tx: func(c *chain) []byte { return c.tx(worksLic, suspend("l-issued")) }, want: ledger.ErrWrongAgency},
		{name: "reverse another agency's payment", tx: func(c *chain) []byte { return c.tx(worksFin, reverse("p-free")) }, want: ledger.ErrWrongAgency},
		{name: "pay against another agency's grant", tx: func(c *chain) []byte { return c.tx(worksFin, pay("w-new", "g-open", "1")) }, want: ledger.ErrWrongAgency},
		{name: "officer with every role", tx: func(c *chain) []byte { return c.tx(taxAdmin, pay("t-pay", "", "1")) }},
	})
}

// ---- replay protection ----

func TestReplaySameBlockAndLater(t *testing.T) {
	c := newFixture(t)
	raw := c.tx(cultGrants, award("g-new", "1000"))
	br := c.block(raw, raw)
	expectResult(t, br.results[0], nil)
	expectResult(t, br.results[1], ledger.ErrNonceReplayed)
	want := fixtureCultEUR
	want.Awarded += 1000
	want.Grants++
	wantTotals(t, c, want)

	expectResult(t, c.run(raw), ledger.ErrNonceReplayed)

	// Another payload under the same nonce.
	tx, err := ledger.DecodeTx(raw, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := c.body(cultGrants, award("g-other", "1000"))
	b.Nonce = tx.Body.Nonce
	expectResult(t, c.run(sign(t, b, cultGrants)), ledger.ErrNonceReplayed)
	wantAbsent(t, c, ledger.StoreGrants, "g-other")

	// Nonces are per signer: another officer (who has not used it) may use
	// the same number.
	b = c.body(cultAdmin, addOfficer(newcomer, ledger.RoleFinance))
	b.Nonce = tx.Body.Nonce
	expectResult(t, c.run(sign(t, b, cultAdmin)), nil)
}

func TestNonceConsumedByRejectedTx(t *testing.T) {
	c := newFixture(t)
	raw := c.tx(cultGrants, award("g-open", "1000")) // duplicate id
	tx, err := ledger.DecodeTx(raw, 0)
	if err != nil {
		t.Fatal(err)
	}
	expectResult(t, c.run(raw), ledger.ErrAlreadyExists)
	nk, ek := nonceKeys(cultGrants, tx.Body.Nonce, tx.Body.ExpiresAt)
	if !c.has(ledger.StoreMeta, nk) || !c.has(ledger.StoreMeta, ek) {
		t.Fatalf("nonce keys %s, %s absent after rejected tx", nk, ek)
	}
	expectResult(t, c.run(raw), ledger.ErrNonceReplayed)
	b := c.body(cultGrants, award("g-new", "1000"))
	b.Nonce = tx.Body.Nonce
	expectResult(t, c.run(sign(t, b, cultGrants)), ledger.ErrNonceReplayed)
	wantAbsent(t, c, ledger.StoreGrants, "g-new")
}

// TestNonceConsumedOnMissingRole: an officer's signed bytes rejected for a
// missing role must not succeed later, once the officer has the role.
func TestNonceConsumedOnMissingRole(t *testing.T) {
	c := newFixture(t)
	raw := c.tx(cultGrants, pay("p-sneaky", "", "1000"))
	expectResult(t, c.run(raw), ledger.ErrMissingRole)
	c.mustOK(c.tx(cultAdmin, setRoles(cultGrants, ledger.RoleFinance, ledger.RoleGrants)))
	expectResult(t, c.run(raw), ledger.ErrNonceReplayed)
	wantAbsent(t, c, ledger.StorePayments, "p-sneaky")
}

// TestNonceConsumedUnauthenticated: a signed transaction whose signers are
// not (yet) officers of the agency, or whose agency does not (yet) exist,
// writes no record but consumes its nonce: its bytes must not succeed once
// the key is added or the agency admitted.
func TestNonceConsumedUnauthenticated(t *testing.T) {
	c := newFixture(t)
	for _, tc := range []struct {
		raw  []byte
		want *ledger.Error
		o    *officer
	}{
		{c.txFor("no-such-agency", cultGrants, award("g-new", "1")), ledger.ErrUnknownAgency, cultGrants},
		{c.txFor(agWorks, cultGrants, award("g-new", "1")), ledger.ErrNotOfficer, cultGrants},
		{c.txFor(agCulture, outsider, award("g-new", "1")), ledger.ErrNotOfficer, outsider},
	} {
		tx, err := ledger.DecodeTx(tc.raw, 0)
		if err != nil {
			t.Fatal(err)
		}
		expectResult(t, c.run(tc.raw), tc.want)
		wantAbsent(t, c, ledger.StoreGrants, "g-new")
		nk, ek := nonceKeys(tc.o, tx.Body.Nonce, tx.Body.ExpiresAt)
		if !c.has(ledger.StoreMeta, nk) || !c.has(ledger.StoreMeta, ek) {
			t.Fatalf("%v: nonce not consumed", tc.want)
		}
		expectResult(t, c.run(tc.raw), ledger.ErrNonceReplayed)
	}
}

// TestRejectedTxNotReplayableAfterOfficerAdded: a tx signed by a key that is
// not yet an officer is included with ErrNotOfficer; resubmitted byte for
// byte after the key is made an officer, it is a replay.
func TestRejectedTxNotReplayableAfterOfficerAdded(t *testing.T) {
	c := newFixture(t)
	raw := c.tx(newcomer, award("g-early", "1000"))
	expectResult(t, c.run(raw), ledger.ErrNotOfficer)
	c.mustOK(c.tx(cultAdmin, addOfficer(newcomer, ledger.RoleGrants)))
	expectResult(t, c.run(raw), ledger.ErrNonceReplayed)
	wantAbsent(t, c, ledger.StoreGrants, "g-early")
	// A fresh tx of the new officer works.
	c.mustOK(c.tx(newcomer, award("g-later", "1000")))
}

// TestExpiryTooFarWritesNothing: a tx whose expires_at is beyond the
// window is refused before its nonce is recorded, so a proposer cannot make
// the state keep a nonce entry until an arbitrary height.
func TestExpiryTooFarWritesNothing(t *testing.T) {
	gs := testGenesis()
	gs.Params.ReplayWindow = 5
	c := newChainWith(t, gs)
	b := c.body(cultGrants, award("g-far", "1000"))
	b.ExpiresAt = math.MaxInt64
	raw := sign(t, b, cultGrants)
	expectResult(t, c.run(raw), ledger.ErrExpiryTooFar)
	nk, ek := nonceKeys(cultGrants, b.Nonce, b.ExpiresAt)
	if c.has(ledger.StoreMeta, nk) || c.has(ledger.StoreMeta, ek) {
		t.Fatal("a tx refused for an expiry beyond the window left nonce keys in state (kept until that expiry: forever)")
	}
	wantAbsent(t, c, ledger.StoreGrants, "g-far")
}

// TestNonceExtendedByLaterExpiry: a second tx under a used nonce, with a
// later expiry, is refused as a replay and stays refused after the first
// tx's entry would have been pruned.
func TestNonceExtendedByLaterExpiry(t *testing.T) {
	c := newFixture(t)
	b1 := c.body(cultGrants, award("g-first", "1000"))
	b1.ExpiresAt = c.height + 2
	c.mustOK(sign(t, b1, cultGrants))
	b2 := c.body(cultGrants, award("g-second", "1000"))
	b2.Nonce = b1.Nonce
	b2.ExpiresAt = c.height + 20
	raw2 := sign(t, b2, cultGrants)
	expectResult(t, c.run(raw2), ledger.ErrNonceReplayed)
	for c.height < b1.ExpiresAt+2 {
		c.block()
	}
	expectResult(t, c.run(raw2), ledger.ErrNonceReplayed)
	wantAbsent(t, c, ledger.StoreGrants, "g-second")
	_, oldExp := nonceKeys(cultGrants, b1.Nonce, b1.ExpiresAt)
	nk, ek := nonceKeys(cultGrants, b2.Nonce, b2.ExpiresAt)
	if c.has(ledger.StoreMeta, oldExp) || !c.has(ledger.StoreMeta, nk) || !c.has(ledger.StoreMeta, ek) {
		t.Fatal("nonce entry not moved to the later expiry")
	}
	for c.height < b2.ExpiresAt+1 {
		c.block()
	}
	if c.has(ledger.StoreMeta, nk) || c.has(ledger.StoreMeta, ek) {
		t.Fatal("nonce keys not pruned after the later expiry")
	}
}

func TestExpiry(t *testing.T) {
	c := newFixture(t)
	next := c.height + 1
	window := c.params.ReplayWindow
	cases := []struct {
		name    string
		expires int64
		want    *ledger.Error
	}{
		{"expired long ago", 1, ledger.ErrTxExpired},
		{"expired at the previous height", next - 1, ledger.ErrTxExpired},
		{"expires at this height", next, nil},
		{"at the end of the window", next + window, nil},
		{"one past the window", next + window + 1, ledger.ErrExpiryTooFar},
		{"far future", math.MaxInt64, ledger.ErrExpiryTooFar},
	}
	var raws [][]byte
	for i, tc := range cases {
		b := c.body(cultGrants, award("g-exp-"+strconv.Itoa(i), "1000"))
		b.ExpiresAt = tc.expires
		raws = append(raws, sign(t, b, cultGrants))
	}
	br := c.block(raws...)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			expectResult(t, br.results[i], tc.want)
			if (c.grant("g-exp-"+strconv.Itoa(i)) != nil) != (tc.want == nil) {
				t.Fatal("grant presence does not match result")
			}
		})
	}
}

func TestNoncePruning(t *testing.T) {
	c := newFixture(t)
	b := c.body(cultGrants, award("g-new", "1000"))
	b.ExpiresAt = c.height + 2 // valid in the next two blocks
	raw := sign(t, b, cultGrants)
	nk, ek := nonceKeys(cultGrants, b.Nonce, b.ExpiresAt)

	expectResult(t, c.run(raw), nil) // height h+1
	if !c.has(ledger.StoreMeta, nk) || !c.has(ledger.StoreMeta, ek) {
		t.Fatalf("nonce keys %s, %s missing", nk, ek)
	}
	if v, _ := c.view().Get(ledger.StoreMeta, []byte(nk)); string(v) != strconv.FormatInt(b.ExpiresAt, 10) {
		t.Fatalf("nonce value %q", v)
	}
	expectResult(t, c.run(raw), ledger.ErrNonceReplayed) // h+2: last valid height
	if !c.has(ledger.StoreMeta, nk) || !c.has(ledger.StoreMeta, ek) {
		t.Fatal("nonce pruned before expiry")
	}
	expectResult(t, c.run(raw), ledger.ErrTxExpired) // h+3: pruned in BeginBlock
	if c.has(ledger.StoreMeta, nk) || c.has(ledger.StoreMeta, ek) {
		t.Fatal("nonce keys not pruned after expiry")
	}
	// Every nonce of the fixture (expiring at 101..103) goes eventually.
	for c.height < 105 {
		c.block()
	}
	n := 0
	iterate(t, c.view(), ledger.StoreMeta, "nonce", func(string, string) { n++ })
	if n != 0 {
		t.Fatalf("%d nonce keys left after every tx expired", n)
	}
	wantGrant(t, c, "g-new", ledger.GrantAwarded, 1000, 0, 0)
}

func TestWrongChainID(t *testing.T) {
	c := newFixture(t)
	for _, id := range []string{"civic-test-2", "civic-test-1 ", "CIVIC-TEST-1"} {
		b := c.body(cultGrants, award("g-new", "1000"))
		b.ChainID = id
		before := c.snapshot()
		res := c.run(sign(t, b, cultGrants))
		if id == "civic-test-1 " {
			expectResult(t, res, ledger.ErrInvalidField) // trailing space: not a valid chain id at all
		} else {
			expectResult(t, res, ledger.ErrWrongChainID)
		}
		noChanges(t, before, c.snapshot())
		nk, _ := nonceKeys(cultGrants, b.Nonce, b.ExpiresAt)
		if c.has(ledger.StoreMeta, nk) {
			t.Fatal("nonce consumed by tx for another chain")
		}
	}
}

func TestTxTooLarge(t *testing.T) {
	gs := testGenesis()
	gs.Params.MaxTxBytes = 1024
	c := newChainWith(t, gs)
	p := pay("p-1", "", "1000")
	p.Purpose = string(bytes.Repeat([]byte("x"), 1000))
	raw := c.tx(cultFin1, p)
	if len(raw) <= 1024 {
		t.Fatalf("test tx is only %d bytes", len(raw))
	}
	// Through the harness (DecodeTx with the limit).
	expectResult(t, c.run(raw), ledger.ErrTxTooLarge)
	// Decoded without a limit, Deliver still enforces params.max_tx_bytes.
	tx, err := ledger.DecodeTx(raw, 0)
	if err != nil {
		t.Fatal(err)
	}
	br := c.blockWith(func(blk *ledger.Block) []ledger.Result { return []ledger.Result{blk.Deliver(tx)} })
	expectResult(t, br.results[0], ledger.ErrTxTooLarge)
	wantAbsent(t, c, ledger.StorePayments, "p-1")
	nk, _ := nonceKeys(cultFin1, tx.Body.Nonce, tx.Body.ExpiresAt)
	if c.has(ledger.StoreMeta, nk) {
		t.Fatal("nonce consumed by oversized tx")
	}

	// Exactly at the limit is fine.
	if _, err := ledger.DecodeTx(raw, int64(len(raw))); err != nil {
		t.Fatalf("at limit: %v", err)
	}
	_, err = ledger.DecodeTx(raw, int64(len(raw))-1)
	expectErr(t, err, ledger.ErrTxTooLarge)
}

// ---- signatures ----

func reencode(t *testing.T, raw []byte, mutate func(env *ledger.Envelope)) []byte {
	t.Helper()
	var env ledger.Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	mutate(&env)
	out, err := ledger.Canonical(env)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSignatures(t *testing.T) {
	c := newFixture(t)
	good := func() []byte { return c.tx(cultFin1, pay("p-new", "", "2000000"), cultFin2) }
	cases := []struct {
		name string
		raw  []byte
		want *ledger.Error
	}{
		{"valid", good(), nil},
		{"first signature byte flipped", reencode(t, good(), func(e *ledger.Envelope) { e.Signatures[0].Signature[10] ^= 1 }), ledger.ErrBadSignature},
		{"second signature byte flipped", reencode(t, good(), func(e *ledger.Envelope) { e.Signatures[1].Signature[63] ^= 0x80 }), ledger.ErrBadSignature},
		{"body changed after signing", reencode(t, good(), func(e *ledger.Envelope) {
			e.Body = bytes.Replace(e.Body, []byte(`"amount":"2000000"`), []byte(`"amount":"2000001"`), 1)
		}), ledger.ErrBadSignature},
		{"signatures swapped", reencode(t, good(), func(e *ledger.Envelope) {
			e.Signatures[0].Signature, e.Signatures[1].Signature = e.Signatures[1].Signature, e.Signatures[0].Signature
		}), ledger.ErrBadSignature},
		{"signature without domain prefix", reencode(t, good(), func(e *ledger.Envelope) {
			e.Signatures = e.Signatures[:1]
			e.Signatures[0].Signature = ed25519Sign(cultFin1, e.Body)
		}), ledger.ErrBadSignature},
		{"signer mismatch", func() []byte {
			b := c.body(cultFin1, pay("p-new", "", "2000000"))
			return sign(t, b, cultFin2, cultFin1)
		}(), ledger.ErrSignerMismatch},
		{"signer mismatch, signer absent", func() []byte {
			b := c.body(cultFin1, pay("p-new", "", "1000"))
			return sign(t, b, cultFin2)
		}(), ledger.ErrSignerMismatch},
		{"duplicate signer", func() []byte {
			b := c.body(cultFin1, pay("p-new", "", "2000000"))
			return sign(t, b, cultFin1, cultFin2, cultFin1)
		}(), ledger.ErrDuplicateSigner},
		{"no signatures", reencode(t, good(), func(e *ledger.Envelope) { e.Signatures = nil }), ledger.ErrNoSignature},
		{"empty signature list", reencode(t, good(), func(e *ledger.Envelope) { e.Signatures = []ledger.Signature{} }), ledger.ErrNoSignature},
		{"five signatures", func() []byte {
			b := c.body(cultFin1, pay("p-new", "", "2000000"))
			return sign(t, b, cultFin1, cultFin2, cultAdmin, cultGrants, cultLic)
		}(), ledger.ErrInvalidField},
		{"short signature", reencode(t, good(), func(e *ledger.Envelope) { e.Signatures[1].Signature = e.Signatures[1].Signature[:63] }), ledger.ErrBadSignature},
		{"long signature", reencode(t, good(), func(e *ledger.Envelope) { e.Signatures[1].Signature = append(e.Signatures[1].Signature, 0) }), ledger.ErrBadSignature},
		{"short public key", reencode(t, good(), func(e *ledger.Envelope) { e.Signatures[1].PubKey = e.Signatures[1].PubKey[:31] }), ledger.ErrInvalidKey},
		{"signature by another key", reencode(t, good(), func(e *ledger.Envelope) {
			e.Signatures[1].Signature = ed25519Sign(worksFin, ledger.SignBytes(e.Body))
		}), ledger.ErrBadSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := c.snapshot()
			expectResult(t, c.run(tc.raw), tc.want)
			if tc.want != nil {
				noChanges(t, before, c.snapshot())
			}
		})
	}
}

func TestSignTxChecksKeys(t *testing.T) {
	// SignTx signs with whatever keys it gets; the decoder catches a first
	// key that is not body.signer.
	b, err := ledger.NewBody(testChainID, agCulture, cultFin1.pub, 1, 10, pay("p", "", "1"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ledger.DecodeTx(sign(t, b, cultFin2), 0)
	expectErr(t, err, ledger.ErrSignerMismatch)
	tx, err := ledger.DecodeTx(sign(t, b, cultFin1), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.VerifySignatures(); err != nil {
		t.Fatal(err)
	}
}

// ---- determinism ----

// TestDeterminism applies the same blocks (a fixed script, then a random
// sequence) to two separate stores and compares the hashes at every height.
func TestDeterminism(t *testing.T) {
	a, b := newChain(t), newChain(t)
	both := func(raws ...[]byte) {
		t.Helper()
		ra, rb := a.block(raws...), b.block(raws...)
		compareBlocks(t, ra, rb)
		if !bytes.Equal(a.kv.WorkingHash(), b.kv.WorkingHash()) {
			t.Fatalf("height %d: working hashes differ", ra.height)
		}
	}
	// Build the transactions with chain a's nonces; b gets the same bytes.
	both(
		a.tx(cultGrants, award("d-g1", "5000000")), a.tx(worksAdmin, award("d-w1", "700000")),
		a.tx(cultLic, issue("d-l1", "2025-03-11")), a.tx(cultLic, issue("d-l2", "2026-01-01")),
	)
	both(
		a.tx(cultFin1, pay("d-p1", "d-g1", "3000000"), cultFin2), a.tx(worksFin, pay("d-wp1", "d-w1", "700000")),
		a.tx(cultAdmin, addOfficer(newcomer, ledger.RoleFinance)), a.tx(cultGrants, award("d-g1", "1")),
	)
	both(
		a.tx(newcomer, reverse("d-p1"), cultFin1), a.tx(cultLic, suspend("d-l2")), a.tx(cultGrants, amend("d-g1", "6000000")),
		a.tx(worksAdmin, closeGrant("d-w1")), a.tx(cultAdmin, setRoles(newcomer, ledger.RoleGrants)),
	)
	a.now = time.Date(2025, 3, 12, 0, 0, 0, 0, time.UTC)
	b.now = a.now
	both(a.tx(cultLic, reinstate("d-l2")), a.tx(cultAdmin, removeOfficer(newcomer)))

	// A random sequence driven like FuzzApplySequence (its ids, g-N and
	// p-N, are distinct from the script's).
	data := make([]byte, 600)
	for i := range data {
		data[i] = byte((i*7919 + i*i*31) >> 3)
	}
	runSequence(t, data, a, b)
}

func compareBlocks(t testing.TB, ra, rb *blockResult) {
	t.Helper()
	if !bytes.Equal(ra.appHash, rb.appHash) {
		t.Fatalf("height %d: app hashes differ: %X vs %X", ra.height, ra.appHash, rb.appHash)
	}
	if len(ra.results) != len(rb.results) || len(ra.begin) != len(rb.begin) {
		t.Fatalf("height %d: result counts differ", ra.height)
	}
	for i := range ra.results {
		x, y := ra.results[i], rb.results[i]
		if x.Code != y.Code || x.Log != y.Log || !eventsEqual(x.Events, y.Events) {
			t.Fatalf("height %d tx %d: results differ: %+v vs %+v", ra.height, i, x, y)
		}
	}
	if !eventsEqual(ra.begin, rb.begin) {
		t.Fatalf("height %d: BeginBlock events differ", ra.height)
	}
}

func eventsEqual(a, b []ledger.Event) bool {
	return slices.EqualFunc(a, b, func(x, y ledger.Event) bool { return x.Type == y.Type && slices.Equal(x.Attrs, y.Attrs) })
}

// ---- overlay (CheckTx) ----

// TestOverlayMatchesStore applies a block to an Overlay over the committed
// view (as CheckTx does) and to the store itself: same results, and the view
// is untouched.
func TestOverlayMatchesStore(t *testing.T) {
	c := newFixture(t)
	raws := [][]byte{
		c.tx(cultGrants, award("g-new", "1000")),
		c.tx(cultFin1, pay("p-new", "g-new", "1000")),
		c.tx(cultFin1, pay("p-new2", "g-new", "1")),
		c.tx(cultFin2, reverse("p-new")),
		c.tx(cultLic, revokeLicence("l-issued")),
		c.tx(cultAdmin, removeOfficer(cultFin2)),
		c.tx(cultFin2, reverse("p-free")),
	}
	view := c.view()
	before := c.snapshot()
	ov := ledger.NewOverlay(view)
	blk, _, err := ledger.BeginBlock(ov, ledger.BlockInfo{ChainID: testChainID, Height: c.height + 1, Time: c.now})
	if err != nil {
		t.Fatal(err)
	}
	var ovResults []ledger.Result
	for _, raw := range raws {
		ovResults = append(ovResults, deliverRaw(blk, raw))
	}
	if err := blk.End(); err != nil {
		t.Fatal(err)
	}
	checkAllInvariants(t, ov)
	noChanges(t, before, c.snapshot())

	br := c.block(raws...)
	for i := range raws {
		x, y := ovResults[i], br.results[i]
		if x.Code != y.Code || x.Log != y.Log || !eventsEqual(x.Events, y.Events) {
			t.Fatalf("tx %d: overlay %+v, store %+v", i, x, y)
		}
	}
	wantCodes := []ledger.Code{0, 0, ledger.ErrOverpayment.Code, 0, 0, 0, ledger.ErrNotOfficer.Code}
	for i, r := range br.results {
		if r.Code != wantCodes[i] {
			t.Fatalf("tx %d: code %d (%s), want %d", i, r.Code, r.Log, wantCodes[i])
		}
	}
}

// hasAttr reports whether an event of type typ has the attribute key=value.
func hasAttr(events []ledger.Event, typ, key, value string) bool {
	for _, e := range events {
		for _, a := range e.Attrs {
			if e.Type == typ && a.Key == key && a.Value == value {
				return true
			}
		}
	}
	return false
}
