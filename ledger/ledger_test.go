package ledger_test

// State-transition tests: one table per transaction type covering every
// rule, each case on a fresh fixture chain. A rejected case also checks that
// the state (apart from replay-protection keys) did not change.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
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

func wantGrant(t *testing.T, c *chain, id, status string, awarded, disbursed ledger.Amount, payments int64) *ledger.Grant {
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

func wantLicence(t *testing.T, c *chain, id, status, validUntil string) *ledger.Licence {
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

// ---- grants ----

func TestGrantAward(t *testing.T) {
	maxRest := strconv.FormatInt(math.MaxInt64-int64(fixtureCultEUR.Awarded), 10)
	runTxCases(t, []txCase{
		{
			name: "ok",
			tx:   func(c *chain) []byte { return c.tx(cultGrants, award("g-new", "250000")) },
			check: func(t *testing.T, c *chain, res ledger.Result) {
				g := wantGrant(t, c, "g-new", ledger.GrantAwarded, 250_000, 0, 0)
				if g.Agency != agCulture || g.Recipient != acme || g.Currency != "EUR" || g.Created != c.height || g.Updated != c.height ||
					g.PeriodStart != "2025-01-01" || g.PeriodEnd != "2025-12-31" || g.DocumentHash != docHash || g.Purpose == "" {
					t.Fatalf("grant: %+v", g)
				}
				if !c.has(ledger.StoreIndex, string(ledger.IndexGrantByAgency(agCulture, "g-new"))) {
					t.Fatal("grant index entry missing")
				}
				want := fixtureCultEUR
				want.Awarded += 250_000
				want.Grants++
				wantTotals(t, c, want)
				e := findEvent(res.Events, "grant", "id", "g-new")
				if e == nil || attr(e, "action") != "award" || attr(e, "awarded") != "250000" || attr(e, "recipient") != "companies-house:01234567" {
					t.Fatalf("events: %+v", res.Events)
				}
				if tx := res.Events[0]; attr(&tx, "type") != ledger.TypeGrantAward || attr(&tx, "agency") != agCulture || attr(&tx, "signer") != cultGrants.hex() {
					t.Fatalf("tx event: %+v", tx)
				}
			},
		},
		{
			name: "ok in a new currency",
			tx:   func(c *chain) []byte { return c.tx(cultGrants, awardIn("g-sek", "12345", "SEK")) },
			check: func(t *testing.T, c *chain, _ ledger.Result) {
				wantTotals(t, c, ledger.Totals{Agency: agCulture, Currency: "SEK", Awarded: 12_345, Grants: 1})
				wantTotals(t, c, fixtureCultEUR)
			},
		},
		{name: "duplicate id", tx: func(c *chain) []byte { return c.tx(cultGrants, award("g-open", "1")) }, want: ledger.ErrAlreadyExists},
		{name: "id of another agency's grant", tx: func(c *chain) []byte { return c.tx(cultGrants, award("w-grant", "1")) }, want: ledger.ErrAlreadyExists},
		{name: "licensing officer", tx: func(c *chain) []byte { return c.tx(cultLic, award("g-new", "1")) }, want: ledger.ErrMissingRole},
		{name: "finance officer", tx: func(c *chain) []byte { return c.tx(cultFin1, award("g-new", "1")) }, want: ledger.ErrMissingRole},
		{name: "admin without grants role", tx: func(c *chain) []byte { return c.tx(cultAdmin, award("g-new", "1")) }, want: ledger.ErrMissingRole},
		{name: "co-signer without grants role", tx: func(c *chain) []byte { return c.tx(cultGrants, award("g-new", "1"), cultFin1) }, want: ledger.ErrMissingRole},
		{name: "officer of another agency", tx: func(c *chain) []byte { return c.txFor(agCulture, worksAdmin, award("g-new", "1")) }, want: ledger.ErrNotOfficer},
		{name: "outsider", tx: func(c *chain) []byte { return c.txFor(agCulture, outsider, award("g-new", "1")) }, want: ledger.ErrNotOfficer,
			check: func(t *testing.T, _ *chain, res ledger.Result) {
				// The key as the CLI and agency records show keys: base64, labelled.
				want := "signatures[0]: key " + base64.StdEncoding.EncodeToString(outsider.pub)[:16] + "… (base64) is not an officer of " + agCulture
				if !strings.HasPrefix(res.Log, want) {
					t.Errorf("log %q\nwant %q", res.Log, want)
				}
			}},
		{name: "unknown agency", tx: func(c *chain) []byte { return c.txFor("no-such-agency", cultGrants, award("g-new", "1")) }, want: ledger.ErrUnknownAgency},
		{name: "invalid amount", tx: func(c *chain) []byte { return c.tx(cultGrants, award("g-new", "0")) }, want: ledger.ErrInvalidAmount},
		{
			name: "agency total reaches max int64",
			tx:   func(c *chain) []byte { return c.tx(cultGrants, award("g-max", maxRest)) },
			check: func(t *testing.T, c *chain, _ ledger.Result) {
				wantGrant(t, c, "g-max", ledger.GrantAwarded, ledger.Amount(math.MaxInt64-int64(fixtureCultEUR.Awarded)), 0, 0)
			},
		},
		{
			name:  "agency total would overflow",
			setup: func(c *chain) { c.mustOK(c.tx(cultGrants, award("g-max", maxRest))) },
			tx:    func(c *chain) []byte { return c.tx(cultGrants, award("g-new", "1")) },
			want:  ledger.ErrAmountOverflow,
		},
	})
}

func TestGrantAmend(t *testing.T) {
	maxRest := strconv.FormatInt(math.MaxInt64-int64(fixtureCultEUR.Awarded), 10)
	runTxCases(t, []txCase{
		{
			name: "increase",
			tx:   func(c *chain) []byte { return c.tx(cultGrants, amend("g-open", "6000000")) },
			check: func(t *testing.T, c *chain, res ledger.Result) {
				g := wantGrant(t, c, "g-open", ledger.GrantAmended, 6_000_000, 1_000_000, 1)
				if g.PeriodEnd != "2026-06-30" || g.DocumentHash != docHash || g.AmendmentHash != docHash2 || g.PeriodStart != "2025-01-01" || g.Updated != c.height || g.Created != 1 {
					t.Fatalf("grant: %+v", g)
				}
				if !hasAttr(res.Events, "grant", "document_hash", docHash2) {
					t.Errorf("the amend event lacks the amendment's document hash: %+v", res.Events)
				}
				want := fixtureCultEUR
				want.Awarded += 1_000_000
				wantTotals(t, c, want)
				if e := findEvent(res.Events, "grant", "action", "amend"); e == nil || attr(e, "status") != ledger.GrantAmended {
					t.Fatalf("events: %+v", res.Events)
				}
			},
		},
		{
			name: "decrease to exactly the amount disbursed",
			tx:   func(c *chain) []byte { return c.tx(cultGrants, amend("g-open", "1000000")) },
			check: func(t *testing.T, c *chain, _ ledger.Result) {
				wantGrant(t, c, "g-open", ledger.GrantAmended, 1_000_000, 1_000_000, 1)
				want := fixtureCultEUR
				want.Awarded -= 4_000_000
				wantTotals(t, c, want)
			},
		},
		{
			name: "below the amount disbursed",
			tx:   func(c *chain) []byte { return c.tx(cultGrants, amend("g-open", "999999")) },
			want: ledger.ErrAmendBelowDisbursed,
			check: func(t *testing.T, _ *chain, res ledger.Result) {
				if want := "payload.amount: 9,999.99 EUR (999999 minor units) is less than the 10,000.00 EUR (1000000 minor units) already disbursed"; !strings.HasPrefix(res.Log, want) {
					t.Errorf("log %q\nwant %q", res.Log, want)
				}
			},
		},
		{
			name:  "amended grant again",
			setup: func(c *chain) { c.mustOK(c.tx(cultGrants, amend("g-open", "6000000"))) },
			tx:    func(c *chain) []byte { return c.tx(cultGrants, amend("g-open", "7000000")) },
			check: func(t *testing.T, c *chain, _ ledger.Result) {
				wantGrant(t, c, "g-open", ledger.GrantAmended, 7_000_000, 1_000_000, 1)
			},
		},
		{
			name: "period end before period start",
			tx: func(c *chain) []byte {
				p := amend("g-open", "6000000")
				p.PeriodEnd = "2024-12-31"
				return c.tx(cultGrants, p)
			},
			want: ledger.ErrInvalidPeriod,
		},
		{
			name: "period end equal to period start",
			tx: func(c *chain) []byte {
				p := amend("g-open", "6000000")
				p.PeriodEnd = "2025-01-01"
				return c.tx(cultGrants, p)
			},
		},
		{name: "unknown grant", tx: func(c *chain) []byte { return c.tx(cultGrants, amend("g-nope", "1")) }, want: ledger.ErrNotFound},
		{name: "another agency's grant", tx: func(c *chain) []byte { return c.tx(cultGrants, amend("w-grant", "1")) }, want: ledger.ErrWrongAgency},
		{name: "closed grant", tx: func(c *chain) []byte { return c.tx(cultGrants, amend("g-closed", "2000000")) }, want: ledger.ErrIllegalTransition},
		{name: "revoked grant", tx: func(c *chain) []byte { return c.tx(cultGrants, amend("g-revoked", "2000000")) }, want: ledger.ErrIllegalTransition},
		{name: "wrong role", tx: func(c *chain) []byte { return c.tx(cultFin1, amend("g-open", "6000000")) }, want: ledger.ErrMissingRole},
		{name: "invalid amount", tx: func(c *chain) []byte { return c.tx(cultGrants, amend("g-open", "-1")) }, want: ledger.ErrInvalidAmount},
		{
			name:  "increase would overflow agency total",
			setup: func(c *chain) { c.mustOK(c.tx(cultGrants, award("g-max", maxRest))) },
			tx:    func(c *chain) []byte { return c.tx(cultGrants, amend("g-small", "100001")) },
			want:  ledger.ErrAmountOverflow,
		},
		{
			name:  "decrease at max agency total",
			setup: func(c *chain) { c.mustOK(c.tx(cultGrants, award("g-max", maxRest))) },
			tx:    func(c *chain) []byte { return c.tx(cultGrants, amend("g-small", "99999")) },
		},
	})
}

func TestGrantCloseRevoke(t *testing.T) {
	ended := func(id, status string) func(t *testing.T, c *chain, res ledger.Result) {
		return func(t *testing.T, c *chain, res ledger.Result) {
			g := c.grant(id)
			if g.Status != status || g.Updated != c.height {
				t.Fatalf("grant %s: %+v", id, g)
			}
			if v, _ := c.view().Get(ledger.StoreIndex, ledger.IndexGrantByAgency(g.Agency, id)); string(v) != status {
				t.Fatalf("index status %q", v)
			}
			wantTotals(t, c, fixtureCultEUR) // ending a grant changes no total
		}
	}
	runTxCases(t, []txCase{
		{name: "close awarded", tx: func(c *chain) []byte { return c.tx(cultGrants, closeGrant("g-open")) }, check: ended("g-open", ledger.GrantClosed)},
		{name: "revoke awarded", tx: func(c *chain) []byte { return c.tx(cultGrants, revokeGrant("g-open")) }, check: ended("g-open", ledger.GrantRevoked)},
		{
			name:  "close amended",
			setup: func(c *chain) { c.mustOK(c.tx(cultGrants, amend("g-small", "100000"))) },
			tx:    func(c *chain) []byte { return c.tx(cultGrants, closeGrant("g-small")) },
			check: ended("g-small", ledger.GrantClosed),
		},
		{
			name:  "revoke amended",
			setup: func(c *chain) { c.mustOK(c.tx(cultGrants, amend("g-small", "100000"))) },
			tx:    func(c *chain) []byte { return c.tx(cultGrants, revokeGrant("g-small")) },
			check: ended("g-small", ledger.GrantRevoked),
		},
		{name: "close closed", tx: func(c *chain) []byte { return c.tx(cultGrants, closeGrant("g-closed")) }, want: ledger.ErrIllegalTransition},
		{name: "revoke closed", tx: func(c *chain) []byte { return c.tx(cultGrants, revokeGrant("g-closed")) }, want: ledger.ErrIllegalTransition},
		{name: "close revoked", tx: func(c *chain) []byte { return c.tx(cultGrants, closeGrant("g-revoked")) }, want: ledger.ErrIllegalTransition},
		{name: "revoke revoked", tx: func(c *chain) []byte { return c.tx(cultGrants, revokeGrant("g-revoked")) }, want: ledger.ErrIllegalTransition},
		{name: "close unknown", tx: func(c *chain) []byte { return c.tx(cultGrants, closeGrant("g-nope")) }, want: ledger.ErrNotFound},
		{name: "revoke unknown", tx: func(c *chain) []byte { return c.tx(cultGrants, revokeGrant("g-nope")) }, want: ledger.ErrNotFound},
		{name: "close another agency's grant", tx: func(c *chain) []byte { return c.tx(cultGrants, closeGrant("w-grant")) }, want: ledger.ErrWrongAgency},
		{name: "revoke another agency's grant", tx: func(c *chain) []byte { return c.tx(cultGrants, revokeGrant("w-grant")) }, want: ledger.ErrWrongAgency},
		{name: "close by finance officer", tx: func(c *chain) []byte { return c.tx(cultFin1, closeGrant("g-open")) }, want: ledger.ErrMissingRole},
		{name: "revoke by licensing officer", tx: func(c *chain) []byte { return c.tx(cultLic, revokeGrant("g-open")) }, want: ledger.ErrMissingRole},
		{
			name: "close with bad document hash",
			tx: func(c *chain) []byte {
				p := closeGrant("g-open")
				p.DocumentHash = "xyz"
				return c.tx(cultGrants, p)
			},
			want: ledger.ErrInvalidHash,
		},
	})
}

// ---- licences ----

func TestLicenceIssue(t *testing.T) {
	runTxCases(t, []txCase{
		{
			name: "ok",
			tx:   func(c *chain) []byte { return c.tx(cultLic, issue("l-new", "2027-01-31")) },
			check: func(t *testing.T, c *chain, res ledger.Result) {
				l := wantLicence(t, c, "l-new", ledger.LicenceIssued, "2027-01-31")
				if l.Agency != agCulture || l.Holder != someCafe || l.ConditionsHash != docHash || l.Created != c.height {
					t.Fatalf("licence: %+v", l)
				}
				if !c.has(ledger.StoreIndex, "licence/expiry/2027-01-31/l-new") {
					t.Fatal("expiry index entry missing")
				}
				if e := findEvent(res.Events, "licence", "id", "l-new"); e == nil || attr(e, "action") != "issue" || attr(e, "holder") != "business-register:BR-99812" {
					t.Fatalf("events: %+v", res.Events)
				}
			},
		},
		{
			name: "valid until the block date",
			tx:   func(c *chain) []byte { return c.tx(cultLic, issue("l-new", fixtureDate)) },
			check: func(t *testing.T, c *chain, _ ledger.Result) {
				wantLicence(t, c, "l-new", ledger.LicenceIssued, fixtureDate)
			},
		},
		{name: "valid until before the block date", tx: func(c *chain) []byte { return c.tx(cultLic, issue("l-new", "2025-03-09")) }, want: ledger.ErrInvalidPeriod},
		{
			name: "valid until before valid from",
			tx: func(c *chain) []byte {
				p := issue("l-new", "2026-01-01")
				p.ValidFrom = "2026-01-02"
				return c.tx(cultLic, p)
			},
			want: ledger.ErrInvalidPeriod,
		},
		{name: "duplicate id", tx: func(c *chain) []byte { return c.tx(cultLic, issue("l-issued", "2027-01-31")) }, want: ledger.ErrAlreadyExists},
		{name: "id of another agency's licence", tx: func(c *chain) []byte { return c.tx(cultLic, issue("w-lic", "2027-01-31")) }, want: ledger.ErrAlreadyExists},
		{name: "grants officer", tx: func(c *chain) []byte { return c.tx(cultGrants, issue("l-new", "2027-01-31")) }, want: ledger.ErrMissingRole},
		{name: "officer of another agency", tx: func(c *chain) []byte { return c.txFor(agCulture, worksLic, issue("l-new", "2027-01-31")) }, want: ledger.ErrNotOfficer},
	})
}

func TestLicenceRenew(t *testing.T) {
	renewed := func(id, oldUntil, newUntil string) func(t *testing.T, c *chain, res ledger.Result) {
		return func(t *testing.T, c *chain, res ledger.Result) {
			l := wantLicence(t, c, id, ledger.LicenceRenewed, newUntil)
			if l.ConditionsHash != docHash || l.RenewalHash != docHash2 || l.Updated != c.height {
				t.Fatalf("licence: %+v", l)
			}
			if !hasAttr(res.Events, "licence", "document_hash", docHash2) {
				t.Errorf("the renew event lacks the renewal's document hash: %+v", res.Events)
			}
			if c.has(ledger.StoreIndex, "licence/expiry/"+oldUntil+"/"+id) {
				t.Fatal("old expiry index entry still present")
			}
			if !c.has(ledger.StoreIndex, "licence/expiry/"+newUntil+"/"+id) {
				t.Fatal("new expiry index entry missing")
			}
			if e := findEvent(res.Events, "licence", "action", "renew"); e == nil || attr(e, "valid_until") != newUntil {
				t.Fatalf("events: %+v", res.Events)
			}
		}
	}
	runTxCases(t, []txCase{
		{name: "issued", tx: func(c *chain) []byte { return c.tx(cultLic, renew("l-issued", "2027-03-31")) }, check: renewed("l-issued", "2026-03-31", "2027-03-31")},
		{name: "renewed", tx: func(c *chain) []byte { return c.tx(cultLic, renew("l-renewed", "2027-03-31")) }, check: renewed("l-renewed", "2026-12-31", "2027-03-31")},
		{name: "reinstated", tx: func(c *chain) []byte { return c.tx(cultLic, renew("l-reinst", "2026-04-01")) }, check: renewed("l-reinst", "2026-03-31", "2026-04-01")},
		{name: "same date", tx: func(c *chain) []byte { return c.tx(cultLic, renew("l-issued", "2026-03-31")) }, want: ledger.ErrInvalidPeriod},
		{name: "earlier date", tx: func(c *chain) []byte { return c.tx(cultLic, renew("l-issued", "2026-01-31")) }, want: ledger.ErrInvalidPeriod},
		{name: "suspended", tx: func(c *chain) []byte { return c.tx(cultLic, renew("l-suspended", "2027-03-31")) }, want: ledger.ErrIllegalTransition},
		{name: "revoked", tx: func(c *chain) []byte { return c.tx(cultLic, renew("l-revoked", "2027-03-31")) }, want: ledger.ErrIllegalTransition},
		{name: "expired", setup: expireShort, tx: func(c *chain) []byte { return c.tx(cultLic, renew("l-short", "2027-03-31")) }, want: ledger.ErrIllegalTransition},
		{name: "unknown", tx: func(c *chain) []byte { return c.tx(cultLic, renew("l-nope", "2027-03-31")) }, want: ledger.ErrNotFound},
		{name: "another agency's licence", tx: func(c *chain) []byte { return c.tx(cultLic, renew("w-lic", "2027-03-31")) }, want: ledger.ErrWrongAgency},
		{name: "wrong role", tx: func(c *chain) []byte { return c.tx(cultGrants, renew("l-issued", "2027-03-31")) }, want: ledger.ErrMissingRole},
		{name: "bad date", tx: func(c *chain) []byte { return c.tx(cultLic, renew("l-issued", "2027-02-29")) }, want: ledger.ErrInvalidDate},
	})
}

func TestLicenceSuspendReinstateRevoke(t *testing.T) {
	status := func(id, want string, expiryKept bool) func(t *testing.T, c *chain, res ledger.Result) {
		return func(t *testing.T, c *chain, res ledger.Result) {
			l := c.licence(id)
			if l.Status != want || l.Updated != c.height {
				t.Fatalf("licence %s: %+v", id, l)
			}
			if got := c.has(ledger.StoreIndex, "licence/expiry/"+l.ValidUntil+"/"+id); got != expiryKept {
				t.Fatalf("expiry index entry present = %v, want %v", got, expiryKept)
			}
			if e := findEvent(res.Events, "licence", "id", id); e == nil || attr(e, "status") != want {
				t.Fatalf("events: %+v", res.Events)
			}
		}
	}
	runTxCases(t, []txCase{
		{name: "suspend issued", tx: func(c *chain) []byte { return c.tx(cultLic, suspend("l-issued")) }, check: status("l-issued", ledger.LicenceSuspended, true)},
		{name: "suspend renewed", tx: func(c *chain) []byte { return c.tx(cultLic, suspend("l-renewed")) }, check: status("l-renewed", ledger.LicenceSuspended, true)},
		{name: "suspend reinstated", tx: func(c *chain) []byte { return c.tx(cultLic, suspend("l-reinst")) }, check: status("l-reinst", ledger.LicenceSuspended, true)},
		{name: "suspend suspended", tx: func(c *chain) []byte { return c.tx(cultLic, suspend("l-suspended")) }, want: ledger.ErrIllegalTransition},
		{name: "suspend revoked", tx: func(c *chain) []byte { return c.tx(cultLic, suspend("l-revoked")) }, want: ledger.ErrIllegalTransition},
		{name: "suspend expired", setup: expireShort, tx: func(c *chain) []byte { return c.tx(cultLic, suspend("l-short")) }, want: ledger.ErrIllegalTransition},
		{name: "suspend unknown", tx: func(c *chain) []byte { return c.tx(cultLic, suspend("l-nope")) }, want: ledger.ErrNotFound},
		{name: "suspend another agency's licence", tx: func(c *chain) []byte { return c.tx(cultLic, suspend("w-lic")) }, want: ledger.ErrWrongAgency},
		{name: "suspend by grants officer", tx: func(c *chain) []byte { return c.tx(cultGrants, suspend("l-issued")) }, want: ledger.ErrMissingRole},

		{name: "reinstate suspended", tx: func(c *chain) []byte { return c.tx(cultLic, reinstate("l-suspended")) }, check: status("l-suspended", ledger.LicenceReinstated, true)},
		{name: "reinstate issued", tx: func(c *chain) []byte { return c.tx(cultLic, reinstate("l-issued")) }, want: ledger.ErrIllegalTransition},
		{name: "reinstate renewed", tx: func(c *chain) []byte { return c.tx(cultLic, reinstate("l-renewed")) }, want: ledger.ErrIllegalTransition},
		{name: "reinstate reinstated", tx: func(c *chain) []byte { return c.tx(cultLic, reinstate("l-reinst")) }, want: ledger.ErrIllegalTransition},
		{name: "reinstate revoked", tx: func(c *chain) []byte { return c.tx(cultLic, reinstate("l-revoked")) }, want: ledger.ErrIllegalTransition},
		{name: "reinstate expired", setup: expireShort, tx: func(c *chain) []byte { return c.tx(cultLic, reinstate("l-short")) }, want: ledger.ErrIllegalTransition},
		{name: "reinstate unknown", tx: func(c *chain) []byte { return c.tx(cultLic, reinstate("l-nope")) }, want: ledger.ErrNotFound},
		{name: "reinstate another agency's licence", tx: func(c *chain) []byte { return c.tx(cultLic, reinstate("w-lic")) }, want: ledger.ErrWrongAgency},

		{name: "revoke issued", tx: func(c *chain) []byte { return c.tx(cultLic, revokeLicence("l-issued")) }, check: status("l-issued", ledger.LicenceRevoked, false)},
		{name: "revoke renewed", tx: func(c *chain) []byte { return c.tx(cultLic, revokeLicence("l-renewed")) }, check: status("l-renewed", ledger.LicenceRevoked, false)},
		{name: "revoke suspended", tx: func(c *chain) []byte { return c.tx(cultLic, revokeLicence("l-suspended")) }, check: status("l-suspended", ledger.LicenceRevoked, false)},
		{name: "revoke reinstated", tx: func(c *chain) []byte { return c.tx(cultLic, revokeLicence("l-reinst")) }, check: status("l-reinst", ledger.LicenceRevoked, false)},
		{name: "revoke revoked", tx: func(c *chain) []byte { return c.tx(cultLic, revokeLicence("l-revoked")) }, want: ledger.ErrIllegalTransition},
		{name: "revoke expired", setup: expireShort, tx: func(c *chain) []byte { return c.tx(cultLic, revokeLicence("l-short")) }, want: ledger.ErrIllegalTransition},
		{name: "revoke unknown", tx: func(c *chain) []byte { return c.tx(cultLic, revokeLicence("l-nope")) }, want: ledger.ErrNotFound},
		{name: "revoke another agency's licence", tx: func(c *chain) []byte { return c.tx(cultLic, revokeLicence("w-lic")) }, want: ledger.ErrWrongAgency},
		{name: "revoke by admin", tx: func(c *chain) []byte { return c.tx(cultAdmin, revokeLicence("l-issued")) }, want: ledger.ErrMissingRole},
		{
			name: "revoke with empty reason",
			tx: func(c *chain) []byte {
				p := revokeLicence("l-issued")
				p.Reason = ""
				return c.tx(cultLic, p)
			},
			want: ledger.ErrInvalidField,
		},
	})
}

// TestLicenceExpiry follows licences across dates: a licence whose
// valid_until is before the block date becomes expired in BeginBlock, with an
// event; renewal moves the expiry; revoked licences never expire.
func TestLicenceExpiry(t *testing.T) {
	c := newChain(t)
	c.mustOK(
		c.tx(cultLic, issue("l-a", "2025-03-12")),
		c.tx(cultLic, issue("l-b", "2025-03-12")),
		c.tx(cultLic, issue("l-c", "2025-03-12")),
		c.tx(cultLic, issue("l-d", "2025-03-12")),
		c.tx(worksLic, issue("w-e", "2025-03-15")),
	)
	c.mustOK(
		c.tx(cultLic, suspend("l-b")),
		c.tx(cultLic, revokeLicence("l-c")),
		c.tx(cultLic, renew("l-d", "2025-03-20")),
	)

	// Last second of the valid_until date: nothing expires.
	c.now = time.Date(2025, 3, 12, 23, 59, 59, 0, time.UTC)
	if br := c.block(); len(br.begin) != 0 {
		t.Fatalf("expirations on the last valid day: %+v", br.begin)
	}
	// The block date is the UTC date: 01:00 at UTC+2 on the 13th is still the 12th.
	c.now = time.Date(2025, 3, 13, 1, 0, 0, 0, time.FixedZone("EET", 2*3600))
	if br := c.block(); len(br.begin) != 0 {
		t.Fatalf("expirations at a local date past valid_until: %+v", br.begin)
	}

	c.now = time.Date(2025, 3, 13, 0, 0, 0, 0, time.UTC)
	br := c.block()
	if len(br.begin) != 2 {
		t.Fatalf("want 2 expirations, got %+v", br.begin)
	}
	for i, id := range []string{"l-a", "l-b"} {
		e := br.begin[i]
		if e.Type != "licence" || attr(&e, "id") != id || attr(&e, "action") != "expire" || attr(&e, "status") != ledger.LicenceExpired || attr(&e, "agency") != agCulture {
			t.Fatalf("event %d: %+v", i, e)
		}
	}
	for _, id := range []string{"l-a", "l-b"} {
		if l := wantLicence(t, c, id, ledger.LicenceExpired, "2025-03-12"); l.Updated != br.height {
			t.Fatalf("%s updated at %d, want %d", id, l.Updated, br.height)
		}
	}
	wantLicence(t, c, "l-c", ledger.LicenceRevoked, "2025-03-12")
	wantLicence(t, c, "l-d", ledger.LicenceRenewed, "2025-03-20")
	wantLicence(t, c, "w-e", ledger.LicenceIssued, "2025-03-15")

	// Expiry happens once.
	if br := c.block(); len(br.begin) != 0 {
		t.Fatalf("second expiry: %+v", br.begin)
	}
	expectResult(t, c.run(c.tx(cultLic, renew("l-a", "2026-01-01"))), ledger.ErrIllegalTransition)
	expectResult(t, c.run(c.tx(cultLic, reinstate("l-b"))), ledger.ErrIllegalTransition)

	// Renewal moved l-d's expiry to the 20th; a jump over several dates
	// expires everything due at once, in key order.
	c.now = time.Date(2025, 3, 21, 0, 0, 0, 0, time.UTC)
	br = c.block()
	if len(br.begin) != 2 || attr(&br.begin[0], "id") != "w-e" || attr(&br.begin[1], "id") != "l-d" {
		t.Fatalf("want expirations of w-e then l-d, got %+v", br.begin)
	}
	wantLicence(t, c, "l-d", ledger.LicenceExpired, "2025-03-20")
	wantLicence(t, c, "w-e", ledger.LicenceExpired, "2025-03-15")
	n := 0
	iterate(t, c.view(), ledger.StoreIndex, "licence/expiry/", func(string, string) { n++ })
	if n != 0 {
		t.Fatalf("%d expiry index entries left", n)
	}

	// Issuing with valid_until before the (new) block date is rejected.
	expectResult(t, c.run(c.tx(cultLic, issue("l-late", "2025-03-20"))), ledger.ErrInvalidPeriod)
	wantAbsent(t, c, ledger.StoreLicences, "l-late")
}

// ---- payments ----

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
				if string(v) != ledger.PaymentReversed {
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

// ---- officers ----

func officerRoles(c *chain, agency string, o *officer) []ledger.Role {
	ag := c.agency(agency)
	for _, x := range ag.Officers {
		if bytes.Equal(x.Key, o.pub) {
			return x.Roles
		}
	}
	return nil
}

func TestOfficers(t *testing.T) {
	sorted := func(t *testing.T, c *chain) {
		t.Helper()
		ag := c.agency(agCulture)
		if !slices.IsSortedFunc(ag.Officers, func(a, b ledger.Officer) int { return bytes.Compare(a.Key, b.Key) }) {
			t.Fatal("officers not sorted by key")
		}
	}
	runTxCases(t, []txCase{
		{
			name: "add",
			tx: func(c *chain) []byte {
				return c.tx(cultAdmin, addOfficer(newcomer, ledger.RoleFinance, ledger.RoleGrants))
			},
			check: func(t *testing.T, c *chain, res ledger.Result) {
				if r := officerRoles(c, agCulture, newcomer); !slices.Equal(r, []ledger.Role{ledger.RoleFinance, ledger.RoleGrants}) {
					t.Fatalf("roles %v", r)
				}
				if len(c.agency(agCulture).Officers) != 6 {
					t.Fatal("officer count")
				}
				sorted(t, c)
				if e := findEvent(res.Events, "officer", "action", "add"); e == nil || attr(e, "roles") != "finance,grants" || attr(e, "key") != newcomer.hex() {
					t.Fatalf("events: %+v", res.Events)
				}
				// The new officer can act at once.
				c.mustOK(c.tx(newcomer, pay("p-new", "", "1000")), c.tx(newcomer, award("g-new", "1000")))
			},
		},
		{name: "add existing officer", tx: func(c *chain) []byte { return c.tx(cultAdmin, addOfficer(cultFin1, ledger.RoleFinance)) }, want: ledger.ErrOfficerExists},
		{name: "add self", tx: func(c *chain) []byte { return c.tx(cultAdmin, addOfficer(cultAdmin, ledger.RoleAdmin)) }, want: ledger.ErrOfficerExists},
		{name: "add another agency's officer", tx: func(c *chain) []byte { return c.tx(cultAdmin, addOfficer(worksAdmin, ledger.RoleFinance)) }, want: ledger.ErrOfficerExists},
		{name: "add by non-admin", tx: func(c *chain) []byte { return c.tx(cultGrants, addOfficer(newcomer, ledger.RoleFinance)) }, want: ledger.ErrMissingRole},
		{name: "add by another agency's admin", tx: func(c *chain) []byte { return c.txFor(agCulture, worksAdmin, addOfficer(newcomer, ledger.RoleFinance)) }, want: ledger.ErrNotOfficer},
		{name: "add with invalid role", tx: func(c *chain) []byte { return c.tx(cultAdmin, addOfficer(newcomer, "auditor")) }, want: ledger.ErrInvalidRole},
		{name: "add with unsorted roles", tx: func(c *chain) []byte {
			return c.tx(cultAdmin, addOfficer(newcomer, ledger.RoleGrants, ledger.RoleFinance))
		}, want: ledger.ErrInvalidRole},
		{name: "add with duplicate roles", tx: func(c *chain) []byte {
			return c.tx(cultAdmin, addOfficer(newcomer, ledger.RoleFinance, ledger.RoleFinance))
		}, want: ledger.ErrInvalidRole},
		{name: "add with no roles", tx: func(c *chain) []byte { return c.tx(cultAdmin, addOfficer(newcomer)) }, want: ledger.ErrInvalidRole},
		{
			name: "add with short key",
			tx: func(c *chain) []byte {
				p := addOfficer(newcomer, ledger.RoleFinance)
				p.Key = p.Key[:31]
				return c.tx(cultAdmin, p)
			},
			want: ledger.ErrInvalidKey,
		},
		{
			name: "add with empty name",
			tx: func(c *chain) []byte {
				p := addOfficer(newcomer, ledger.RoleFinance)
				p.Name = ""
				return c.tx(cultAdmin, p)
			},
			want: ledger.ErrInvalidField,
		},
		{
			name: "remove",
			tx:   func(c *chain) []byte { return c.tx(cultAdmin, removeOfficer(cultFin2)) },
			check: func(t *testing.T, c *chain, _ ledger.Result) {
				if officerRoles(c, agCulture, cultFin2) != nil || len(c.agency(agCulture).Officers) != 4 {
					t.Fatal("officer still present")
				}
				sorted(t, c)
				expectResult(t, c.run(c.tx(cultFin2, pay("p-new", "", "1000"))), ledger.ErrNotOfficer)
				expectResult(t, c.run(c.tx(cultFin1, pay("p-new", "", "2000000"), cultFin2)), ledger.ErrNotOfficer)
			},
		},
		{name: "remove unknown officer", tx: func(c *chain) []byte { return c.tx(cultAdmin, removeOfficer(newcomer)) }, want: ledger.ErrOfficerNotFound},
		{name: "remove another agency's officer", tx: func(c *chain) []byte { return c.tx(cultAdmin, removeOfficer(worksFin)) }, want: ledger.ErrOfficerNotFound},
		{name: "remove last admin", tx: func(c *chain) []byte { return c.tx(cultAdmin, removeOfficer(cultAdmin)) }, want: ledger.ErrLastAdmin},
		{name: "remove last admin with other roles", tx: func(c *chain) []byte { return c.tx(taxAdmin, removeOfficer(taxAdmin)) }, want: ledger.ErrLastAdmin},
		{
			name:  "remove one of two admins",
			setup: func(c *chain) { c.mustOK(c.tx(cultAdmin, addOfficer(newcomer, ledger.RoleAdmin))) },
			tx:    func(c *chain) []byte { return c.tx(newcomer, removeOfficer(cultAdmin)) },
			check: func(t *testing.T, c *chain, _ ledger.Result) {
				expectResult(t, c.run(c.tx(cultAdmin, addOfficer(outsider, ledger.RoleAdmin))), ledger.ErrNotOfficer)
				expectResult(t, c.run(c.tx(newcomer, removeOfficer(newcomer))), ledger.ErrLastAdmin)
			},
		},
		{name: "remove by non-admin", tx: func(c *chain) []byte { return c.tx(cultFin1, removeOfficer(cultFin2)) }, want: ledger.ErrMissingRole},
		{
			name: "set roles",
			tx: func(c *chain) []byte {
				return c.tx(cultAdmin, setRoles(cultFin1, ledger.RoleFinance, ledger.RoleGrants))
			},
			check: func(t *testing.T, c *chain, res ledger.Result) {
				if r := officerRoles(c, agCulture, cultFin1); !slices.Equal(r, []ledger.Role{ledger.RoleFinance, ledger.RoleGrants}) {
					t.Fatalf("roles %v", r)
				}
				if e := findEvent(res.Events, "officer", "action", "set-roles"); e == nil || attr(e, "roles") != "finance,grants" {
					t.Fatalf("events: %+v", res.Events)
				}
				c.mustOK(c.tx(cultFin1, award("g-new", "1000")))
			},
		},
		{
			name: "set roles takes a role away",
			tx:   func(c *chain) []byte { return c.tx(cultAdmin, setRoles(cultFin1, ledger.RoleLicensing)) },
			check: func(t *testing.T, c *chain, _ ledger.Result) {
				expectResult(t, c.run(c.tx(cultFin1, pay("p-new", "", "1000"))), ledger.ErrMissingRole)
			},
		},
		{name: "set roles of unknown officer", tx: func(c *chain) []byte { return c.tx(cultAdmin, setRoles(newcomer, ledger.RoleFinance)) }, want: ledger.ErrOfficerNotFound},
		{name: "set roles of another agency's officer", tx: func(c *chain) []byte { return c.tx(cultAdmin, setRoles(worksFin, ledger.RoleFinance)) }, want: ledger.ErrOfficerNotFound},
		{name: "drop admin role of last admin", tx: func(c *chain) []byte { return c.tx(cultAdmin, setRoles(cultAdmin, ledger.RoleFinance)) }, want: ledger.ErrLastAdmin},
		{name: "drop admin role of last admin with other roles", tx: func(c *chain) []byte { return c.txFor(agWorks, worksAdmin, setRoles(worksAdmin, ledger.RoleGrants)) }, want: ledger.ErrLastAdmin},
		{name: "last admin keeps admin role", tx: func(c *chain) []byte {
			return c.tx(cultAdmin, setRoles(cultAdmin, ledger.RoleAdmin, ledger.RoleFinance))
		}},
		{
			name:  "drop admin role of one of two admins",
			setup: func(c *chain) { c.mustOK(c.tx(cultAdmin, setRoles(cultFin1, ledger.RoleAdmin, ledger.RoleFinance))) },
			tx:    func(c *chain) []byte { return c.tx(cultFin1, setRoles(cultAdmin, ledger.RoleGrants)) },
		},
		{name: "set invalid role", tx: func(c *chain) []byte { return c.tx(cultAdmin, setRoles(cultFin1, "root")) }, want: ledger.ErrInvalidRole},
		{name: "set no roles", tx: func(c *chain) []byte { return c.tx(cultAdmin, setRoles(cultFin1)) }, want: ledger.ErrInvalidRole},
		{name: "set roles by non-admin", tx: func(c *chain) []byte { return c.tx(cultFin2, setRoles(cultFin2, ledger.RoleAdmin, ledger.RoleFinance)) }, want: ledger.ErrMissingRole},
	})
}

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

// ---- invariants and genesis ----

func TestCheckInvariantsDetectsCorruption(t *testing.T) {
	corrupt := []struct {
		name string
		fn   func(c *chain)
	}{
		{"totals", func(c *chain) {
			tot := fixtureCultEUR
			tot.Paid++
			bz, _ := json.Marshal(tot)
			_ = c.kv.Set(ledger.StoreMeta, ledger.TotalsKey(agCulture, "EUR"), bz)
		}},
		{"grant disbursed", func(c *chain) {
			g := c.grant("g-open")
			g.Disbursed++
			bz, _ := json.Marshal(g)
			_ = c.kv.Set(ledger.StoreGrants, ledger.RecordKey("g-open"), bz)
		}},
		{"grant index", func(c *chain) {
			_ = c.kv.Set(ledger.StoreIndex, ledger.IndexGrantByAgency(agCulture, "g-open"), []byte(ledger.GrantClosed))
		}},
		{"stray totals", func(c *chain) {
			bz, _ := json.Marshal(ledger.Totals{Agency: agTax, Currency: "EUR", Paid: 5})
			_ = c.kv.Set(ledger.StoreMeta, ledger.TotalsKey(agTax, "EUR"), bz)
		}},
	}
	for _, tc := range corrupt {
		t.Run(tc.name, func(t *testing.T) {
			c := newFixture(t)
			tc.fn(c)
			if _, _, err := c.kv.Commit(); err != nil {
				t.Fatal(err)
			}
			c.height++
			broken, err := ledger.CheckInvariants(c.view())
			if err != nil {
				t.Fatal(err)
			}
			if len(broken) == 0 {
				t.Fatal("corruption not detected")
			}
		})
	}
}

func TestGenesisValidate(t *testing.T) {
	cases := []struct {
		name string
		mod  func(gs *ledger.GenesisState)
		want *ledger.Error
	}{
		{"ok", func(*ledger.GenesisState) {}, nil},
		{"no agencies", func(gs *ledger.GenesisState) { gs.Agencies = nil }, ledger.ErrInvalidField},
		{"duplicate agency", func(gs *ledger.GenesisState) {
			gs.Agencies[1].ID = agCulture
		}, ledger.ErrAlreadyExists},
		{"invalid agency id", func(gs *ledger.GenesisState) { gs.Agencies[0].ID = "Ministry of Culture" }, ledger.ErrInvalidID},
		{"officer in two agencies", func(gs *ledger.GenesisState) {
			gs.Agencies[1].Officers = append(gs.Agencies[1].Officers, off(cultFin1, ledger.RoleFinance))
		}, ledger.ErrOfficerExists},
		{"agency without admin", func(gs *ledger.GenesisState) { gs.Agencies[0].Officers = gs.Agencies[0].Officers[1:] }, ledger.ErrLastAdmin},
		{"bad role", func(gs *ledger.GenesisState) { gs.Agencies[0].Officers[1].Roles = []ledger.Role{"boss"} }, ledger.ErrInvalidRole},
		{"short validator key", func(gs *ledger.GenesisState) { gs.Agencies[0].ValidatorKey = gs.Agencies[0].ValidatorKey[:16] }, ledger.ErrInvalidKey},
		{"shared validator key", func(gs *ledger.GenesisState) { gs.Agencies[1].ValidatorKey = gs.Agencies[0].ValidatorKey }, ledger.ErrInvalidKey},
		{"zero power", func(gs *ledger.GenesisState) { gs.Agencies[2].Power = 0 }, ledger.ErrInvalidField},
		{"no officers", func(gs *ledger.GenesisState) { gs.Agencies[2].Officers = nil }, ledger.ErrInvalidField},
		{"params: tiny max tx bytes", func(gs *ledger.GenesisState) { gs.Params.MaxTxBytes = 1023 }, ledger.ErrInvalidField},
		{"params: zero replay window", func(gs *ledger.GenesisState) { gs.Params.ReplayWindow = 0 }, ledger.ErrInvalidField},
		{"params: negative threshold", func(gs *ledger.GenesisState) { gs.Params.FourEyesThreshold = -1 }, ledger.ErrInvalidField},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gs := testGenesis()
			tc.mod(gs)
			expectErr(t, gs.Validate(), tc.want)
		})
	}
}

func TestInitGenesisState(t *testing.T) {
	c := newChain(t)
	c.block()
	ag := c.agency(agCulture)
	if ag == nil || len(ag.Officers) != 5 {
		t.Fatalf("agency: %+v", ag)
	}
	if !slices.IsSortedFunc(ag.Officers, func(a, b ledger.Officer) int { return bytes.Compare(a.Key, b.Key) }) {
		t.Fatal("genesis officers not sorted by key")
	}
	p, err := ledger.LoadParams(c.view())
	if err != nil || !p.Equal(ledger.DefaultParams()) {
		t.Fatalf("params %+v, %v", p, err)
	}
	for _, s := range ledger.StoreNames {
		if !c.has(s, string(ledger.SeedKey)) {
			t.Fatalf("store %s not seeded", s)
		}
	}
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
