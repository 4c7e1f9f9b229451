package client

import (
	"testing"

	"github.com/civicledger/civicledger/ledger"
)

// TestDiscrepancyKindPerRule: every rule ledger.Reconcile checks, and only
// those, has its own discrepancy kind, so that each discrepancy names one
// rule.
func TestDiscrepancyKindPerRule(t *testing.T) {
	byKind := map[string]string{}
	reconciled := 0
	for _, inv := range ledger.Invariants {
		kind, ok := discKinds[inv.ID]
		if ok != inv.Reconciled || (ok && kind == "") {
			t.Errorf("rule %s (reconciled %v): discrepancy kind %q", inv.ID, inv.Reconciled, kind)
		}
		if !ok {
			continue
		}
		reconciled++
		if other, dup := byKind[kind]; dup {
			t.Errorf("kind %s names two rules: %s and %s", kind, other, inv.ID)
		}
		byKind[kind] = inv.ID
	}
	if len(discKinds) != reconciled {
		t.Errorf("discKinds names rules ledger.Invariants does not declare: %v", discKinds)
	}
}
