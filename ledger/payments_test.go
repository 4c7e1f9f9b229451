package ledger_test

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/civicledger/civicledger/ledger"
)

func TestPaymentRecord(t *testing.T) {
	runTxCases(t, []txCase{
		{
			name: "without grant",
			tx:   func(c *chain) []byte { return c.tx(cultFin1, pay("p-new", "", "75000")) },
			check: func(t *testing.T, c *chain, res ledger.Result) {
				p := c.payment("p-new")
				if p == nil || p.Status != ledger.PaymentRecorded || p.Amount != 75_000 || p.Agency != agCulture || p.Grant != "" ||
					p.Payee != acme || p.Currency != "EUR" || p.Date != "2025-03-10" || p.Purpose != "Instalment & travel costs <Q1>" ||
					len(p.Approved) != 1 || !bytes.Equal(p.Approved[0], cultFin1.pub) || p.Created != c.height {
					t.Fatalf("payment: %+v", p)
				}
				if !c.has(ledger.StoreIndex, "payment/agency/"+agCulture+"/p-new") {
					t.Fatal("agency index entry missing")
				}
				want := fixtureCultEUR
				want.Paid += 75_000
				want.Payments++
				wantTotals(t, c, want)
				if len(res.Events) != 2 || findEvent(res.Events, "payment", "action", "record") == nil {
					t.Fatalf("events: %+v", res.Events)
				}
			},
		},
		{
			name: "against grant",
			tx:   func(c *chain) []byte { return c.tx(cultFin1, pay("p-new", "g-open", "500000")) },
			check: func(t *testing.T, c *chain, res ledger.Result) {
				g := wantGrant(t, c, "g-open", ledger.GrantAwarded, 5_000_000, 1_500_000, 2)
				if g.Updated != c.height {
					t.Fatalf("grant updated at %d", g.Updated)
				}
				if p := c.payment("p-new"); p.Grant != "g-open" {
					t.Fatalf("payment: %+v", p)
				}
				if !c.has(ledger.StoreIndex, "payment/grant/g-open/p-new") {
					t.Fatal("grant index entry missing")
				}
				want := fixtureCultEUR
				want.Paid += 500_000
				want.PaidAgainstGrant += 500_000
				want.Payments++
				wantTotals(t, c, want)
				if findEvent(res.Events, "payment", "grant", "g-open") == nil || findEvent(res.Events, "grant", "action", "disburse") == nil {
					t.Fatalf("events: %+v", res.Events)
				}
			},
		},
		{
			name: "payee is the recipient under another name",
			tx: func(c *chain) []byte {
				p := pay("p-new", "g-open", "1000")
				p.Payee = acmeAlt
				return c.tx(cultFin1, p)
			},
		},
		{
			name: "exactly the remaining amount",
			tx:   func(c *chain) []byte { return c.tx(cultFin1, pay("p-new", "g-small", "100000")) },
			check: func(t *testing.T, c *chain, _ ledger.Result) {
				wantGrant(t, c, "g-small", ledger.GrantAwarded, 100_000, 100_000, 1)
			},
		},
		{name: "one above the remaining amount", tx: func(c *chain) []byte { return c.tx(cultFin1, pay("p-new", "g-small", "100001")) }, want: ledger.ErrOverpayment},
		{
			name: "exactly the remaining amount of a partly paid grant",
			tx:   func(c *chain) []byte { return c.tx(cultFin1, pay("p-new", "g-open", "4000000"), cultFin2) },
			check: func(t *testing.T, c *chain, _ ledger.Result) {
				wantGrant(t, c, "g-open", ledger.GrantAwarded, 5_000_000, 5_000_000, 2)
			},
		},
		{
			name: "one above the remaining amount of a partly paid grant",
			tx:   func(c *chain) []byte { return c.tx(cultFin1, pay("p-new", "g-open", "4000001"), cultFin2) },
			want: ledger.ErrOverpayment,
			check: func(t *testing.T, _ *chain, res ledger.Result) {
				// Amounts in the currency's units, minor units beside them.
				want := `payload.amount: 40,000.01 EUR (4000001 minor units) exceeds the 40,000.00 EUR (4000000 minor units) remaining of grant "g-open" (awarded 50,000.00 EUR, disbursed 10,000.00 EUR)`
				if !strings.HasPrefix(res.Log, want) {
					t.Errorf("log %q\nwant %q", res.Log, want)
				}
			},
		},
		{
			name:  "fully paid grant",
			setup: func(c *chain) { c.mustOK(c.tx(cultFin1, pay("p-full", "g-small", "100000"))) },
			tx:    func(c *chain) []byte { return c.tx(cultFin1, pay("p-new", "g-small", "1")) },
			want:  ledger.ErrOverpayment,
		},
		{
			name:  "amended grant",
			setup: func(c *chain) { c.mustOK(c.tx(cultGrants, amend("g-small", "150000"))) },
			tx:    func(c *chain) []byte { return c.tx(cultFin1, pay("p-new", "g-small", "150000")) },
			check: func(t *testing.T, c *chain, _ ledger.Result) {
				wantGrant(t, c, "g-small", ledger.GrantAmended, 150_000, 150_000, 1)
			},
		},
		// Payment dates: from 90 days before the grant's period (2025-01-01
		// to 2025-12-31) to 180 days after it.
		{name: "paid 90 days before the period", tx: func(c *chain) []byte { return c.tx(cultFin1, payOn("p-new", "g-open", "2024-10-03")) }},
		{name: "paid 180 days after the period", tx: func(c *chain) []byte { return c.tx(cultFin1, payOn("p-new", "g-open", "2026-06-29")) }},
		{name: "paid 91 days before the period", tx: func(c *chain) []byte { return c.tx(cultFin1, payOn("p-new", "g-open", "2024-10-02")) }, want: ledger.ErrImplausibleDate,
			check: func(t *testing.T, _ *chain, res ledger.Result) {
				if want := `payload.date: 2024-10-02 is more than 90 days before the period of grant "g-open" (2025-01-01 to 2025-12-31; earliest 2024-10-03)`; !strings.HasPrefix(res.Log, want) {
					t.Errorf("log %q\nwant %q", res.Log, want)
				}
			}},
		{name: "paid 181 days after the period", tx: func(c *chain) []byte { return c.tx(cultFin1, payOn("p-new", "g-open", "2026-06-30")) }, want: ledger.ErrImplausibleDate},
		{name: "paid long ago without a grant", tx: func(c *chain) []byte { return c.tx(cultFin1, payOn("p-new", "", "1990-01-01")) }},
		{name: "unknown grant", tx: func(c *chain) []byte { return c.tx(cultFin1, pay("p-new", "g-nope", "1000")) }, want: ledger.ErrNotFound},
		{name: "another agency's grant", tx: func(c *chain) []byte { return c.tx(cultFin1, pay("p-new", "w-grant", "1000")) }, want: ledger.ErrWrongAgency},
		{name: "closed grant", tx: func(c *chain) []byte { return c.tx(cultFin1, pay("p-new", "g-closed", "1000")) }, want: ledger.ErrGrantNotPayable},
		{name: "revoked grant", tx: func(c *chain) []byte { return c.tx(cultFin1, pay("p-new", "g-revoked", "1000")) }, want: ledger.ErrGrantNotPayable},
		{name: "EUR payment against USD grant", tx: func(c *chain) []byte { return c.tx(cultFin1, pay("p-new", "g-usd", "1000")) }, want: ledger.ErrCurrencyMismatch},
		{
			name: "USD payment against EUR grant",
			tx: func(c *chain) []byte {
				p := pay("p-new", "g-open", "1000")
				p.Currency = "USD"
				return c.tx(cultFin1, p)
			},
			want: ledger.ErrCurrencyMismatch,
		},
		{
			name: "payee is not the recipient",
			tx: func(c *chain) []byte {
				p := pay("p-new", "g-open", "1000")
				p.Payee = bolt
				return c.tx(cultFin1, p)
			},
			want: ledger.ErrPayeeMismatch,
		},
		{
			name: "payee has the recipient's id in another scheme",
			tx: func(c *chain) []byte {
				p := pay("p-new", "g-open", "1000")
				p.Payee = acmeVAT
				return c.tx(cultFin1, p)
			},
			want: ledger.ErrPayeeMismatch,
		},
		{name: "duplicate id", tx: func(c *chain) []byte { return c.tx(cultFin1, pay("p-free", "", "1000")) }, want: ledger.ErrAlreadyExists},
		{name: "id of a reversed payment", tx: func(c *chain) []byte { return c.tx(cultFin1, pay("p-reversed", "", "1000")) }, want: ledger.ErrAlreadyExists},
		{name: "id of another agency's payment", tx: func(c *chain) []byte { return c.tx(cultFin1, pay("w-pay", "", "1000")) }, want: ledger.ErrAlreadyExists},
		{name: "grants officer", tx: func(c *chain) []byte { return c.tx(cultGrants, pay("p-new", "", "1000")) }, want: ledger.ErrMissingRole},
		{name: "officer of another agency", tx: func(c *chain) []byte { return c.txFor(agCulture, worksFin, pay("p-new", "", "1000")) }, want: ledger.ErrNotOfficer},
		{name: "unknown currency", tx: func(c *chain) []byte { p := pay("p-new", "", "1000"); p.Currency = "XXX"; return c.tx(cultFin1, p) }, want: ledger.ErrUnknownCurrency},
	})
}

