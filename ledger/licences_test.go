package ledger_test

import (
	"testing"
	"time"

	"github.com/civicledger/civicledger/ledger"
)

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
	status := func(id string, want ledger.LicenceStatus, expiryKept bool) func(t *testing.T, c *chain, res ledger.Result) {
		return func(t *testing.T, c *chain, res ledger.Result) {
			l := c.licence(id)
			if l.Status != want || l.Updated != c.height {
				t.Fatalf("licence %s: %+v", id, l)
			}
			if got := c.has(ledger.StoreIndex, "licence/expiry/"+l.ValidUntil+"/"+id); got != expiryKept {
				t.Fatalf("expiry index entry present = %v, want %v", got, expiryKept)
			}
			if e := findEvent(res.Events, "licence", "id", id); e == nil || attr(e, "status") != string(want) {
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
		if e.Type != "licence" || attr(&e, "id") != id || attr(&e, "action") != "expire" || attr(&e, "status") != string(ledger.LicenceExpired) || attr(&e, "agency") != agCulture {
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
