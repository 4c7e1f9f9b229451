package verify_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	ics23 "github.com/cosmos/ics23/go"

	"github.com/civicledger/civicledger/app"
	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/store"
	"github.com/civicledger/civicledger/ledger/verify"
)

// listState is a committed state holding agencies agency-a, agency-b and
// agency-c, grants of agency-a (n of them) and agency-b (2), none of
// agency-c, and payments against grant a-001; skip leaves ids out of it.
func listState(t testing.TB, n int, skip ...string) (*store.View, []byte) {
	t.Helper()
	m, err := store.OpenMem(ledger.StoreNames, store.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	set := func(st string, k, v string) {
		if err := m.Set(st, []byte(k), []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	for _, st := range ledger.StoreNames {
		set(st, string(ledger.SeedKey), "seed")
	}
	grant := func(ag, id string, status ledger.GrantStatus) {
		if slices.Contains(skip, id) {
			return
		}
		set(ledger.StoreGrants, id, fmt.Sprintf(`{"id":%q,"agency":%q,"status":%q}`, id, ag, status))
		set(ledger.StoreIndex, string(ledger.IndexGrantByAgency(ag, id)), string(status))
	}
	for _, ag := range []string{"agency-a", "agency-b", "agency-c"} {
		if !slices.Contains(skip, ag) {
			set(ledger.StoreAgencies, ag, fmt.Sprintf(`{"id":%q,"name":"Agency"}`, ag))
		}
	}
	for i := range n {
		status := ledger.GrantAwarded
		if i%3 == 1 {
			status = ledger.GrantClosed
		}
		grant("agency-a", fmt.Sprintf("a-%03d", i), status)
	}
	grant("agency-b", "b-1", ledger.GrantAwarded)
	grant("agency-b", "b-2", ledger.GrantAwarded)
	for i := range 4 {
		id := fmt.Sprintf("p-%d", i)
		if slices.Contains(skip, id) {
			continue
		}
		set(ledger.StorePayments, id, fmt.Sprintf(`{"id":%q,"agency":"agency-a","grant":"a-001","status":"recorded"}`, id))
		set(ledger.StoreIndex, string(ledger.IndexPaymentByGrant("a-001", id)), "recorded")
		set(ledger.StoreIndex, string(ledger.IndexPaymentByAgency("agency-a", id)), "recorded")
	}
	appHash, v, err := m.Commit()
	if err != nil {
		t.Fatal(err)
	}
	view, err := m.At(v)
	if err != nil {
		t.Fatal(err)
	}
	return view, appHash
}

func servePage(t testing.TB, view *store.View, listing, owner, after string, limit int) *ledger.ProvedPage {
	t.Helper()
	p, err := app.ListingPage(view, listing, owner, after, limit)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// walkListing verifies every page of a listing and returns the ids.
func walkListing(t *testing.T, view *store.View, appHash []byte, listing, owner string, limit int) []string {
	t.Helper()
	ids := []string{}
	after := ""
	for range 1000 {
		l, err := verify.VerifyListing(appHash, listing, owner, after, servePage(t, view, listing, owner, after, limit))
		if err != nil {
			t.Fatalf("%s %s after %q: %v", listing, owner, after, err)
		}
		for _, e := range l.Entries {
			ids = append(ids, e.ID)
		}
		if l.Complete {
			if l.Next != "" {
				t.Fatalf("complete page with next %q", l.Next)
			}
			return ids
		}
		if l.Next == "" || l.Next == after {
			t.Fatalf("incomplete page without a new cursor (after %q, next %q)", after, l.Next)
		}
		after = l.Next
	}
	t.Fatal("listing does not end")
	return nil
}

func seq(prefix string, n int) []string {
	out := []string{}
	for i := range n {
		out = append(out, fmt.Sprintf(prefix, i))
	}
	return out
}

// TestVerifyListingComplete: complete pages verify, paging visits every id
// once, and empty ranges verify as empty.
func TestVerifyListingComplete(t *testing.T) {
	view, appHash := listState(t, 23)
	for _, tc := range []struct {
		listing, owner string
		want           []string
	}{
		{ledger.ListingGrants, "agency-a", seq("a-%03d", 23)},
		{ledger.ListingGrants, "agency-b", []string{"b-1", "b-2"}},
		{ledger.ListingGrants, "agency-c", []string{}},
		{ledger.ListingGrants, "nobody", []string{}},
		{ledger.ListingGrantPayments, "a-001", seq("p-%d", 4)},
		{ledger.ListingGrantPayments, "a-002", []string{}},
		{ledger.ListingPayments, "agency-a", seq("p-%d", 4)},
		{ledger.ListingLicences, "agency-a", []string{}},
		{ledger.ListingAgencies, "", []string{"agency-a", "agency-b", "agency-c"}},
	} {
		for _, limit := range []int{1, 2, 5, 23, 100} {
			got := walkListing(t, view, appHash, tc.listing, tc.owner, limit)
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s %s, pages of %d: %v, want %v", tc.listing, tc.owner, limit, got, tc.want)
			}
		}
	}
	// One page holds the records, as proved, with the index status.
	l, err := verify.VerifyListing(appHash, ledger.ListingGrants, "agency-a", "", servePage(t, view, ledger.ListingGrants, "agency-a", "", 500))
	if err != nil || !l.Complete || len(l.Entries) != 23 {
		t.Fatalf("one page: %+v %v", l, err)
	}
	if e := l.Entries[1]; e.ID != "a-001" || e.Index != string(ledger.GrantClosed) || string(e.Record) != `{"id":"a-001","agency":"agency-a","status":"closed"}` {
		t.Fatalf("entry %+v", e)
	}
	// An empty range is proved by one non-existence proof.
	empty := servePage(t, view, ledger.ListingGrants, "agency-c", "", 100)
	var p ics23.CommitmentProof
	if err := p.Unmarshal(empty.Range); err != nil {
		t.Fatal(err)
	}
	if b := ics23.Decompress(&p).GetBatch(); b == nil || len(b.Entries) != 1 || b.Entries[0].GetNonexist() == nil || empty.Records != nil {
		t.Fatalf("empty page proof: %v", ics23.Decompress(&p))
	}
}

// rangeEntries decodes a page's range proof.
func rangeEntries(t *testing.T, page *ledger.ProvedPage) []*ics23.BatchEntry {
	t.Helper()
	var p ics23.CommitmentProof
	if err := p.Unmarshal(page.Range); err != nil {
		t.Fatal(err)
	}
	return ics23.Decompress(&p).GetBatch().Entries
}

func setRange(t *testing.T, page *ledger.ProvedPage, entries []*ics23.BatchEntry) {
	t.Helper()
	bz, err := ics23.Compress(&ics23.CommitmentProof{Proof: &ics23.CommitmentProof_Batch{Batch: &ics23.BatchProof{Entries: entries}}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	page.Range = bz
}

func recordEntries(t *testing.T, page *ledger.ProvedPage) []*ics23.BatchEntry {
	t.Helper()
	var p ics23.CommitmentProof
	if err := p.Unmarshal(page.Records); err != nil {
		t.Fatal(err)
	}
	return ics23.Decompress(&p).GetBatch().Entries
}

func setRecords(t *testing.T, page *ledger.ProvedPage, entries []*ics23.BatchEntry) {
	t.Helper()
	bz, err := ics23.Compress(&ics23.CommitmentProof{Proof: &ics23.CommitmentProof_Batch{Batch: &ics23.BatchProof{Entries: entries}}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	page.Records = bz
}

// TestVerifyListingTampered: a node that leaves out, adds, reorders or
// changes entries, cuts a page short, or serves another state is caught.
func TestVerifyListingTampered(t *testing.T) {
	view, appHash := listState(t, 10)
	const ag = "agency-a"
	fresh := func() *ledger.ProvedPage { return servePage(t, view, ledger.ListingGrants, ag, "", 100) }
	hidden, _ := listState(t, 10, "a-004")
	hiddenAgency, _ := listState(t, 10, "agency-b")
	cases := []struct {
		name           string
		listing, owner string
		page           func() *ledger.ProvedPage
	}{
		{"an entry's proof dropped", ledger.ListingGrants, ag, func() *ledger.ProvedPage {
			p := fresh()
			e := rangeEntries(t, p)
			setRange(t, p, append(e[:5:5], e[6:]...))
			r := recordEntries(t, p)
			setRecords(t, p, append(r[:4:4], r[5:]...))
			return p
		}},
		{"the page cut short, claiming the end", ledger.ListingGrants, ag, func() *ledger.ProvedPage {
			p := fresh()
			setRange(t, p, rangeEntries(t, p)[:8])
			setRecords(t, p, recordEntries(t, p)[:7])
			return p
		}},
		{"the page cut to nothing", ledger.ListingGrants, ag, func() *ledger.ProvedPage {
			p := fresh()
			setRange(t, p, rangeEntries(t, p)[:1])
			p.Records, p.RecordsStore = nil, nil
			return p
		}},
		{"an entry of another range added", ledger.ListingGrants, "agency-b", func() *ledger.ProvedPage {
			p := servePage(t, view, ledger.ListingGrants, "agency-b", "", 100)
			e := rangeEntries(t, p)
			a := rangeEntries(t, fresh())
			setRange(t, p, append(e, a[len(a)-1]))
			return p
		}},
		{"an entry served from a state without it", ledger.ListingGrants, ag, func() *ledger.ProvedPage {
			return servePage(t, hidden, ledger.ListingGrants, ag, "", 100)
		}},
		{"an agency served from a state without it", ledger.ListingAgencies, "", func() *ledger.ProvedPage {
			return servePage(t, hiddenAgency, ledger.ListingAgencies, "", "", 100)
		}},
		{"a record changed", ledger.ListingGrants, ag, func() *ledger.ProvedPage {
			p := fresh()
			r := recordEntries(t, p)
			r[3].GetExist().Value = []byte(`{"id":"a-003","agency":"agency-a","status":"revoked"}`)
			setRecords(t, p, r)
			return p
		}},
		{"records swapped", ledger.ListingGrants, ag, func() *ledger.ProvedPage {
			p := fresh()
			r := recordEntries(t, p)
			r[2], r[3] = r[3], r[2]
			setRecords(t, p, r)
			return p
		}},
		{"records of another store", ledger.ListingGrants, ag, func() *ledger.ProvedPage {
			p := fresh()
			p.RecordsStore = servePage(t, view, ledger.ListingGrantPayments, "a-001", "", 100).RecordsStore
			return p
		}},
		{"no proof", ledger.ListingGrants, ag, func() *ledger.ProvedPage {
			p := fresh()
			p.Range = nil
			return p
		}},
		{"garbage proof", ledger.ListingGrants, ag, func() *ledger.ProvedPage {
			p := fresh()
			p.Range = []byte{0x0a, 0xff, 0x01}
			return p
		}},
		{"another page", ledger.ListingGrants, ag, func() *ledger.ProvedPage {
			return servePage(t, view, ledger.ListingGrants, ag, "a-003", 100)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, err := verify.VerifyListing(appHash, tc.listing, tc.owner, "", tc.page())
			if !errors.Is(err, verify.ErrProof) {
				t.Fatalf("tampered page accepted (%v): %+v", err, l)
			}
		})
	}
	// A genuine page against another AppHash fails too.
	if _, err := verify.VerifyListing(make([]byte, 32), ledger.ListingGrants, ag, "", fresh()); !errors.Is(err, verify.ErrProof) {
		t.Fatalf("page verified against a wrong AppHash: %v", err)
	}
}