func TestFourEyes(t *testing.T) {
	threshold := ledger.DefaultParams().FourEyesThreshold
	above := strconv.FormatInt(int64(threshold)+1, 10)
	at := strconv.FormatInt(int64(threshold), 10)
	runTxCases(t, []txCase{
		{name: "at threshold, one signature", tx: func(c *chain) []byte { return c.tx(cultFin1, pay("p-new", "", at)) }},
		{name: "above threshold, one signature", tx: func(c *chain) []byte { return c.tx(cultFin1, pay("p-new", "", above)) }, want: ledger.ErrFourEyes},
		{name: "above threshold against a grant, one signature", tx: func(c *chain) []byte { return c.tx(cultFin1, pay("p-new", "g-open", above)) }, want: ledger.ErrFourEyes},
		{
			name: "above threshold, two finance officers",
			tx:   func(c *chain) []byte { return c.tx(cultFin1, pay("p-new", "g-open", above), cultFin2) },
			check: func(t *testing.T, c *chain, _ ledger.Result) {
				p := c.payment("p-new")
				if len(p.Approved) != 2 || !bytes.Equal(p.Approved[0], cultFin1.pub) || !bytes.Equal(p.Approved[1], cultFin2.pub) {
					t.Fatalf("approved_by %x", p.Approved)
				}
			},
		},
		{name: "above threshold, second signer lacks finance role", tx: func(c *chain) []byte { return c.tx(cultFin1, pay("p-new", "", above), cultGrants) }, want: ledger.ErrMissingRole},
		{name: "above threshold, second signer is admin", tx: func(c *chain) []byte { return c.tx(cultFin1, pay("p-new", "", above), cultAdmin) }, want: ledger.ErrMissingRole},
		{name: "above threshold, first signer lacks finance role", tx: func(c *chain) []byte { return c.tx(cultGrants, pay("p-new", "", above), cultFin1) }, want: ledger.ErrMissingRole},
		{name: "above threshold, second signer of another agency", tx: func(c *chain) []byte { return c.tx(cultFin1, pay("p-new", "", above), worksFin) }, want: ledger.ErrNotOfficer},
		{name: "above threshold, second signer outsider", tx: func(c *chain) []byte { return c.tx(cultFin1, pay("p-new", "", above), outsider) }, want: ledger.ErrNotOfficer},
		{name: "above threshold, same officer twice", tx: func(c *chain) []byte { return c.tx(cultFin1, pay("p-new", "", above), cultFin1) }, want: ledger.ErrDuplicateSigner},
		{name: "three finance signatures", setup: func(c *chain) { c.mustOK(c.tx(cultAdmin, addOfficer(newcomer, ledger.RoleFinance))) }, tx: func(c *chain) []byte { return c.tx(cultFin1, pay("p-new", "", above), cultFin2, newcomer) }},
		{name: "reversal above threshold, one signature", tx: func(c *chain) []byte { return c.tx(cultFin1, reverse("p-big")) }, want: ledger.ErrFourEyes},
		{
			name: "reversal above threshold, two finance officers",
			tx:   func(c *chain) []byte { return c.tx(cultFin2, reverse("p-big"), cultFin1) },
			check: func(t *testing.T, c *chain, _ ledger.Result) {
				wantTotals(t, c, addPaid(fixtureCultEUR, -2_000_000, false))
			},
		},
		{name: "reversal above threshold, second signer lacks role", tx: func(c *chain) []byte { return c.tx(cultFin2, reverse("p-big"), cultLic) }, want: ledger.ErrMissingRole},
		{name: "reversal at threshold, one signature", tx: func(c *chain) []byte { return c.tx(cultFin2, reverse("p-open1")) }},
	})
}

