package export

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jacoelho/xsd"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/civicledger/civicledger/ledger"
)

// The official schemas and codelists, vendored with their licences in
// testdata/schemas (see testdata/schemas/README.md).
const schemaDir = "testdata/schemas"

// schemaURLs maps the schemas' absolute URLs (their ids and the $refs
// between them) to the vendored files.
var schemaURLs = map[string]string{
	"https://standard.open-contracting.org/schema/1__1__5/release-package-schema.json":                        "ocds-1.1.5/release-package-schema.json",
	"https://standard.open-contracting.org/schema/1__1__5/record-package-schema.json":                         "ocds-1.1.5/record-package-schema.json",
	"https://standard.open-contracting.org/schema/1__1__5/release-schema.json":                                "ocds-1.1.5/release-schema.json",
	"https://standard.open-contracting.org/schema/1__1__5/versioned-release-validation-schema.json":           "ocds-1.1.5/versioned-release-validation-schema.json",
	"https://raw.githubusercontent.com/ThreeSixtyGiving/standard/1.4.3/schema/360-giving-package-schema.json": "360giving-1.4.3/360-giving-package-schema.json",
	"https://raw.githubusercontent.com/ThreeSixtyGiving/standard/1.4.3/schema/360-giving-schema.json":         "360giving-1.4.3/360-giving-schema.json",
	// The 1.4.3 package schema still refers to the grant schema by its
	// 1.4.2 URL: the same file.
	"https://raw.githubusercontent.com/ThreeSixtyGiving/standard/1.4.2/schema/360-giving-schema.json": "360giving-1.4.3/360-giving-schema.json",
}

// Schema URLs of the exported files.
const (
	ocdsReleasePackageURL = "https://standard.open-contracting.org/schema/1__1__5/release-package-schema.json"
	ocdsRecordPackageURL  = "https://standard.open-contracting.org/schema/1__1__5/record-package-schema.json"
	givingPackageURL      = "https://raw.githubusercontent.com/ThreeSixtyGiving/standard/1.4.3/schema/360-giving-package-schema.json"
)

type localLoader struct{ t testing.TB }

func (l localLoader) Load(url string) (any, error) {
	f, ok := schemaURLs[url]
	if !ok {
		return nil, fmt.Errorf("schema %s is not vendored", url)
	}
	r, err := os.Open(filepath.Join(schemaDir, f))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return jsonschema.UnmarshalJSON(r)
}

// jsonSchema compiles a vendored schema with format assertion on.
func jsonSchema(t testing.TB, url string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	c.UseLoader(localLoader{t})
	s, err := c.Compile(url)
	if err != nil {
		t.Fatalf("compile %s: %v", url, err)
	}
	return s
}

// validateJSON validates a file against a schema.
func validateJSON(t testing.TB, s *jsonschema.Schema, file string) any {
	t.Helper()
	r, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	doc, err := jsonschema.UnmarshalJSON(r)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if err := s.Validate(doc); err != nil {
		t.Fatalf("%s does not validate: %v", file, err)
	}
	return doc
}

