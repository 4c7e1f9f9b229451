package ledger_test

// State-transition tests: one table per transaction type covering every
// rule, each case on a fresh fixture chain. A rejected case also checks that
// the state (apart from replay-protection keys) did not change.

import (
	"bytes"
	"testing"
	"time"

	"github.com/civicledger/civicledger/ledger"
)

const fixtureDate = "2025-03-10"

// Totals of the Ministry of Culture in EUR after the fixture:
// grants g-open 5M, g-closed 1M, g-revoked 1M, g-small 100k; payments p-open1
// 1M (g-open), p-free 50k, p-big 2M (four-eyes), p-reversed 200k (g-open,
// reversed).
var fixtureCultEUR = ledger.Totals{
	Agency: agCulture, Currency: "EUR", Awarded: 7_100_000, Grants: 4,
	Paid: 3_050_000, PaidAgainstGrant: 1_000_000, Payments: 3, Reversed: 200_000, Reversals: 1,
}

// newFixture returns a chain at height 3 with grants, licences and payments
// in every status.
func newFixture(t testing.TB) *chain {
	t.Helper()
	c := newChain(t)
	c.mustOK(
		c.tx(cultGrants, award("g-open", "5000000")),
		c.tx(cultGrants, award("g-closed", "1000000")),
		c.tx(cultGrants, award("g-revoked", "1000000")),
		c.tx(cultGrants, award("g-small", "100000")),
		c.tx(cultGrants, awardIn("g-usd", "2000000", "USD")),
		c.tx(worksAdmin, award("w-grant", "3000000")),
		c.tx(cultLic, issue("l-issued", "2026-03-31")),
		c.tx(cultLic, issue("l-suspended", "2026-03-31")),
		c.tx(cultLic, issue("l-revoked", "2026-03-31")),
		c.tx(cultLic, issue("l-reinst", "2026-03-31")),
		c.tx(cultLic, issue("l-renewed", "2026-03-31")),
		c.tx(worksLic, issue("w-lic", "2026-03-31")),
	)
	c.mustOK(
		c.tx(cultFin1, pay("p-open1", "g-open", "1000000")),
		c.tx(cultFin1, pay("p-free", "", "50000")),
		c.tx(cultFin1, pay("p-reversed", "g-open", "200000")),
		c.tx(cultFin1, pay("p-big", "", "2000000"), cultFin2),
		c.tx(worksFin, pay("w-pay", "w-grant", "10000")),
		c.tx(cultGrants, closeGrant("g-closed")),
		c.tx(cultGrants, revokeGrant("g-revoked")),
		c.tx(cultLic, suspend("l-suspended")),
		c.tx(cultLic, suspend("l-reinst")),
		c.tx(cultLic, revokeLicence("l-revoked")),
		c.tx(cultLic, renew("l-renewed", "2026-12-31")),
	)
	c.mustOK(
		c.tx(cultFin1, reverse("p-reversed")),
		c.tx(cultLic, reinstate("l-reinst")),
	)
	return c
}

// expireShort issues licence l-short valid until the fixture date and moves
// the chain to the next day, so that it expires.
func expireShort(c *chain) {
	c.t.Helper()
	c.mustOK(c.tx(cultLic, issue("l-short", fixtureDate)))
	c.now = time.Date(2025, 3, 11, 8, 0, 0, 0, time.UTC)
	br := c.block()
	if e := findEvent(br.begin, "licence", "id", "l-short"); e == nil || attr(e, "action") != "expire" {
		c.t.Fatalf("l-short did not expire: %+v", br.begin)
	}
}

type txCase struct {
	name  string
	setup func(c *chain)
	tx    func(c *chain) []byte
	want  *ledger.Error // nil: success
	check func(t *testing.T, c *chain, res ledger.Result)
}