func TestFourEyesZeroThreshold(t *testing.T) {
	gs := testGenesis()
	gs.Params.FourEyesThreshold = 0
	c := newChainWith(t, gs)
	expectResult(t, c.run(c.tx(cultFin1, pay("p-1", "", "1"))), ledger.ErrFourEyes)
	wantAbsent(t, c, ledger.StorePayments, "p-1")
	expectResult(t, c.run(c.tx(cultFin1, pay("p-1", "", "1"), cultFin2)), nil)
}

// addPaid returns t with a payment of amount (negative: a reversal) added.
func addPaid(t ledger.Totals, amount ledger.Amount, againstGrant bool) ledger.Totals {
	if amount > 0 {
		t.Paid += amount
		t.Payments++
		if againstGrant {
			t.PaidAgainstGrant += amount
		}
		return t
	}
	t.Paid += amount
	t.Payments--
	t.Reversed -= amount
	t.Reversals++
	if againstGrant {
		t.PaidAgainstGrant += amount
	}
	return t
}

func TestPaymentReverse(t *testing.T) {
	runTxCases(t, []txCase{
		{
			name: "payment against a grant",
			tx:   func(c *chain) []byte { return c.tx(cultFin1, reverse("p-open1")) },
			check: func(t *testing.T, c *chain, res ledger.Result) {
				p := c.payment("p-open1")
				if p.Status != ledger.PaymentReversed || p.Updated != c.height || p.Created != 2 {
					t.Fatalf("payment: %+v", p)
				}
				wantGrant(t, c, "g-open", ledger.GrantAwarded, 5_000_000, 0, 0)
				wantTotals(t, c, addPaid(fixtureCultEUR, -1_000_000, true))
				v, _ := c.view().Get(ledger.StoreIndex, ledger.IndexPaymentByGrant("g-open", "p-open1"))
				if string(v) != string(ledger.PaymentReversed) {
					t.Fatalf("grant index status %q", v)
				}
				if findEvent(res.Events, "payment", "action", "reverse") == nil || findEvent(res.Events, "grant", "action", "reverse-payment") == nil {
					t.Fatalf("events: %+v", res.Events)
				}
			},
		},
		{
			name: "payment without grant",
			tx:   func(c *chain) []byte { return c.tx(cultFin2, reverse("p-free")) },
			check: func(t *testing.T, c *chain, _ ledger.Result) {
				wantTotals(t, c, addPaid(fixtureCultEUR, -50_000, false))
			},
		},
		{name: "double reversal", tx: func(c *chain) []byte { return c.tx(cultFin1, reverse("p-reversed")) }, want: ledger.ErrIllegalTransition},
		{name: "unknown payment", tx: func(c *chain) []byte { return c.tx(cultFin1, reverse("p-nope")) }, want: ledger.ErrNotFound},
		{name: "another agency's payment", tx: func(c *chain) []byte { return c.tx(cultFin1, reverse("w-pay")) }, want: ledger.ErrWrongAgency},
		{name: "grants officer", tx: func(c *chain) []byte { return c.tx(cultGrants, reverse("p-free")) }, want: ledger.ErrMissingRole},
		{
			name:  "payment against a closed grant",
			setup: func(c *chain) { c.mustOK(c.tx(cultGrants, closeGrant("g-open"))) },
			tx:    func(c *chain) []byte { return c.tx(cultFin1, reverse("p-open1")) },
			check: func(t *testing.T, c *chain, _ ledger.Result) {
				wantGrant(t, c, "g-open", ledger.GrantClosed, 5_000_000, 0, 0)
				wantTotals(t, c, addPaid(fixtureCultEUR, -1_000_000, true))
			},
		},
		{
			name:  "reversal frees room on the grant",
			setup: func(c *chain) { c.mustOK(c.tx(cultFin1, pay("p-full", "g-small", "100000"))) },
			tx:    func(c *chain) []byte { return c.tx(cultFin1, reverse("p-full")) },
			check: func(t *testing.T, c *chain, _ ledger.Result) {
				wantGrant(t, c, "g-small", ledger.GrantAwarded, 100_000, 0, 0)
				c.mustOK(c.tx(cultFin1, pay("p-again", "g-small", "100000")))
				wantGrant(t, c, "g-small", ledger.GrantAwarded, 100_000, 100_000, 1)
				wantTotals(t, c, addPaid(addPaid(addPaid(fixtureCultEUR, 100_000, true), -100_000, true), 100_000, true))
			},
		},
	})
}

