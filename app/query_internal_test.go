package app

import (
	"strings"
	"testing"
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