func runTxCases(t *testing.T, cases []txCase) {
	t.Helper()
	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newFixture(t)
			if tc.setup != nil {
				tc.setup(c)
			}
			raw := tc.tx(c)
			before := c.snapshot()
			res := c.run(raw)
			expectResult(t, res, tc.want)
			if tc.want != nil {
				noChanges(t, before, c.snapshot())
			} else if len(res.Events) == 0 || res.Events[0].Type != "tx" {
				t.Fatalf("successful tx: first event should be \"tx\", got %+v", res.Events)
			}
			if tc.check != nil {
				tc.check(t, c, res)
			}
		})
	}
}

func wantTotals(t *testing.T, c *chain, want ledger.Totals) {
	t.Helper()
	if got := c.totals(want.Agency, want.Currency); got != want {
		t.Fatalf("totals %s/%s:\n got  %+v\n want %+v", want.Agency, want.Currency, got, want)
	}
}

func wantGrant(t *testing.T, c *chain, id string, status ledger.GrantStatus, awarded, disbursed ledger.Amount, payments int64) *ledger.Grant {
	t.Helper()
	g := c.grant(id)
	if g == nil {
		t.Fatalf("grant %s missing", id)
	}
	if g.Status != status || g.Awarded != awarded || g.Disbursed != disbursed || g.Payments != payments {
		t.Fatalf("grant %s: status %s awarded %d disbursed %d payments %d; want %s %d %d %d",
			id, g.Status, g.Awarded, g.Disbursed, g.Payments, status, awarded, disbursed, payments)
	}
	return g
}

func wantLicence(t *testing.T, c *chain, id string, status ledger.LicenceStatus, validUntil string) *ledger.Licence {
	t.Helper()
	l := c.licence(id)
	if l == nil {
		t.Fatalf("licence %s missing", id)
	}
	if l.Status != status || l.ValidUntil != validUntil {
		t.Fatalf("licence %s: %s until %s; want %s until %s", id, l.Status, l.ValidUntil, status, validUntil)
	}
	return l
}

func wantAbsent(t *testing.T, c *chain, storeName, id string) {
	t.Helper()
	if c.has(storeName, id) {
		t.Fatalf("%s/%s exists, want absent", storeName, id)
	}
}

func TestFixture(t *testing.T) {
	c := newFixture(t)
	wantTotals(t, c, fixtureCultEUR)
	wantTotals(t, c, ledger.Totals{Agency: agCulture, Currency: "USD", Awarded: 2_000_000, Grants: 1})
	wantTotals(t, c, ledger.Totals{Agency: agWorks, Currency: "EUR", Awarded: 3_000_000, Grants: 1,
		Paid: 10_000, PaidAgainstGrant: 10_000, Payments: 1})
	wantGrant(t, c, "g-open", ledger.GrantAwarded, 5_000_000, 1_000_000, 1)
	wantGrant(t, c, "g-closed", ledger.GrantClosed, 1_000_000, 0, 0)
	wantGrant(t, c, "g-revoked", ledger.GrantRevoked, 1_000_000, 0, 0)
	wantLicence(t, c, "l-issued", ledger.LicenceIssued, "2026-03-31")
	wantLicence(t, c, "l-suspended", ledger.LicenceSuspended, "2026-03-31")
	wantLicence(t, c, "l-revoked", ledger.LicenceRevoked, "2026-03-31")
	wantLicence(t, c, "l-reinst", ledger.LicenceReinstated, "2026-03-31")
	wantLicence(t, c, "l-renewed", ledger.LicenceRenewed, "2026-12-31")
	if p := c.payment("p-reversed"); p.Status != ledger.PaymentReversed {
		t.Fatalf("p-reversed is %s", p.Status)
	}
	p := c.payment("p-big")
	if len(p.Approved) != 2 || !bytes.Equal(p.Approved[0], cultFin1.pub) || !bytes.Equal(p.Approved[1], cultFin2.pub) {
		t.Fatalf("p-big approved_by = %x", p.Approved)
	}
	if c.height != 3 {
		t.Fatalf("fixture height %d", c.height)
	}
}