func TestReverseTwiceInOneBlock(t *testing.T) {
	c := newFixture(t)
	br := c.block(c.tx(cultFin1, reverse("p-free")), c.tx(cultFin2, reverse("p-free")))
	expectResult(t, br.results[0], nil)
	expectResult(t, br.results[1], ledger.ErrIllegalTransition)
	wantTotals(t, c, addPaid(fixtureCultEUR, -50_000, false))
}

// TestTotalsAcrossBlock checks that the per-block totals cache sees every
// transaction of the block and is flushed once.
func TestTotalsAcrossBlock(t *testing.T) {
	c := newFixture(t)
	c.mustOK(
		c.tx(cultGrants, award("g-x", "300000")),
		c.tx(cultFin1, pay("p-x1", "g-x", "100000")),
		c.tx(cultFin1, pay("p-x2", "g-x", "200000")),
		c.tx(cultFin2, reverse("p-x1")),
		c.tx(cultGrants, amend("g-x", "200000")),
	)
	br := c.block(c.tx(cultFin1, pay("p-x3", "g-x", "1")))
	expectResult(t, br.results[0], ledger.ErrOverpayment)
	want := fixtureCultEUR
	want.Awarded += 200_000
	want.Grants++
	want = addPaid(addPaid(addPaid(want, 100_000, true), 200_000, true), -100_000, true)
	wantTotals(t, c, want)
	wantGrant(t, c, "g-x", ledger.GrantAmended, 200_000, 200_000, 1)
}

// TestReversedTotalCannotOverflow: Paid returns to zero after each reversal,
// so only an explicit check keeps the Reversed total from wrapping.
func TestReversedTotalCannotOverflow(t *testing.T) {
	c := newChain(t)
	const max = "9223372036854775807"
	expectResult(t, c.run(c.tx(cultFin1, pay("p-max", "", max), cultFin2)), nil)
	expectResult(t, c.run(c.tx(cultFin1, reverse("p-max"), cultFin2)), nil)
	expectResult(t, c.run(c.tx(cultFin1, pay("p-one", "", "1"))), nil)
	before := c.totals(agCulture, "EUR")
	expectResult(t, c.run(c.tx(cultFin1, reverse("p-one"))), ledger.ErrAmountOverflow)
	if after := c.totals(agCulture, "EUR"); after != before || after.Reversed < 0 {
		t.Fatalf("totals changed by a rejected reversal: %+v → %+v", before, after)
	}
	if p := c.payment("p-one"); p.Status != ledger.PaymentRecorded {
		t.Fatalf("payment reversed despite the rejection: %+v", p)
	}
}
