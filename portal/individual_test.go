package portal_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/portal"
)

// TestCSVRecordIndividual: a natural person's row holds its label,
// "individual" and its commitment, as the open-data CSV files do.
func TestCSVRecordIndividual(t *testing.T) {
	c := strings.Repeat("3c", 32)
	g := ledger.Grant{ID: "G-IND", Agency: "agency-1", Currency: "EUR", Status: ledger.GrantAwarded,
		Recipient: ledger.Party{Individual: &ledger.Individual{Commitment: c, Label: "Individual recipient"}}}
	raw, err := json.Marshal(&g)
	if err != nil {
		t.Fatal(err)
	}
	row, err := portal.CSVRecord("grant", raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Individual recipient", "individual", c} {
		if !slices.Contains(row, want) {
			t.Errorf("row %q lacks %q", row, want)
		}
	}
}
