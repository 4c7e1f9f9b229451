package ledger_test

import (
	"encoding/base64"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/civicledger/civicledger/ledger"
)

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
				if e := findEvent(res.Events, "grant", "action", "amend"); e == nil || attr(e, "status") != string(ledger.GrantAmended) {
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
	ended := func(id string, status ledger.GrantStatus) func(t *testing.T, c *chain, res ledger.Result) {
		return func(t *testing.T, c *chain, res ledger.Result) {
			g := c.grant(id)
			if g.Status != status || g.Updated != c.height {
				t.Fatalf("grant %s: %+v", id, g)
			}
			if v, _ := c.view().Get(ledger.StoreIndex, ledger.IndexGrantByAgency(g.Agency, id)); string(v) != string(status) {
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
