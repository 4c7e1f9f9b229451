package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/civicledger/civicledger/ledger"
)

// listOut is the JSON of a listing.
type listOut struct {
	Height int64             `json:"height"`
	Items  []json.RawMessage `json:"items"`
	Next   *string           `json:"next"`
}

func (l listOut) ids(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, it := range l.Items {
		var r struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(it, &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r.ID)
	}
	return out
}

// TestQuery exercises listings, pagination, history and lookups, mostly of
// agency-2's records.
func TestQuery(t *testing.T) {
	net := testNet(t, "civic-cli-test")
	ok := func(args ...string) string { t.Helper(); return mustCLI(t, net, 1, args...) }
	as := func(args ...string) []string { return append(agencyArgs(net, 1), args...) }
	list := func(args ...string) listOut {
		t.Helper()
		return decodeJSON[listOut](t, ok(append([]string{"-o", "json", "query"}, args...)...))
	}

	// A grant of agency-1, signed with its key but sent through agency-2's node.
	a1 := net.Testnet.Agencies[0]
	if out, errOut, code := run(t, append([]string{"--home", a1.Home, "--keyring-backend", "test", "--node", net.Testnet.Agencies[1].RPC},
		awardArgs("G-Q-A1", "5 EUR")...)...); code != 0 {
		t.Fatalf("award through the other node: exit %d\n%s\n%s", code, out, errOut)
	}
	// Agency-2's records. Transactions sent without waiting are committed no
	// later than the next waited one through the same node.
	ok(awardArgs("G-Q-1", "1000.00 EUR", "--no-wait")...)
	ok(awardArgs("G-Q-2", "2000.00 EUR", "--no-wait")...)
	ok(awardArgs("G-Q-3", "3000.00 EUR")...)
	ok("tx", "grant", "close", "--from", "grants", "--id", "G-Q-2", "--reason", "Project cancelled", "--document-hash", testDocHash, "--no-wait")
	ok(paymentArgs("P-Q-1", "100 EUR", "--grant", "G-Q-1", "--no-wait")...)
	ok(paymentArgs("P-Q-2", "200 EUR", "--grant", "G-Q-1")...)

	t.Run("wrong ports", func(t *testing.T) {
		// The node's other ports answer, but not as its RPC: one sentence
		// says so, without the transport's noise, with exit 3 (unreachable).
		// (In-process networks serve no metrics: a Prometheus-like page.)
		metrics := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
			fmt.Fprintln(w, "cometbft_consensus_height 12")
		})).URL
		_, errOut := wantCode(t, 3, []string{"node " + metrics, "with text/plain", "not the node's RPC port"}, "--node", metrics, "query", "grant", "G-Q-1")
		if strings.Contains(errOut, "post failed") || strings.Contains(errOut, "%!") {
			t.Errorf("raw transport error: %s", errOut)
		}
		_, errOut = wantCode(t, 3, []string{"node http://" + a1.P2P, "does not answer HTTP", "P2P port?"}, "--node", "http://"+a1.P2P, "query", "grant", "G-Q-1")
		if strings.Contains(errOut, "post failed") || strings.Contains(errOut, "%!") {
			t.Errorf("raw transport error: %s", errOut)
		}
		wantCode(t, 2, []string{`unknown scheme "htp"`}, "--node", "htp://"+strings.TrimPrefix(a1.RPC, "http://"), "query", "grant", "G-Q-1")
		out, _ := wantCode(t, 2, []string{"could not verify", "not the node's RPC port"}, "--home", t.TempDir(), "-o", "json", "--node", metrics, "verify", "grant", "G-Q-1")
		if v := decodeJSON[verifyOut](t, out); !strings.Contains(v.Error, "not the node's RPC port") || strings.Contains(v.Error, "post failed") {
			t.Errorf("verify -o json error: %q", v.Error)
		}
	})

	t.Run("grants by agency and status", func(t *testing.T) {
		all := list("grants", "--agency", "agency-2")
		if got := all.ids(t); !slices.Equal(got, []string{"G-Q-1", "G-Q-2", "G-Q-3"}) || all.Next != nil || all.Height <= 0 {
			t.Errorf("agency-2 grants %q next %v height %d", got, all.Next, all.Height)
		}
		if got := list("grants", "--agency", "agency-1").ids(t); !slices.Contains(got, "G-Q-A1") || slices.Contains(got, "G-Q-1") {
			t.Errorf("agency-1 grants %q", got)
		}
		if got := list("grants", "--agency", "agency-2", "--status", "closed").ids(t); !slices.Equal(got, []string{"G-Q-2"}) {
			t.Errorf("closed grants %q", got)
		}
		if got := list("grants", "--agency", "agency-2", "--status", "awarded").ids(t); !slices.Equal(got, []string{"G-Q-1", "G-Q-3"}) {
			t.Errorf("awarded grants %q", got)
		}
		text := ok("query", "grants", "--agency", "agency-2")
		contains(t, "grants table", text, "ID", "STATUS", "AWARDED", "DISBURSED", "G-Q-1", "1000.00 EUR", "300.00 EUR",
			"closed", "Acme Ltd (GB-COH 0001)")
		if strings.Contains(text, "next page") {
			t.Errorf("last page has a next-page hint:\n%s", text)
		}
		// Every grant, of both agencies.
		if got := list("grants").ids(t); !slices.Contains(got, "G-Q-A1") || !slices.Contains(got, "G-Q-3") {
			t.Errorf("all grants %q", got)
		}
	})

	t.Run("pagination", func(t *testing.T) {
		text := ok("query", "grants", "--agency", "agency-2", "--limit", "1")
		lines := strings.Split(strings.TrimSpace(text), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[1], "G-Q-1 ") || lines[2] != "next page: --after G-Q-1" {
			t.Errorf("first page:\n%s", text)
		}
		var got []string
		after := ""
		for range 10 {
			args := []string{"grants", "--agency", "agency-2", "--limit", "1"}
			if after != "" {
				args = append(args, "--after", after)
			}
			page := list(args...)
			got = append(got, page.ids(t)...)
			if page.Next == nil {
				break
			}
			after = *page.Next
		}
		if !slices.Equal(got, []string{"G-Q-1", "G-Q-2", "G-Q-3"}) {
			t.Errorf("paged through %q", got)
		}
		p := list("payments", "--agency", "agency-2", "--status", "recorded", "--limit", "1")
		if got := p.ids(t); !slices.Equal(got, []string{"P-Q-1"}) || p.Next == nil || *p.Next != "P-Q-1" {
			t.Errorf("first payment page %q next %v", got, p.Next)
		}
	})

	t.Run("payments of a grant", func(t *testing.T) {
		if got := list("payments", "--grant", "G-Q-1").ids(t); !slices.Equal(got, []string{"P-Q-1", "P-Q-2"}) {
			t.Errorf("payments of G-Q-1 %q", got)
		}
		contains(t, "payments table", ok("query", "payments", "--grant", "G-Q-1"), "AMOUNT", "100.00 EUR", "200.00 EUR", "G-Q-1", "recorded")
		contains(t, "no payments", ok("query", "payments", "--grant", "G-Q-2"), "no payments found")
		if got := list("payments", "--grant", "G-Q-2"); len(got.Items) != 0 || got.Items == nil {
			t.Errorf("payments of G-Q-2: %+v", got)
		}
		wantCode(t, 1, []string{`grant "G-NOPE" not found`}, as("query", "payments", "--grant", "G-NOPE")...)
		contains(t, "no licences", ok("query", "licences", "--agency", "agency-2"), "no licences found")
	})

	t.Run("history", func(t *testing.T) {
		text := ok("query", "history", "grant", "G-Q-1")
		table, changes, _ := strings.Cut(text, "\n\nchanges:\n")
		lines := strings.Split(strings.TrimSpace(table), "\n")
		if len(lines) != 4 || !strings.Contains(lines[1], "grant/award") || !strings.Contains(lines[2], "payment/record") ||
			!strings.Contains(lines[3], "disburse") {
			t.Errorf("history of G-Q-1:\n%s", text)
		}
		// What changed, old → new in the currency's units, and who signed.
		// (The two payments may share a block: then the second line says so.)
		contains(t, "history changes", changes, "grant/award: by agency-2 grants officer; record created",
			"payment/record: by agency-2 finance officer; disbursed: 0.00 EUR → ")
		if strings.Contains(changes, "updated_height") {
			t.Errorf("bookkeeping fields in the changes:\n%s", changes)
		}
		contains(t, "grant with history", ok("query", "grant", "G-Q-1", "--history"),
			"disbursed:", "300.00 EUR (30000 minor units)", "history:", "grant/award", "payment/record")
		contains(t, "closed grant history", ok("query", "history", "grant", "G-Q-2"), "grant/close", "closed")
		// An agency created at genesis, with no officer changes, has an empty history.
		contains(t, "agency history", ok("query", "agency", "agency-2", "--history"), "id:", "agency-2", "no transactions found")
	})

	t.Run("not found", func(t *testing.T) {
		for _, kind := range []string{"grant", "licence", "payment", "agency"} {
			out, _ := wantCode(t, 1, []string{kind + ` "NOPE" not found`}, as("-o", "json", "query", kind, "NOPE")...)
			// The JSON error, never a record-shaped document.
			if e := decodeJSON[errorJSON](t, out); e.ExitCode != 1 || !strings.Contains(e.Error, kind+` "NOPE" not found`) || strings.Contains(out, `"id"`) {
				t.Errorf("query %s NOPE printed %q", kind, out)
			}
		}
		// An unknown agency is one error, the same as in 'ledger audit'.
		for _, args := range [][]string{{"query", "grants", "--agency", "agency-9"}, {"query", "payments", "--agency", "agency-9"},
			{"query", "licences", "--agency", "agency-9"}, {"query", "totals", "agency-9", "EUR"}, {"audit", "--agency", "agency-9", "--no-proofs"}} {
			wantCode(t, 2, []string{`unknown agency "agency-9" at height`, "ledger query agencies"}, as(args...)...)
		}
		wantCode(t, 1, []string{"no totals for agency-2 in JPY"}, as("query", "totals", "agency-2", "JPY")...)
		contains(t, "a known agency without licences", ok("query", "licences", "--agency", "agency-1"), "no licences found")
		wantCode(t, 1, []string{"not found"}, as("query", "history", "grant", "NOPE")...)
		wantCode(t, 1, []string{"not found"}, as("query", "grant", "NOPE", "--history")...)
	})

	t.Run("agencies and totals", func(t *testing.T) {
		contains(t, "agencies", ok("query", "agencies"), "ID", "NAME", "agency-1", "agency-2", "Agency 2", "Testland")
		if got := list("agencies").ids(t); !slices.Equal(got, []string{"agency-1", "agency-2"}) {
			t.Errorf("agencies %q", got)
		}
		tot := decodeJSON[struct {
			Height int64         `json:"height"`
			Totals ledger.Totals `json:"totals"`
		}](t, ok("-o", "json", "query", "totals", "agency-2", "EUR"))
		if tot.Totals.Agency != "agency-2" || tot.Totals.Grants != 3 || tot.Totals.Payments != 2 ||
			tot.Totals.Paid != 30000 || tot.Totals.PaidAgainstGrant != 30000 || tot.Totals.Reversals != 0 {
			t.Errorf("totals %+v", tot.Totals)
		}
		contains(t, "totals text", ok("query", "totals", "agency-2", "EUR"), "paid:", "300.00 EUR (30000 minor units)", "grants:", "3")
	})
}
