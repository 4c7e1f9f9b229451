package app

import (
	"strings"
	"testing"

	"github.com/civicledger/civicledger/ledger"
)

// TestQueryRoutes: route names are unique, each route's pattern is matched
// by that route, and no two patterns overlap (so the table's order does not
// matter).
func TestQueryRoutes(t *testing.T) {
	names := map[string]bool{}
	for _, r := range nodeRoutes {
		if names[r.name] {
			t.Errorf("route name %q used twice", r.name)
		}
		names[r.name] = true
	}
	for i, r := range stateRoutes {
		if names[r.name] {
			t.Errorf("route name %q used twice", r.name)
		}
		names[r.name] = true
		parts := make([]string, len(r.pattern))
		for j, seg := range r.pattern {
			parts[j] = strings.ReplaceAll(seg, "*", "x")
		}
		if got := matchRoute(parts); got == nil || got.name != r.name {
			t.Errorf("path %q: matched %v, want route %q", strings.Join(parts, "/"), got, r.name)
		}
		for _, other := range stateRoutes[i+1:] {
			if overlap(r.pattern, other.pattern) {
				t.Errorf("routes %q and %q match the same paths", r.name, other.name)
			}
		}
	}
}

// overlap reports whether some path matches both patterns.
func overlap(p, q []string) bool {
	if len(p) != len(q) {
		return false
	}
	for j := range p {
		if p[j] != "*" && q[j] != "*" && p[j] != q[j] {
			return false
		}
	}
	return true
}

// TestQueryPathsRouted: every path package ledger builds reaches the route
// meant for it, and the metrics count it under its first segment as before.
func TestQueryPathsRouted(t *testing.T) {
	for _, c := range []struct{ path, route, label string }{
		{ledger.QueryStoreKey(ledger.StoreGrants), "store-key", "store"},
		{ledger.QueryRecord(ledger.KindGrant, "G-1"), "grant", "grant"},
		{ledger.QueryRecord(ledger.KindLicence, "L-1"), "licence", "licence"},
		{ledger.QueryRecord(ledger.KindPayment, "P-1"), "payment", "payment"},
		{ledger.QueryRecord(ledger.KindAgency, "a-1"), "agency", "agency"},
		{ledger.QueryRecords(ledger.KindGrant), "grants", "grants"},
		{ledger.QueryRecords(ledger.KindLicence), "licences", "licences"},
		{ledger.QueryRecords(ledger.KindPayment), "payments", "payments"},
		{ledger.QueryGrantPayments("G-1"), "grant-payments", "grant"},
		{ledger.QueryTotals("a-1", "EUR"), "totals", "totals"},
		{ledger.QueryAgencies, "agencies", "agencies"},
		{ledger.QueryProposalID(1), "proposal", "other"},
		{ledger.QueryProposals, "proposals", "other"},
		{ledger.QueryListing(ledger.ListingGrants), "list", "other"},
		{ledger.QueryParams, "params", "params"},
	} {
		if r := matchRoute(pathSegments(c.path)); r == nil || r.name != c.route {
			t.Errorf("%s: routed to %v, want %q", c.path, r, c.route)
		}
		if got := queryPathLabel(strings.SplitN(strings.TrimPrefix(c.path, "/"), "/", 2)); got != c.label {
			t.Errorf("%s: metrics label %q, want %q", c.path, got, c.label)
		}
	}
	if nodeRoutes[0].path != ledger.QuerySnapshots {
		t.Errorf("snapshots route at %q", nodeRoutes[0].path)
	}
	for _, k := range ledger.ListedKinds {
		if got := listedKind(ledger.QueryRecords(k)); got != k {
			t.Errorf("listedKind(%s) = %q", ledger.QueryRecords(k), got)
		}
	}
}
