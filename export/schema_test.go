package export

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/civicledger/civicledger/export/schematest"
	"github.com/civicledger/civicledger/ledger"
)

func TestSchemas(t *testing.T) {
	dir, _, _ := writeFixture(t, selection{})
	at := func(f string) string { return filepath.Join(dir, f) }
	t.Run("ocds", func(t *testing.T) { schematest.OCDS(t, at(OCDSReleasesFile), at(OCDSRecordsFile)) })
	t.Run("360giving", func(t *testing.T) { schematest.Giving(t, at(GivingFile)) })
	t.Run("iati", func(t *testing.T) { schematest.IATI(t, at(IATIFile)) })
	t.Run("xmllint", func(t *testing.T) { schematest.XMLLint(t, at(IATIFile)) })
}

// TestSchemasCatchErrors makes sure the validators do fail: a document
// that breaks each schema is refused.
func TestSchemasCatchErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct{ url, doc string }{
		{schematest.OCDSReleasePackageURL, `{"uri":"urn:x","publishedDate":"2026-01-01T00:00:00Z","publisher":{"name":"x"},"releases":[{"ocid":"o","id":"1","date":"2026-01-01","tag":["award"],"initiationType":"tender"}]}`},
		{schematest.OCDSReleasePackageURL, `{"uri":"urn:x","publishedDate":"2026-01-01T00:00:00Z","publisher":{"name":"x"},"releases":[{"ocid":"o","id":"1","date":"2026-01-01T00:00:00Z","tag":["nonsense"],"initiationType":"tender"}]}`},
		{schematest.GivingPackageURL, `{"grants":[{"id":"1","title":"t","description":"d","currency":"EUR","amountAwarded":1,"awardDate":"2026-13-01","recipientOrganization":[{"id":"a","name":"b"}],"fundingOrganization":[{"id":"a","name":"b"}]}]}`},
	} {
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(tc.doc))
		if err != nil {
			t.Fatal(err)
		}
		if err := schematest.JSONSchema(t, tc.url).Validate(doc); err == nil {
			t.Errorf("%s accepted %s", tc.url, tc.doc)
		}
	}
	bad := write("bad.xml", `<?xml version="1.0"?><iati-activities version="2.03"><iati-activity><iati-identifier>x</iati-identifier></iati-activity></iati-activities>`)
	bz, _ := os.ReadFile(bad)
	if err := schematest.IATISchema(t).Validate(bytes.NewReader(bz)); err == nil {
		t.Errorf("the IATI XSD accepted an activity with no reporting-org")
	}
}

// TestCSVRoundTrip reads the CSV files back: a header and one row per
// record, every field as the record has it.
func TestCSVRoundTrip(t *testing.T) {
	dir, counts, _ := writeFixture(t, selection{})
	read := func(name string) [][]string {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rows, err := csv.NewReader(f).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return rows
	}
	for _, tc := range []struct {
		file   string
		header []string
		n      int64
	}{
		{CSVAgenciesFile, csvAgencyHeader, counts.Agencies}, {CSVGrantsFile, csvGrantHeader, counts.Grants},
		{CSVLicencesFile, csvLicenceHeader, counts.Licences}, {CSVPaymentsFile, csvPaymentHeader, counts.Payments},
	} {
		rows := read(tc.file)
		if strings.Join(rows[0], ",") != strings.Join(tc.header, ",") || int64(len(rows)-1) != tc.n {
			t.Fatalf("%s: header %v and %d rows, want %v and %d", tc.file, rows[0], len(rows)-1, tc.header, tc.n)
		}
	}
	src := fixture()
	var g ledger.Grant
	if err := json.Unmarshal(src.listings[ledger.ListingGrants+"/agency-1"][0].Record, &g); err != nil {
		t.Fatal(err)
	}
	row := read(CSVGrantsFile)[1]
	if strings.Join(row, "|") != strings.Join(grantRow(&g), "|") || row[2] != g.Recipient.Name || row[7] != "125000.50" {
		t.Fatalf("grant row %q", row)
	}
}

// TestNoEmptyPackages: the OCDS, 360Giving and IATI packages need one item
// each, so a selection with none writes no such file; what it writes is
// valid.
func TestNoEmptyPackages(t *testing.T) {
	has := func(files []File, path string) bool {
		for _, f := range files {
			if f.Path == path {
				return true
			}
		}
		return false
	}
	// From height 45: two licences, no grant, no payment.
	dir, counts, files := writeFixture(t, selection{fromHeight: 45})
	if counts.Grants != 0 || counts.Licences != 2 || has(files, GivingFile) || has(files, IATIFile) || !has(files, OCDSReleasesFile) {
		t.Fatalf("counts %+v, files %v", counts, files)
	}
	schematest.OCDS(t, filepath.Join(dir, OCDSReleasesFile), filepath.Join(dir, OCDSRecordsFile))
	// Nothing at all: the CSV files, with their header rows only.
	_, _, files = writeFixture(t, selection{agency: "nobody"})
	if len(files) != 4 || !has(files, CSVGrantsFile) {
		t.Fatalf("files %v", files)
	}
}
