package ledger_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/civicledger/civicledger/ledger"
)

// newListChain builds a chain with records to list:
//
//	grants    culture c-01..c-07 (c-02, c-05 closed, c-07 revoked); works w-01, w-02
//	licences  culture l-01..l-03 (l-02 suspended); works lw-1
//	payments  culture q-01..q-05 on c-01 (q-02 reversed), q-06 on c-03, q-07 without grant;
//	          works wq-1 on w-01
func newListChain(t *testing.T) *chain {
	t.Helper()
	c := newChain(t)
	var raws [][]byte
	for i := 1; i <= 7; i++ {
		raws = append(raws, c.tx(cultGrants, award(fmt.Sprintf("c-%02d", i), "100000")))
	}
	raws = append(raws,
		c.tx(worksAdmin, award("w-01", "100000")), c.tx(worksAdmin, award("w-02", "100000")),
		c.tx(cultLic, issue("l-01", "2026-01-01")), c.tx(cultLic, issue("l-02", "2026-01-01")),
		c.tx(cultLic, issue("l-03", "2026-01-01")), c.tx(worksLic, issue("lw-1", "2026-01-01")),
	)
	c.mustOK(raws...)
	c.mustOK(
		c.tx(cultGrants, closeGrant("c-02")), c.tx(cultGrants, closeGrant("c-05")), c.tx(cultGrants, revokeGrant("c-07")),
		c.tx(cultLic, suspend("l-02")),
		c.tx(cultFin1, pay("q-01", "c-01", "100")), c.tx(cultFin1, pay("q-02", "c-01", "200")),
		c.tx(cultFin1, pay("q-03", "c-01", "300")), c.tx(cultFin1, pay("q-04", "c-01", "400")),
		c.tx(cultFin1, pay("q-05", "c-01", "500")), c.tx(cultFin1, pay("q-06", "c-03", "600")),
		c.tx(cultFin1, pay("q-07", "", "700")), c.tx(worksFin, pay("wq-1", "w-01", "800")),
	)
	c.mustOK(c.tx(cultFin2, reverse("q-02")))
	return c
}

type listed struct {
	ID     string `json:"id"`
	Agency string `json:"agency"`
	Status string `json:"status"`
}

func pageIDs(t *testing.T, p *ledger.Page) []string {
	t.Helper()
	ids := []string{}
	for _, it := range p.Items {
		var l listed
		if err := json.Unmarshal(it, &l); err != nil {
			t.Fatalf("item %s: %v", it, err)
		}
		ids = append(ids, l.ID)
	}
	return ids
}

// walk pages through a listing and returns the ids of each page.
func walk(t *testing.T, r ledger.Reader, kind ledger.Kind, f ledger.ListFilter) [][]string {
	t.Helper()
	var pages [][]string
	for range 50 {
		p, err := ledger.List(r, kind, f)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, pageIDs(t, p))
		if p.Next == "" {
			return pages
		}
		if last := pages[len(pages)-1]; p.Next != last[len(last)-1] {
			t.Fatalf("next %q is not the last id of the page %v", p.Next, last)
		}
		f.After = p.Next
	}
	t.Fatal("listing does not end")
	return nil
}

