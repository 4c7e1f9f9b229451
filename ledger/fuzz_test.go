package ledger_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/civicledger/civicledger/ledger"
)

// seedTxs returns one valid signed transaction of every type, with fixed
// nonces, valid against the fixture state. Keys and ed25519 signatures are
// deterministic, so the bytes never change.
func seedTxs(t testing.TB) map[string][]byte {
	t.Helper()
	mk := func(o *officer, p ledger.Payload, nonce uint64, co ...*officer) []byte {
		b, err := ledger.NewBody(testChainID, o.agency, o.pub, nonce, 100, p)
		if err != nil {
			t.Fatal(err)
		}
		return sign(t, b, append([]*officer{o}, co...)...)
	}
	return map[string][]byte{
		ledger.TypeGrantAward:       mk(cultGrants, award("g-seed", "250000"), 1001),
		ledger.TypeGrantAmend:       mk(cultGrants, amend("g-open", "5500000"), 1002),
		ledger.TypeGrantClose:       mk(cultGrants, closeGrant("g-small"), 1003),
		ledger.TypeGrantRevoke:      mk(cultGrants, revokeGrant("g-usd"), 1004),
		ledger.TypeLicenceIssue:     mk(cultLic, issue("l-seed", "2026-06-30"), 1001),
		ledger.TypeLicenceRenew:     mk(cultLic, renew("l-issued", "2027-06-30"), 1002),
		ledger.TypeLicenceSuspend:   mk(cultLic, suspend("l-issued"), 1003),
		ledger.TypeLicenceReinstate: mk(cultLic, reinstate("l-suspended"), 1004),
		ledger.TypeLicenceRevoke:    mk(cultLic, revokeLicence("l-renewed"), 1005),
		ledger.TypePaymentRecord:    mk(cultFin1, pay("p-seed", "g-open", "1500000"), 1001, cultFin2),
		ledger.TypePaymentReverse:   mk(cultFin1, reverse("p-free"), 1002),
		ledger.TypeOfficerAdd:       mk(cultAdmin, addOfficer(newcomer, ledger.RoleFinance, ledger.RoleLicensing), 1001),
		ledger.TypeOfficerRemove:    mk(cultAdmin, removeOfficer(cultFin2), 1002),
		ledger.TypeOfficerSetRoles:  mk(cultAdmin, setRoles(cultLic, ledger.RoleGrants, ledger.RoleLicensing), 1003),
		ledger.TypeGovPropose:       mk(cultAdmin, proposeAdd("county-health", newValidator, 5, newAdmin), 1004),
		ledger.TypeGovVote:          mk(worksAdmin, vote(1, ledger.VoteYes), 1001),
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// FuzzDecodeTx: DecodeTx never panics, every error carries a registered
// code, and a transaction that decodes is canonical: re-encoding the
// envelope gives the input bytes back. A decoded transaction is also
// delivered against the fixture state (on a throwaway overlay), which must
// not panic nor fail with an internal error.
func FuzzDecodeTx(f *testing.F) {
	seeds := seedTxs(f)
	for _, k := range sortedKeys(seeds) {
		f.Add(seeds[k])
	}
	f.Add([]byte(`{"body":{},"signatures":[]}`))
	f.Add([]byte(`{"body":null,"signatures":null}`))

	fx := newFixture(f)
	view := fx.view()
	info := ledger.BlockInfo{ChainID: testChainID, Height: fx.height + 1, Time: fx.now}

	f.Fuzz(func(t *testing.T, data []byte) {
		tx, err := ledger.DecodeTx(data, 64<<10)
		// strictDecode's fast path must give what the full decoding gives
		ref, rerr := ledger.DecodeTxFull(data, 64<<10)
		if fmt.Sprint(err) != fmt.Sprint(rerr) || ledger.CodeOf(err) != ledger.CodeOf(rerr) {
			t.Fatalf("DecodeTx: %v (code %d); without the fast path: %v (code %d)", err, ledger.CodeOf(err), rerr, ledger.CodeOf(rerr))
		}
		if !reflect.DeepEqual(tx, ref) {
			t.Fatalf("DecodeTx: %+v; without the fast path: %+v", tx, ref)
		}
		if err != nil {
			if tx != nil {
				t.Fatal("DecodeTx returned a tx with an error")
			}
			if ledger.CodeOf(err) == ledger.CodeInternal {
				t.Fatalf("decode error without a ledger code: %v", err)
			}
			return
		}
		out, err := ledger.Canonical(ledger.Envelope{Body: tx.BodyBytes, Signatures: tx.Signatures})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, data) {
			t.Fatalf("decoded tx is not canonical:\n in  %q\n out %q", data, out)
		}
		if bb, _ := ledger.Canonical(tx.Body); !bytes.Equal(bb, tx.BodyBytes) {
			t.Fatalf("body not canonical: %q vs %q", bb, tx.BodyBytes)
		}
		if pb, _ := ledger.Canonical(tx.Payload); !bytes.Equal(pb, tx.Body.Payload) {
			t.Fatalf("payload not canonical: %q vs %q", pb, tx.Body.Payload)
		}
		if tx.Payload.Type() != tx.Body.Type {
			t.Fatalf("payload type %s, body type %s", tx.Payload.Type(), tx.Body.Type)
		}
		if tx.Hash != sha256.Sum256(data) || !bytes.Equal(tx.Raw, data) {
			t.Fatal("hash or raw bytes wrong")
		}
		sigErr := tx.VerifySignatures()
		if sigErr != nil && ledger.CodeOf(sigErr) != ledger.ErrBadSignature.Code {
			t.Fatalf("signature error %v", sigErr)
		}

		blk, _, err := ledger.BeginBlock(ledger.NewOverlay(view), info)
		if err != nil {
			t.Fatal(err)
		}
		res := blk.Deliver(tx)
		if res.Code == ledger.CodeInternal {
			t.Fatalf("internal error: %s", res.Log)
		}
		if err := blk.End(); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzApplySequence: the input drives a sequence of grant awards, amendments,
// closures and revocations, payments and reversals by two agencies. A model
// predicts every result code; the ledger's invariants are checked after every
// block and the model's grants and payments are compared with the state at
// the end.
func FuzzApplySequence(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 3, 0, 0, 2, 2, 0, 0, 1, 0, 0, 0, 2, 9, 6, 0, 0, 1, 7, 0, 0, 0, 9, 0, 9, 8, 0, 0, 0})
	f.Add([]byte("award pay reverse amend close revoke; all in one block, then more"))
	f.Add(bytes.Repeat([]byte{2, 1, 0, 0, 0, 3, 0, 0, 0, 1, 9}, 8))
	seq := make([]byte, 400)
	for i := range seq {
		seq[i] = byte(i*37 + i/3)
	}
	f.Add(seq)
	f.Fuzz(func(t *testing.T, data []byte) {
		runSequence(t, data, newChain(t))
	})
}

// ---- sequence driver and model ----

type byteReader struct {
	data []byte
	i    int
}

func (r *byteReader) done() bool { return r.i >= len(r.data) }

func (r *byteReader) next() byte {
	if r.i >= len(r.data) {
		return 0
	}
	b := r.data[r.i]
	r.i++
	return b
}

// amount reads an amount of up to 65535×1000 minor units (0 included, which
// the decoder rejects).
func (r *byteReader) amount() int64 {
	v := int64(r.next())<<8 | int64(r.next())
	return v * [...]int64{1, 10, 100, 1000}[r.next()%4]
}

type modelGrant struct {
	agency, currency   string
	status             ledger.GrantStatus
	awarded, disbursed int64
	payments           int64
}

type modelPayment struct {
	agency, grant string
	amount        int64
	reversed      bool
}

type model struct {
	threshold int64
	grants    map[string]*modelGrant
	payments  map[string]*modelPayment
	payIDs    []string
}

// side is one agency's officers in the sequence.
type side struct {
	agency         string
	grants, fin    *officer
	partner        *officer
	partnerFinance bool // whether partner may co-sign payments
}

var sides = [2]side{
	{agCulture, cultGrants, cultFin1, cultFin2, true},
	{agWorks, worksAdmin, worksFin, worksAdmin, false}, // works has one finance officer
}

type pendingTx struct {
	raw  []byte
	want ledger.Code
	desc string
}

func code(e *ledger.Error) ledger.Code { return e.Code }

// runSequence interprets data as operations, builds the transactions with
// chains[0] and runs every block on every chain, checking predicted codes and
// that all chains agree (hashes, results, events).
func runSequence(t testing.TB, data []byte, chains ...*chain) {
	t.Helper()
	c := chains[0]
	m := &model{threshold: int64(c.params.FourEyesThreshold), grants: map[string]*modelGrant{}, payments: map[string]*modelPayment{}}
	r := &byteReader{data: data}
	var pending []pendingTx
	flush := func() {
		t.Helper()
		raws := make([][]byte, len(pending))
		for i, p := range pending {
			raws[i] = p.raw
		}
		var first *blockResult
		for _, ch := range chains {
			br := ch.block(raws...)
			if first == nil {
				first = br
			} else {
				compareBlocks(t, first, br)
			}
		}
		for i, p := range pending {
			if got := first.results[i].Code; got != p.want {
				t.Fatalf("height %d tx %d (%s): code %d (%s), model predicted %d", first.height, i, p.desc, got, first.results[i].Log, p.want)
			}
		}
		pending = pending[:0]
	}
	add := func(raw []byte, want ledger.Code, desc string) {
		pending = append(pending, pendingTx{raw, want, desc})
		if len(pending) == 16 {
			flush()
		}
	}
	active := func(g *modelGrant) bool { return g.status == ledger.GrantAwarded || g.status == ledger.GrantAmended }

	for ops := 0; !r.done() && ops < 300; ops++ {
		op := r.next() % 10
		s := sides[r.next()%2]
		gid := "g-" + strconv.Itoa(int(r.next()%6))
		switch op {
		case 0, 1: // award
			amt := r.amount()
			cur := "EUR"
			if r.next()%5 == 0 {
				cur = "USD"
			}
			p := awardIn(gid, strconv.FormatInt(amt, 10), cur)
			var want ledger.Code
			switch {
			case amt <= 0:
				want = code(ledger.ErrInvalidAmount)
			case m.grants[gid] != nil:
				want = code(ledger.ErrAlreadyExists)
			default:
				m.grants[gid] = &modelGrant{agency: s.agency, currency: cur, status: ledger.GrantAwarded, awarded: amt}
			}
			add(c.tx(s.grants, p), want, fmt.Sprintf("%s awards %s %d %s", s.agency, gid, amt, cur))

		case 2, 3, 4, 5: // payment, against a grant unless op is 5
			amt := r.amount()
			cur := "EUR"
			if r.next()%6 == 0 {
				cur = "USD"
			}
			payee := acme
			if r.next()%7 == 0 {
				payee = bolt
			}
			cosign := r.next()%2 == 0
			pid := "p-" + strconv.Itoa(len(m.payIDs))
			if len(m.payIDs) > 0 && r.next()%8 == 0 {
				pid = m.payIDs[0] // reuse an id
			}
			grant := gid
			if op == 5 {
				grant = ""
			}
			p := pay(pid, grant, strconv.FormatInt(amt, 10))
			p.Currency, p.Payee = cur, payee
			var want ledger.Code
			g := m.grants[grant]
			switch {
			case amt <= 0:
				want = code(ledger.ErrInvalidAmount)
			case cosign && !s.partnerFinance:
				want = code(ledger.ErrMissingRole)
			case m.payments[pid] != nil:
				want = code(ledger.ErrAlreadyExists)
			case amt > m.threshold && !cosign:
				want = code(ledger.ErrFourEyes)
			case grant == "":
			case g == nil:
				want = code(ledger.ErrNotFound)
			case g.agency != s.agency:
				want = code(ledger.ErrWrongAgency)
			case !active(g):
				want = code(ledger.ErrGrantNotPayable)
			case g.currency != cur:
				want = code(ledger.ErrCurrencyMismatch)
			case !payee.SameEntity(acme):
				want = code(ledger.ErrPayeeMismatch)
			case amt > g.awarded-g.disbursed:
				want = code(ledger.ErrOverpayment)
			}
			if want == ledger.CodeOK {
				m.payments[pid] = &modelPayment{agency: s.agency, grant: grant, amount: amt}
				m.payIDs = append(m.payIDs, pid)
				if g != nil {
					g.disbursed += amt
					g.payments++
				}
			}
			var raw []byte
			if cosign {
				raw = c.tx(s.fin, p, s.partner)
			} else {
				raw = c.tx(s.fin, p)
			}
			add(raw, want, fmt.Sprintf("%s pays %s %d %s against %q (cosign %v)", s.agency, pid, amt, cur, grant, cosign))

		case 6: // reversal
			pid := "p-none"
			if len(m.payIDs) > 0 {
				pid = m.payIDs[int(r.next())%len(m.payIDs)]
			}
			cosign := r.next()%2 == 0
			pm := m.payments[pid]
			var want ledger.Code
			switch {
			case cosign && !s.partnerFinance:
				want = code(ledger.ErrMissingRole)
			case pm == nil:
				want = code(ledger.ErrNotFound)
			case pm.agency != s.agency:
				want = code(ledger.ErrWrongAgency)
			case pm.reversed:
				want = code(ledger.ErrIllegalTransition)
			case pm.amount > m.threshold && !cosign:
				want = code(ledger.ErrFourEyes)
			default:
				pm.reversed = true
				if g := m.grants[pm.grant]; g != nil {
					g.disbursed -= pm.amount
					g.payments--
				}
			}
			var raw []byte
			if cosign {
				raw = c.tx(s.fin, reverse(pid), s.partner)
			} else {
				raw = c.tx(s.fin, reverse(pid))
			}
			add(raw, want, fmt.Sprintf("%s reverses %s (cosign %v)", s.agency, pid, cosign))

		case 7: // amendment
			amt := r.amount()
			g := m.grants[gid]
			var want ledger.Code
			switch {
			case amt <= 0:
				want = code(ledger.ErrInvalidAmount)
			case g == nil:
				want = code(ledger.ErrNotFound)
			case g.agency != s.agency:
				want = code(ledger.ErrWrongAgency)
			case !active(g):
				want = code(ledger.ErrIllegalTransition)
			case amt < g.disbursed:
				want = code(ledger.ErrAmendBelowDisbursed)
			default:
				g.awarded = amt
				g.status = ledger.GrantAmended
			}
			add(c.tx(s.grants, amend(gid, strconv.FormatInt(amt, 10))), want, fmt.Sprintf("%s amends %s to %d", s.agency, gid, amt))

		case 8: // close or revoke
			var p ledger.Payload = closeGrant(gid)
			to := ledger.GrantClosed
			if r.next()%2 == 0 {
				p, to = revokeGrant(gid), ledger.GrantRevoked
			}
			g := m.grants[gid]
			var want ledger.Code
			switch {
			case g == nil:
				want = code(ledger.ErrNotFound)
			case g.agency != s.agency:
				want = code(ledger.ErrWrongAgency)
			case !active(g):
				want = code(ledger.ErrIllegalTransition)
			default:
				g.status = to
			}
			add(c.tx(s.grants, p), want, fmt.Sprintf("%s: %s %s", s.agency, p.Type(), gid))

		case 9:
			flush()
		}
	}
	flush()

	for id, mg := range m.grants {
		g := c.grant(id)
		if g == nil || g.Agency != mg.agency || g.Currency != mg.currency || g.Status != mg.status ||
			int64(g.Awarded) != mg.awarded || int64(g.Disbursed) != mg.disbursed || g.Payments != mg.payments {
			t.Fatalf("grant %s: state %+v, model %+v", id, g, mg)
		}
	}
	for id, mp := range m.payments {
		p := c.payment(id)
		want := ledger.PaymentRecorded
		if mp.reversed {
			want = ledger.PaymentReversed
		}
		if p == nil || p.Status != want || int64(p.Amount) != mp.amount || p.Grant != mp.grant {
			t.Fatalf("payment %s: state %+v, model %+v", id, p, mp)
		}
	}
}

// ---- the FuzzDecodeTx seed corpus ----

const corpusDir = "testdata/fuzz/FuzzDecodeTx"

// corpusSeeds are the files of the seed corpus. Names starting with "valid-"
// must decode; the others must fail with the given error.
func corpusSeeds(t testing.TB) map[string][]byte {
	seeds := seedTxs(t)
	award := seeds[ledger.TypeGrantAward]
	mutate := func(raw []byte, from, to string) []byte {
		if !bytes.Contains(raw, []byte(from)) {
			t.Fatalf("%q not in %s", from, raw)
		}
		return bytes.Replace(raw, []byte(from), []byte(to), 1)
	}
	return map[string][]byte{
		"valid-grant-award":       award,
		"valid-payment-four-eyes": seeds[ledger.TypePaymentRecord],
		"valid-payment-reverse":   seeds[ledger.TypePaymentReverse],
		"valid-licence-issue":     seeds[ledger.TypeLicenceIssue],
		"valid-licence-renew":     seeds[ledger.TypeLicenceRenew],
		"valid-officer-add":       seeds[ledger.TypeOfficerAdd],
		"noncanonical-whitespace": mutate(award, `"nonce":1001`, `"nonce": 1001`),
		"duplicate-key":           mutate(award, `"nonce":1001,`, `"nonce":1001,"nonce":1001,`),
		"unknown-field":           mutate(award, `"currency":"EUR"`, `"currency":"EUR","vat":"0"`),
		"deep-nesting":            append(bytes.TrimSuffix(bytes.Clone(award), []byte("}")), []byte(`,"x":[[[[[[[[[]]]]]]]]]}`)...),
		"invalid-utf8":            mutate(award, "Touring", "Tour\xffing"),
	}
}

var corpusErrors = map[string]*ledger.Error{
	"noncanonical-whitespace": ledger.ErrNonCanonical,
	"duplicate-key":           ledger.ErrMalformed,
	"unknown-field":           ledger.ErrUnknownField,
	"deep-nesting":            ledger.ErrMalformed,
	"invalid-utf8":            ledger.ErrMalformed,
}

func corpusFile(data []byte) []byte {
	return []byte("go test fuzz v1\n[]byte(" + strconv.Quote(string(data)) + ")\n")
}

// TestFuzzCorpus checks that the committed seed corpus is what corpusSeeds
// generates (so it stays valid as the encoding evolves) and that each file
// decodes, or fails, as its name says. LEDGER_WRITE_CORPUS=1 rewrites it.
func TestFuzzCorpus(t *testing.T) {
	seeds := corpusSeeds(t)
	if os.Getenv("LEDGER_WRITE_CORPUS") == "1" {
		if err := os.MkdirAll(corpusDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range seeds {
			if err := os.WriteFile(filepath.Join(corpusDir, name), corpusFile(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, name := range sortedKeys(seeds) {
		t.Run(name, func(t *testing.T) {
			file, err := os.ReadFile(filepath.Join(corpusDir, name))
			if err != nil {
				t.Fatalf("%v (run with LEDGER_WRITE_CORPUS=1 to write the corpus)", err)
			}
			if want := corpusFile(seeds[name]); !bytes.Equal(file, want) {
				t.Fatalf("corpus file is stale:\n got  %q\n want %q", file, want)
			}
			tx, err := ledger.DecodeTx(seeds[name], ledger.DefaultParams().MaxTxBytes)
			if strings.HasPrefix(name, "valid-") {
				if err != nil {
					t.Fatal(err)
				}
				if err := tx.VerifySignatures(); err != nil {
					t.Fatal(err)
				}
				return
			}
			expectErr(t, err, corpusErrors[name])
		})
	}
	entries, err := os.ReadDir(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, ok := seeds[e.Name()]; !ok {
			t.Logf("extra corpus file %s (e.g. a fuzzer finding): keep it if it reproduces a fixed bug", e.Name())
		}
	}
}
