package export

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/civicledger/civicledger/export/schematest"
	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/verify"
)

// TestIndividualsByLabel: a natural person (a commitment and a label on
// chain) shows in every export by its label and a commitment-based
// identifier, never by a name; 360Giving gets recipientIndividual instead of
// recipientOrganization, and every file still validates.
func TestIndividualsByLabel(t *testing.T) {
	const commitment = "5f2b1c0d9e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c"
	person := ledger.Party{Individual: &ledger.Individual{Commitment: commitment, Label: "Individual recipient", Region: "North West"}}
	s := &fakeSource{size: 2, listings: map[string][]verify.ListedRecord{}}
	ag := ledger.Agency{ID: "agency-1", Name: "Ministry of Culture", Jurisdiction: "Example", Power: 10}
	s.add(ledger.ListingAgencies, "", ag.ID, &ag)
	hash := strings.Repeat("ab", 32)
	g := ledger.Grant{ID: "G-IND", Agency: ag.ID, Recipient: person, Programme: "Hardship", Purpose: "Support", Awarded: 50_000, Currency: "EUR",
		PeriodStart: "2026-01-01", PeriodEnd: "2026-12-31", DecisionDate: "2025-12-20", DocumentHash: hash, Status: ledger.GrantAwarded,
		Disbursed: 10_000, Payments: 1, Created: 3, Updated: 4}
	s.add(ledger.ListingGrants, ag.ID, g.ID, &g)
	l := ledger.Licence{ID: "L-IND", Agency: ag.ID, Holder: person, LicenceType: "street trading", Scope: "Market Square",
		ValidFrom: "2026-01-01", ValidUntil: "2026-12-31", DecisionDate: "2025-12-20", ConditionsHash: hash, Status: ledger.LicenceIssued, Created: 3, Updated: 3}
	s.add(ledger.ListingLicences, ag.ID, l.ID, &l)
	p := ledger.Payment{ID: "P-IND", Agency: ag.ID, Payee: person, Amount: 10_000, Currency: "EUR", Date: "2026-02-01", Purpose: "First instalment",
		Grant: g.ID, Status: ledger.PaymentRecorded, Created: 4, Updated: 4}
	s.add(ledger.ListingPayments, ag.ID, p.ID, &p)
	s.add(ledger.ListingGrantPayments, g.ID, p.ID, &p)

	dir := t.TempDir()
	fs := &fileSet{dir: dir}
	m := testMeta
	sinks, err := newSinks(&m, Formats, fs.open)
	if err != nil {
		t.Fatal(err)
	}
	w := &walker{src: s, sinks: sinks}
	if err := w.run(); err != nil {
		t.Fatal(err)
	}
	files, err := fs.close()
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f.Path))
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
	}
	text := all.String()
	for _, want := range []string{"Individual recipient", "XX-CIVICLEDGER-IND-" + commitment, `"recipientIndividual"`} {
		if !strings.Contains(text, want) {
			t.Errorf("the exports lack %q", want)
		}
	}
	giving, _ := os.ReadFile(filepath.Join(dir, GivingFile))
	if strings.Contains(string(giving), "recipientOrganization") {
		t.Error("360Giving names an individual as an organisation")
	}
	at := func(f string) string { return filepath.Join(dir, f) }
	t.Run("ocds", func(t *testing.T) { schematest.OCDS(t, at(OCDSReleasesFile), at(OCDSRecordsFile)) })
	t.Run("360giving", func(t *testing.T) { schematest.Giving(t, at(GivingFile)) })
	t.Run("iati", func(t *testing.T) { schematest.IATI(t, at(IATIFile)) })
}
