package app_test

import (
	"encoding/json"
	"strings"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/verify"
)

// TestListQuery: "/list/<listing>" answers a page that verifies against the
// AppHash of the state it names, and refuses bad requests with code 2 and a
// log naming the field.
func TestListQuery(t *testing.T) {
	ctx := t.Context()
	f := newFixture()
	a := openApp(t, "")
	t.Cleanup(a.Close)
	f.initChain(t, a)
	finalize(t, a, 1,
		f.tx(t, "agency-1", 1, 100, award("G-1", "1000"), "grants"),
		f.tx(t, "agency-1", 2, 100, award("G-2", "1000"), "grants"),
		f.tx(t, "agency-2", 3, 100, award("H-1", "1000"), "grants"))
	appHash := a.Store().WorkingHash() // committed at 1, nothing written since
	for _, tc := range []struct {
		path, data string
		want       []string
	}{
		{"/list/grants", `{"owner":"agency-1"}`, []string{"G-1", "G-2"}},
		{"/list/grants", `{"owner":"agency-2","limit":500}`, []string{"H-1"}},
		{"/list/licences", `{"owner":"agency-1"}`, []string{}},
		{"/list/agencies", ``, []string{"agency-1", "agency-2"}},
	} {
		res, err := a.Query(ctx, &abci.RequestQuery{Path: tc.path, Data: []byte(tc.data)})
		if err != nil || res.Code != 0 {
			t.Fatalf("%s %s: %v %+v", tc.path, tc.data, err, res)
		}
		var page ledger.ProvedPage
		if err := json.Unmarshal(res.Value, &page); err != nil {
			t.Fatal(err)
		}
		l, err := verify.VerifyListing(appHash, page.Listing, page.Owner, "", &page)
		if err != nil || !l.Complete || l.Height != 1 {
			t.Fatalf("%s %s: %+v %v", tc.path, tc.data, l, err)
		}
		ids := []string{}
		for _, e := range l.Entries {
			ids = append(ids, e.ID)
		}
		if strings.Join(ids, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s %s: %v, want %v", tc.path, tc.data, ids, tc.want)
		}
	}
	for _, tc := range []struct{ path, data, field string }{
		{"/list/records", `{}`, "listing"},
		{"/list/grants", `{"owner":"no/such"}`, "owner"},
		{"/list/grants", `{}`, "owner"},
		{"/list/agencies", `{"owner":"agency-1"}`, "owner"},
		{"/list/grants", `{"owner":"agency-1","after":"a b"}`, "after"},
		{"/list/grants", `{"owner":`, "listing request"},
	} {
		res, err := a.Query(ctx, &abci.RequestQuery{Path: tc.path, Data: []byte(tc.data)})
		if err != nil || res.Code != 2 || !strings.Contains(res.Log, tc.field) {
			t.Errorf("%s %s: %v code %d log %q, want code 2 naming %s", tc.path, tc.data, err, res.Code, res.Log, tc.field)
		}
	}
}