func TestList(t *testing.T) {
	c := newListChain(t)
	v := c.view()
	cases := []struct {
		name string
		kind ledger.Kind
		f    ledger.ListFilter
		want [][]string
	}{
		{"agency, pages of 3", "grant", ledger.ListFilter{Agency: agCulture, Limit: 3},
			[][]string{{"c-01", "c-02", "c-03"}, {"c-04", "c-05", "c-06"}, {"c-07"}}},
		{"agency, one exact page", "grant", ledger.ListFilter{Agency: agCulture, Limit: 7},
			[][]string{{"c-01", "c-02", "c-03", "c-04", "c-05", "c-06", "c-07"}}},
		{"agency, page one short of all", "grant", ledger.ListFilter{Agency: agCulture, Limit: 6},
			[][]string{{"c-01", "c-02", "c-03", "c-04", "c-05", "c-06"}, {"c-07"}}},
		{"agency, default limit", "grant", ledger.ListFilter{Agency: agCulture},
			[][]string{{"c-01", "c-02", "c-03", "c-04", "c-05", "c-06", "c-07"}}},
		{"agency, after an absent id", "grant", ledger.ListFilter{Agency: agCulture, After: "c-035", Limit: 2},
			[][]string{{"c-04", "c-05"}, {"c-06", "c-07"}}},
		{"agency, after the last id", "grant", ledger.ListFilter{Agency: agCulture, After: "c-07"}, [][]string{{}}},
		{"other agency", "grant", ledger.ListFilter{Agency: agWorks}, [][]string{{"w-01", "w-02"}}},
		{"agency without grants", "grant", ledger.ListFilter{Agency: agTax}, [][]string{{}}},
		{"unknown agency", "grant", ledger.ListFilter{Agency: "nobody"}, [][]string{{}}},
		{"status closed, pages of 1", "grant", ledger.ListFilter{Agency: agCulture, Status: string(ledger.GrantClosed), Limit: 1},
			[][]string{{"c-02"}, {"c-05"}}},
		{"status awarded", "grant", ledger.ListFilter{Agency: agCulture, Status: string(ledger.GrantAwarded)},
			[][]string{{"c-01", "c-03", "c-04", "c-06"}}},
		{"status revoked", "grant", ledger.ListFilter{Agency: agCulture, Status: string(ledger.GrantRevoked)}, [][]string{{"c-07"}}},
		{"status nobody has", "grant", ledger.ListFilter{Agency: agCulture, Status: "pending"}, [][]string{{}}},
		{"all agencies, pages of 4", "grant", ledger.ListFilter{Limit: 4},
			[][]string{{"c-01", "c-02", "c-03", "c-04"}, {"c-05", "c-06", "c-07", "w-01"}, {"w-02"}}},
		{"all agencies, status closed", "grant", ledger.ListFilter{Status: string(ledger.GrantClosed)}, [][]string{{"c-02", "c-05"}}},
		{"all agencies, status awarded, pages of 3", "grant", ledger.ListFilter{Status: string(ledger.GrantAwarded), Limit: 3},
			[][]string{{"c-01", "c-03", "c-04"}, {"c-06", "w-01", "w-02"}}},
		{"licences of an agency", "licence", ledger.ListFilter{Agency: agCulture}, [][]string{{"l-01", "l-02", "l-03"}}},
		{"suspended licences", "licence", ledger.ListFilter{Agency: agCulture, Status: string(ledger.LicenceSuspended)}, [][]string{{"l-02"}}},
		{"all licences", "licence", ledger.ListFilter{Limit: 2}, [][]string{{"l-01", "l-02"}, {"l-03", "lw-1"}}},
		{"payments of an agency", "payment", ledger.ListFilter{Agency: agCulture, Limit: 4},
			[][]string{{"q-01", "q-02", "q-03", "q-04"}, {"q-05", "q-06", "q-07"}}},
		{"reversed payments", "payment", ledger.ListFilter{Agency: agCulture, Status: string(ledger.PaymentReversed)}, [][]string{{"q-02"}}},
		{"payments of another agency", "payment", ledger.ListFilter{Agency: agWorks}, [][]string{{"wq-1"}}},
		{"all reversed payments", "payment", ledger.ListFilter{Status: string(ledger.PaymentReversed)}, [][]string{{"q-02"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := walk(t, v, tc.kind, tc.f)
			if !slices.EqualFunc(got, tc.want, slices.Equal) {
				t.Fatalf("pages %v, want %v", got, tc.want)
			}
		})
	}

	// Items are the stored records, and match the filter.
	p, err := ledger.List(v, "grant", ledger.ListFilter{Agency: agCulture, Status: string(ledger.GrantClosed)})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range p.Items {
		var g ledger.Grant
		if err := json.Unmarshal(it, &g); err != nil || g.Agency != agCulture || g.Status != ledger.GrantClosed || g.Awarded != 100_000 {
			t.Fatalf("item %s (%v)", it, err)
		}
	}
	// An empty page encodes as an empty list, without next.
	p, _ = ledger.List(v, "grant", ledger.ListFilter{Agency: agTax})
	if bz, _ := json.Marshal(p); string(bz) != `{"items":[]}` {
		t.Fatalf("empty page encodes as %s", bz)
	}
}

func TestListAtPastHeight(t *testing.T) {
	c := newListChain(t)
	old, err := c.kv.At(1)
	if err != nil {
		t.Fatal(err)
	}
	// At height 1 nothing was closed yet and no payment existed.
	if got := walk(t, old, "grant", ledger.ListFilter{Agency: agCulture, Status: string(ledger.GrantClosed)}); !slices.EqualFunc(got, [][]string{{}}, slices.Equal) {
		t.Fatalf("closed grants at height 1: %v", got)
	}
	if got := walk(t, old, "payment", ledger.ListFilter{}); !slices.EqualFunc(got, [][]string{{}}, slices.Equal) {
		t.Fatalf("payments at height 1: %v", got)
	}
}

func TestListLimits(t *testing.T) {
	c := newListChain(t)
	var raws [][]byte
	for i := range 105 {
		raws = append(raws, c.tx(cultFin1, pay(fmt.Sprintf("m-%03d", i), "", "1")))
	}
	c.mustOK(raws...)
	v := c.view()
	for _, tc := range []struct {
		limit    int
		wantLen  int
		wantNext string
	}{
		{0, 100, "m-099"},
		{-1, 100, "m-099"},
		{ledger.MaxPageSize, 112, ""},
		{ledger.MaxPageSize + 1, 112, ""}, // capped at MaxPageSize
		{112, 112, ""},
		{111, 111, "q-06"},
	} {
		p, err := ledger.List(v, "payment", ledger.ListFilter{Agency: agCulture, Limit: tc.limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) != tc.wantLen || p.Next != tc.wantNext {
			t.Errorf("limit %d: %d items, next %q; want %d, %q", tc.limit, len(p.Items), p.Next, tc.wantLen, tc.wantNext)
		}
	}
}

func TestListErrors(t *testing.T) {
	c := newListChain(t)
	v := c.view()
	for _, tc := range []struct {
		kind ledger.Kind
		f    ledger.ListFilter
		want *ledger.Error
	}{
		{"grants", ledger.ListFilter{}, ledger.ErrInvalidField},
		{"", ledger.ListFilter{}, ledger.ErrInvalidField},
		{"agency", ledger.ListFilter{}, ledger.ErrInvalidField},
		{"grant", ledger.ListFilter{Agency: "bad agency"}, ledger.ErrInvalidID},
		{"grant", ledger.ListFilter{Agency: agCulture + "/c-01"}, ledger.ErrInvalidID},
		{"grant", ledger.ListFilter{After: "bad/after"}, ledger.ErrInvalidID},
		{"payment", ledger.ListFilter{Agency: agCulture, After: "x y"}, ledger.ErrInvalidID},
	} {
		p, err := ledger.List(v, tc.kind, tc.f)
		if p != nil {
			t.Errorf("%s %+v: page with error", tc.kind, tc.f)
		}
		expectErr(t, err, tc.want)
	}
}

func TestListPaymentsOfGrant(t *testing.T) {
	c := newListChain(t)
	v := c.view()
	all := func(grant, after string, limit int) ([][]string, []*ledger.Page) {
		var pages [][]string
		var raw []*ledger.Page
		for range 20 {
			p, err := ledger.ListPaymentsOfGrant(v, grant, after, limit)
			if err != nil {
				t.Fatal(err)
			}
			pages = append(pages, pageIDs(t, p))
			raw = append(raw, p)
			if p.Next == "" {
				return pages, raw
			}
			after = p.Next
		}
		t.Fatal("listing does not end")
		return nil, nil
	}
	for _, tc := range []struct {
		grant, after string
		limit        int
		want         [][]string
	}{
		{"c-01", "", 2, [][]string{{"q-01", "q-02"}, {"q-03", "q-04"}, {"q-05"}}},
		{"c-01", "", 5, [][]string{{"q-01", "q-02", "q-03", "q-04", "q-05"}}},
		{"c-01", "", 0, [][]string{{"q-01", "q-02", "q-03", "q-04", "q-05"}}},
		{"c-01", "q-03", 10, [][]string{{"q-04", "q-05"}}},
		{"c-03", "", 10, [][]string{{"q-06"}}},
		{"c-02", "", 10, [][]string{{}}},
		{"w-01", "", 10, [][]string{{"wq-1"}}},
		{"no-such-grant", "", 10, [][]string{{}}},
		// "c-0" is a prefix of other grant ids: it must not list their payments.
		{"c-0", "", 10, [][]string{{}}},
	} {
		got, _ := all(tc.grant, tc.after, tc.limit)
		if !slices.EqualFunc(got, tc.want, slices.Equal) {
			t.Errorf("grant %s after %q limit %d: %v, want %v", tc.grant, tc.after, tc.limit, got, tc.want)
		}
	}
	// Reversed payments are listed with their status.
	_, pages := all("c-01", "", 10)
	var q02 ledger.Payment
	if err := json.Unmarshal(pages[0].Items[1], &q02); err != nil || q02.ID != "q-02" || q02.Status != ledger.PaymentReversed || q02.Grant != "c-01" {
		t.Fatalf("q-02: %+v, %v", q02, err)
	}
	_, err := ledger.ListPaymentsOfGrant(v, "bad grant", "", 10)
	expectErr(t, err, ledger.ErrInvalidID)
	_, err = ledger.ListPaymentsOfGrant(v, "", "", 10)
	expectErr(t, err, ledger.ErrInvalidID)
}

// TestListScanBudget: a status filter scans at most Budget entries per page,
// ending the page early with a cursor; paging on Next lists every match once.
func TestListScanBudget(t *testing.T) {
	c := newListChain(t)
	v := c.view()
	for _, tc := range []struct {
		name string
		kind ledger.Kind
		f    ledger.ListFilter
		want []string
	}{
		{"index, awarded", "grant", ledger.ListFilter{Agency: agCulture, Status: string(ledger.GrantAwarded)}, []string{"c-01", "c-03", "c-04", "c-06"}},
		{"index, revoked", "grant", ledger.ListFilter{Agency: agCulture, Status: string(ledger.GrantRevoked)}, []string{"c-07"}},
		{"records, closed", "grant", ledger.ListFilter{Status: string(ledger.GrantClosed)}, []string{"c-02", "c-05"}},
		{"records, reversed", "payment", ledger.ListFilter{Status: string(ledger.PaymentReversed)}, []string{"q-02"}},
		{"records, nothing matches", "licence", ledger.ListFilter{Status: "pending"}, nil},
	} {
		for _, budget := range []int{1, 2, 3, 5} {
			t.Run(fmt.Sprintf("%s, budget %d", tc.name, budget), func(t *testing.T) {
				f := tc.f
				f.Budget, f.Limit = budget, 2
				var got []string
				pages := 0
				for {
					p, err := ledger.List(v, tc.kind, f)
					if err != nil {
						t.Fatal(err)
					}
					pages++
					if pages > 100 {
						t.Fatal("listing does not end")
					}
					ids := pageIDs(t, p)
					if len(ids) > budget {
						t.Fatalf("page %v holds more entries than the budget %d scans", ids, budget)
					}
					got = append(got, ids...)
					if p.Next == "" {
						break
					}
					if p.Next <= f.After {
						t.Fatalf("cursor %q does not move past %q", p.Next, f.After)
					}
					f.After = p.Next
				}
				if !slices.Equal(got, tc.want) {
					t.Fatalf("listed %v, want %v", got, tc.want)
				}
			})
		}
	}
	// One page scans at most Budget entries: with 1, a filter matching
	// nothing among many entries still answers with a cursor.
	p, err := ledger.List(v, "grant", ledger.ListFilter{Agency: agCulture, Status: "pending", Budget: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) != 0 || p.Next != "c-01" {
		t.Fatalf("budget 1: %d items, next %q; want none and c-01", len(p.Items), p.Next)
	}
}
