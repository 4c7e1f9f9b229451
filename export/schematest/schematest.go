package schematest

import (
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/jacoelho/xsd"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The official schemas and codelists, vendored with their licences in
// testdata/schemas (see testdata/schemas/README.md).
var schemaDir = func() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("schematest: no source path")
	}
	return filepath.Join(filepath.Dir(file), "..", "testdata", "schemas")
}()

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
	// OCDSReleasePackageURL is the OCDS 1.1.5 release package schema.
	OCDSReleasePackageURL = "https://standard.open-contracting.org/schema/1__1__5/release-package-schema.json"
	// OCDSRecordPackageURL is the OCDS 1.1.5 record package schema.
	OCDSRecordPackageURL = "https://standard.open-contracting.org/schema/1__1__5/record-package-schema.json"
	// GivingPackageURL is the 360Giving 1.4.3 package schema.
	GivingPackageURL = "https://raw.githubusercontent.com/ThreeSixtyGiving/standard/1.4.3/schema/360-giving-package-schema.json"
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

// JSONSchema compiles a vendored schema with format assertion on.
func JSONSchema(t testing.TB, url string) *jsonschema.Schema {
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

// OCDS validates an OCDS release package and record package against the
// OCDS 1.1.5 schemas, and the release package's codes against the OCDS
// codelists.
func OCDS(t testing.TB, releasePackage, recordPackage string) {
	t.Helper()
	rel := validateJSON(t, JSONSchema(t, OCDSReleasePackageURL), releasePackage)
	validateJSON(t, JSONSchema(t, OCDSRecordPackageURL), recordPackage)
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

// Giving validates a 360Giving grant package against the 360Giving 1.4.3
// package schema and currency codelist.
func Giving(t testing.TB, file string) {
	t.Helper()
	doc := validateJSON(t, JSONSchema(t, GivingPackageURL), file)
	curs := csvCodes(t, "360giving-1.4.3/codelists/currency.csv")
	for _, g := range doc.(map[string]any)["grants"].([]any) {
		g := g.(map[string]any)
		checkCode(t, "currency", curs, g["currency"])
		for _, tx := range asList(g["disbursementTransaction"]) {
			checkCode(t, "currency", curs, tx.(map[string]any)["currency"])
		}
	}
}

// IATISchema loads the IATI 2.03 activities schema.
func IATISchema(t testing.TB) *xsd.Schema {
	t.Helper()
	s, err := xsd.LoadWithOptions(os.DirFS(filepath.Join(schemaDir, "iati-2.03")), "iati-activities-schema.xsd", xsd.NewLoadOptions())
	if err != nil {
		t.Fatalf("load the IATI schema: %v", err)
	}
	return s
}

// IATI validates an IATI activities file against the IATI 2.03 XSD, and
// its codes against the IATI codelists (which the XSD does not check).
func IATI(t testing.TB, file string) {
	t.Helper()
	bz, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := IATISchema(t).Validate(bytes.NewReader(bz)); err != nil {
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

// XMLLint validates an IATI activities file with xmllint --schema against
// the IATI 2.03 XSD; it skips the test when xmllint is not installed ('make
// test' installs it: Debian libxml2-utils).
func XMLLint(t testing.TB, file string) {
	t.Helper()
	bin, err := exec.LookPath("xmllint")
	if err != nil {
		t.Skip("xmllint is not installed (Debian: libxml2-utils; 'make deps' installs it): IATI XML not checked with xmllint")
	}
	xsdPath, err := filepath.Abs(filepath.Join(schemaDir, "iati-2.03/iati-activities-schema.xsd"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--noout", "--nonet", "--schema", xsdPath, file).CombinedOutput()
	if err != nil {
		t.Fatalf("xmllint: %v\n%s", err, out)
	}
}
