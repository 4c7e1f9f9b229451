package ledger_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/civicledger/civicledger/ledger"
)

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

// TestInvariantTable: every rule has a unique, stable-looking id and a
// description.
func TestInvariantTable(t *testing.T) {
	id := regexp.MustCompile(`^[a-z]+(-[a-z]+)*$`)
	seen := map[string]bool{}
	for _, inv := range ledger.Invariants {
		if !id.MatchString(inv.ID) || inv.Description == "" {
			t.Errorf("invariant %+v: want a lower-case hyphenated id and a description", inv)
		}
		if seen[inv.ID] {
			t.Errorf("invariant id %s declared twice", inv.ID)
		}
		seen[inv.ID] = true
	}
}

// invariantIDs returns the sorted, distinct rule ids of vs, and fails the
// test on a rule missing from ledger.Invariants.
func invariantIDs(t *testing.T, vs []ledger.Violation) []string {
	t.Helper()
	declared := map[string]bool{}
	for _, inv := range ledger.Invariants {
		declared[inv.ID] = true
	}
	var ids []string
	for _, v := range vs {
		if !declared[v.Rule] {
			t.Errorf("violation of undeclared rule %q: %s", v.Rule, v.Message)
		}
		if !slices.Contains(ids, v.Rule) {
			ids = append(ids, v.Rule)
		}
	}
	slices.Sort(ids)
	return ids
}

// TestCheckInvariantsNamesTheRule corrupts the fixture's state and checks
// that CheckInvariants reports exactly the rules the corruption breaks, by
// id.
func TestCheckInvariantsNamesTheRule(t *testing.T) {
	setGrant := func(c *chain, id string, f func(g *ledger.Grant)) {
		g := c.grant(id)
		f(g)
		bz, _ := json.Marshal(g)
		_ = c.kv.Set(ledger.StoreGrants, ledger.RecordKey(id), bz)
	}
	setPayment := func(c *chain, id string, f func(p *ledger.Payment)) {
		p := c.payment(id)
		f(p)
		bz, _ := json.Marshal(p)
		_ = c.kv.Set(ledger.StorePayments, ledger.RecordKey(id), bz)
	}
	cases := []struct {
		name string
		fn   func(c *chain)
		want []string
	}{
		{"none", func(*chain) {}, nil},
		{ledger.InvAgencyTotals, func(c *chain) {
			tot := fixtureCultEUR
			tot.Reversals++
			bz, _ := json.Marshal(tot)
			_ = c.kv.Set(ledger.StoreMeta, ledger.TotalsKey(agCulture, "EUR"), bz)
		}, []string{ledger.InvAgencyTotals}},
		{ledger.InvGrantDisbursed, func(c *chain) { setGrant(c, "g-open", func(g *ledger.Grant) { g.Payments++ }) },
			[]string{ledger.InvGrantDisbursed}},
		{ledger.InvGrantWithinAward, func(c *chain) {
			setGrant(c, "g-small", func(g *ledger.Grant) { g.Disbursed = g.Awarded + 1 })
		}, []string{ledger.InvGrantDisbursed, ledger.InvGrantWithinAward}},
		{ledger.InvGrantStatus, func(c *chain) { setGrant(c, "g-small", func(g *ledger.Grant) { g.Status = "lost" }) },
			[]string{ledger.InvGrantStatus, ledger.InvIndexStatus}},
		{ledger.InvIndexStatus, func(c *chain) {
			_ = c.kv.Set(ledger.StoreIndex, ledger.IndexGrantByAgency(agCulture, "g-small"), []byte(ledger.GrantRevoked))
		}, []string{ledger.InvIndexStatus}},
		{ledger.InvPaymentStatus, func(c *chain) { setPayment(c, "p-free", func(p *ledger.Payment) { p.Status = "lost" }) },
			[]string{ledger.InvAgencyTotals, ledger.InvPaymentStatus}},
		{ledger.InvPaymentGrant, func(c *chain) { setPayment(c, "p-free", func(p *ledger.Payment) { p.Grant = "g-none" }) },
			[]string{ledger.InvAgencyTotals, ledger.InvPaymentGrant}},
		{ledger.InvPaymentGrantAgency, func(c *chain) { setPayment(c, "p-free", func(p *ledger.Payment) { p.Grant = "w-grant" }) },
			[]string{ledger.InvAgencyTotals, ledger.InvGrantDisbursed, ledger.InvPaymentGrantAgency}},
		{ledger.InvPaymentCurrency, func(c *chain) { setPayment(c, "p-free", func(p *ledger.Payment) { p.Grant = "g-usd" }) },
			[]string{ledger.InvAgencyTotals, ledger.InvGrantDisbursed, ledger.InvPaymentCurrency}},
		{ledger.InvRecordDecodes, func(c *chain) { _ = c.kv.Set(ledger.StorePayments, ledger.RecordKey("p-free"), []byte("{")) },
			[]string{ledger.InvAgencyTotals, ledger.InvRecordDecodes}},
		{ledger.InvAgencyPower, func(c *chain) {
			a := c.agency(agTax)
			a.Power = 0
			bz, _ := json.Marshal(a)
			_ = c.kv.Set(ledger.StoreAgencies, ledger.RecordKey(agTax), bz)
		}, []string{ledger.InvAgencyPower}},
		{ledger.InvValidatorIndex, func(c *chain) {
			_ = c.kv.Set(ledger.StoreIndex, ledger.IndexValidator(c.agency(agTax).ValidatorKey), []byte(agWorks))
		}, []string{ledger.InvValidatorIndex}},
	}
	for _, tc := range cases {
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
			if got := invariantIDs(t, broken); !slices.Equal(got, tc.want) {
				t.Errorf("rules %q, want %q\n%v", got, tc.want, broken)
			}
		})
	}
}

