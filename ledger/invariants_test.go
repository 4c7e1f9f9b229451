package ledger_test

import (
	"encoding/json"
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