// csvCodes reads the Code column of a vendored codelist.
func csvCodes(t testing.TB, file string) map[string]bool {
	t.Helper()
	f, err := os.Open(filepath.Join(schemaDir, file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	col := -1
	for i, h := range rows[0] {
		if h == "Code" {
			col = i
		}
	}
	if col < 0 {
		t.Fatalf("%s has no Code column", file)
	}
	out := map[string]bool{}
	for _, r := range rows[1:] {
		out[r[col]] = true
	}
	return out
}

// iatiCodes reads the codes of a vendored IATI codelist.
func iatiCodes(t testing.TB, name string) map[string]bool {
	t.Helper()
	bz, err := os.ReadFile(filepath.Join(schemaDir, "iati-2.03/codelists", name+".xml"))
	if err != nil {
		t.Fatal(err)
	}
	var cl struct {
		Items []struct {
			Code string `xml:"code"`
		} `xml:"codelist-items>codelist-item"`
	}
	if err := xml.Unmarshal(bz, &cl); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	out := map[string]bool{}
	for _, it := range cl.Items {
		out[it.Code] = true
	}
	if len(out) == 0 {
		t.Fatalf("codelist %s is empty", name)
	}
	return out
}

func checkCode(t testing.TB, list string, codes map[string]bool, v any) {
	t.Helper()
	s, ok := v.(string)
	if !ok || !codes[s] {
		t.Errorf("%v is not a code of %s", v, list)
	}
}

// ValidateOCDS validates the OCDS files of a release directory against
// the OCDS 1.1.5 schemas, and their codes against the OCDS codelists.
func ValidateOCDS(t testing.TB, dir string) {
	t.Helper()
	rel := validateJSON(t, jsonSchema(t, ocdsReleasePackageURL), filepath.Join(dir, OCDSReleasesFile))
	validateJSON(t, jsonSchema(t, ocdsRecordPackageURL), filepath.Join(dir, OCDSRecordsFile))
	cl := "ocds-1.1.5/codelists/"
	tags, roles := csvCodes(t, cl+"releaseTag.csv"), csvCodes(t, cl+"partyRole.csv")
	awards, contracts := csvCodes(t, cl+"awardStatus.csv"), csvCodes(t, cl+"contractStatus.csv")
	docs, curs := csvCodes(t, cl+"documentType.csv"), csvCodes(t, cl+"currency.csv")
	for _, r := range rel.(map[string]any)["releases"].([]any) {
		r := r.(map[string]any)
		for _, tag := range r["tag"].([]any) {
			checkCode(t, "releaseTag", tags, tag)
		}
		for _, p := range r["parties"].([]any) {
			for _, role := range p.(map[string]any)["roles"].([]any) {
				checkCode(t, "partyRole", roles, role)
			}
		}
		for _, a := range r["awards"].([]any) {
			a := a.(map[string]any)
			checkCode(t, "awardStatus", awards, a["status"])
			if v, ok := a["value"].(map[string]any); ok {
				checkCode(t, "currency", curs, v["currency"])
			}
			for _, d := range asList(a["documents"]) {
				checkCode(t, "documentType", docs, d.(map[string]any)["documentType"])
			}
		}
		for _, c := range asList(r["contracts"]) {
			c := c.(map[string]any)
			checkCode(t, "contractStatus", contracts, c["status"])
			for _, d := range asList(c["documents"]) {
				checkCode(t, "documentType", docs, d.(map[string]any)["documentType"])
			}
			if im, ok := c["implementation"].(map[string]any); ok {
				for _, tx := range asList(im["transactions"]) {
					checkCode(t, "currency", curs, tx.(map[string]any)["value"].(map[string]any)["currency"])
				}
			}
		}
	}
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// ValidateGiving validates the 360Giving file of a release directory
// against the 360Giving 1.4.3 package schema and currency codelist.
func ValidateGiving(t testing.TB, dir string) {
	t.Helper()
	doc := validateJSON(t, jsonSchema(t, givingPackageURL), filepath.Join(dir, GivingFile))
	curs := csvCodes(t, "360giving-1.4.3/codelists/currency.csv")
	for _, g := range doc.(map[string]any)["grants"].([]any) {
		g := g.(map[string]any)
		checkCode(t, "currency", curs, g["currency"])
		for _, tx := range asList(g["disbursementTransaction"]) {
			checkCode(t, "currency", curs, tx.(map[string]any)["currency"])
		}
	}
}

// iatiSchema loads the IATI 2.03 activities schema.
func iatiSchema(t testing.TB) *xsd.Schema {
	t.Helper()
	s, err := xsd.LoadWithOptions(os.DirFS(filepath.Join(schemaDir, "iati-2.03")), "iati-activities-schema.xsd", xsd.NewLoadOptions())
	if err != nil {
		t.Fatalf("load the IATI schema: %v", err)
	}
	return s
}

// ValidateIATI validates the IATI file of a release directory against the
// IATI 2.03 XSD, and its codes against the IATI codelists (which the XSD
// does not check).
func ValidateIATI(t testing.TB, dir string) {
	t.Helper()
	file := filepath.Join(dir, IATIFile)
	bz, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := iatiSchema(t).Validate(bytes.NewReader(bz)); err != nil {
		t.Fatalf("%s does not validate against the IATI 2.03 XSD: %v", file, err)
	}
	lists := map[string]map[string]bool{}
	for _, n := range []string{"TransactionType", "ActivityStatus", "ActivityDateType", "OrganisationRole"} {
		lists[n] = iatiCodes(t, n)
	}
	curs := csvCodes(t, "ocds-1.1.5/codelists/currency.csv")
	dec := xml.NewDecoder(bytes.NewReader(bz))
	seen := map[string]int{}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		el, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		attr := func(name string) string {
			for _, a := range el.Attr {
				if a.Name.Local == name {
					return a.Value
				}
			}
			return ""
		}
		switch el.Name.Local {
		case "transaction-type":
			checkCode(t, "TransactionType", lists["TransactionType"], attr("code"))
		case "activity-status":
			checkCode(t, "ActivityStatus", lists["ActivityStatus"], attr("code"))
		case "activity-date":
			checkCode(t, "ActivityDateType", lists["ActivityDateType"], attr("type"))
		case "participating-org":
			checkCode(t, "OrganisationRole", lists["OrganisationRole"], attr("role"))
		case "value":
			checkCode(t, "Currency", curs, attr("currency"))
		case "reporting-org":
			// OrganisationType 10, Government (a non-embedded IATI
			// codelist, not vendored: its one code used is checked here).
			checkCode(t, "OrganisationType", map[string]bool{"10": true}, attr("type"))
		case "iati-activity":
			checkCode(t, "Currency", curs, attr("default-currency"))
		}
		seen[el.Name.Local]++
	}
	if seen["iati-activity"] == 0 {
		t.Fatalf("%s has no activity", file)
	}
}

// XMLLint validates the IATI file with xmllint --schema; it skips when
// xmllint is not installed ('make test' installs it: Debian libxml2-utils).
func XMLLint(t testing.TB, dir string) {
	t.Helper()
	bin, err := exec.LookPath("xmllint")
	if err != nil {
		t.Skip("xmllint is not installed (Debian: libxml2-utils; 'make deps' installs it): IATI XML not checked with xmllint")
	}
	xsdPath, err := filepath.Abs(filepath.Join(schemaDir, "iati-2.03/iati-activities-schema.xsd"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--noout", "--nonet", "--schema", xsdPath, filepath.Join(dir, IATIFile)).CombinedOutput()
	if err != nil {
		t.Fatalf("xmllint: %v\n%s", err, out)
	}
}

func TestSchemas(t *testing.T) {
	dir, _, _ := writeFixture(t, selection{})
	t.Run("ocds", func(t *testing.T) { ValidateOCDS(t, dir) })
	t.Run("360giving", func(t *testing.T) { ValidateGiving(t, dir) })
	t.Run("iati", func(t *testing.T) { ValidateIATI(t, dir) })
	t.Run("xmllint", func(t *testing.T) { XMLLint(t, dir) })
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
		{ocdsReleasePackageURL, `{"uri":"urn:x","publishedDate":"2026-01-01T00:00:00Z","publisher":{"name":"x"},"releases":[{"ocid":"o","id":"1","date":"2026-01-01","tag":["award"],"initiationType":"tender"}]}`},
		{ocdsReleasePackageURL, `{"uri":"urn:x","publishedDate":"2026-01-01T00:00:00Z","publisher":{"name":"x"},"releases":[{"ocid":"o","id":"1","date":"2026-01-01T00:00:00Z","tag":["nonsense"],"initiationType":"tender"}]}`},
		{givingPackageURL, `{"grants":[{"id":"1","title":"t","description":"d","currency":"EUR","amountAwarded":1,"awardDate":"2026-13-01","recipientOrganization":[{"id":"a","name":"b"}],"fundingOrganization":[{"id":"a","name":"b"}]}]}`},
	} {
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(tc.doc))
		if err != nil {
			t.Fatal(err)
		}
		if err := jsonSchema(t, tc.url).Validate(doc); err == nil {
			t.Errorf("%s accepted %s", tc.url, tc.doc)
		}
	}
	bad := write("bad.xml", `<?xml version="1.0"?><iati-activities version="2.03"><iati-activity><iati-identifier>x</iati-identifier></iati-activity></iati-activities>`)
	bz, _ := os.ReadFile(bad)
	if err := iatiSchema(t).Validate(bytes.NewReader(bz)); err == nil {
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