// TestReconcile checks the pure recomputation on records alone: the totals
// rows, a grant of another agency known only by reference, a missing grant,
// a stored totals record with no records and a missing one.
func TestReconcile(t *testing.T) {
	g := func(id, agency, cur string, awarded, disbursed ledger.Amount, payments int64) ledger.Grant {
		return ledger.Grant{ID: id, Agency: agency, Currency: cur, Status: ledger.GrantAwarded, Awarded: awarded, Disbursed: disbursed, Payments: payments}
	}
	p := func(id, agency, cur, grant string, amount ledger.Amount, status ledger.PaymentStatus) ledger.Payment {
		return ledger.Payment{ID: id, Agency: agency, Currency: cur, Grant: grant, Amount: amount, Status: status}
	}
	books := func() *ledger.Books {
		return &ledger.Books{
			Grants: []ledger.Grant{g("g1", "a", "EUR", 100, 30, 1)},
			Payments: []ledger.Payment{
				p("p2", "a", "EUR", "", 5, ledger.PaymentRecorded),
				p("p1", "a", "EUR", "g1", 30, ledger.PaymentRecorded),
				p("p3", "a", "EUR", "g1", 7, ledger.PaymentReversed),
			},
			Stored: map[string]*ledger.Totals{"a/EUR": {Agency: "a", Currency: "EUR", Awarded: 100, Grants: 1, Paid: 35,
				PaidAgainstGrant: 30, Payments: 2, Reversed: 7, Reversals: 1}},
		}
	}
	rules := func(r *ledger.Reconciliation) []string {
		var out []string
		for _, v := range r.Violations {
			out = append(out, v.Rule+":"+v.ID)
		}
		return out
	}
	cases := []struct {
		name string
		mod  func(b *ledger.Books)
		want []string
		rows int
	}{
		{"clean", func(*ledger.Books) {}, nil, 1},
		{"another agency's grant", func(b *ledger.Books) {
			b.Payments[0].Grant = "g9"
			b.Referenced = map[string]*ledger.Grant{"g9": {ID: "g9", Agency: "b", Currency: "EUR"}}
		}, []string{"payment-grant-agency:p2", "agency-totals:a/EUR"}, 1},
		{"missing grant", func(b *ledger.Books) {
			b.Payments[0].Grant = "g9"
			b.Referenced = map[string]*ledger.Grant{"g9": nil}
		}, []string{"payment-grant:p2", "agency-totals:a/EUR"}, 1},
		{"missing totals record", func(b *ledger.Books) { b.Stored["a/EUR"] = nil }, []string{"agency-totals:a/EUR"}, 1},
		{"stray totals record", func(b *ledger.Books) {
			b.Stored["a/USD"] = &ledger.Totals{Agency: "a", Currency: "USD", Grants: 1}
		}, []string{"agency-totals:a/USD"}, 2},
		{"absent totals record read", func(b *ledger.Books) { b.Stored["a/USD"] = nil }, nil, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := books()
			tc.mod(b)
			r := ledger.Reconcile(b)
			if got := rules(r); !slices.Equal(got, tc.want) || len(r.Totals) != tc.rows {
				t.Errorf("violations %q, want %q; totals %+v", got, tc.want, r.Totals)
			}
			for _, row := range r.Totals {
				if row.OK != (row.Stored != nil && *row.Stored == row.Recomputed) {
					t.Errorf("row %+v: OK disagrees with stored and recomputed", row)
				}
			}
		})
	}
}

// TestInvariantsDocumented: docs/auditors.md lists every rule id, marked
// "audit" exactly when ledger audit checks it.
func TestInvariantsDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "auditors.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{} // id → audit column
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) > 3 && strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			rows[strings.Trim(strings.TrimSpace(cells[1]), "`")] = strings.TrimSpace(cells[2])
		}
	}
	for _, inv := range ledger.Invariants {
		audit, ok := rows[inv.ID]
		if !ok || (audit == "audit") != inv.Reconciled {
			t.Errorf("docs/auditors.md: rule %s (reconciled %v) listed %v, audit column %q", inv.ID, inv.Reconciled, ok, audit)
		}
	}
}
