package export

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/civicledger/civicledger/ledger"
)

// Formats an export can be written in.
const (
	FormatOCDS   = "ocds"
	FormatGiving = "360giving"
	FormatIATI   = "iati"
	FormatCSV    = "csv"
	formatAll    = "all" // every format
)

// Formats lists the formats in the order they are written.
var Formats = []string{FormatOCDS, FormatGiving, FormatIATI, FormatCSV}

// Files of a release, relative to its directory.
const (
	ManifestFile     = "manifest.json"
	PagesFile        = "proof/pages.jsonl"
	OCDSReleasesFile = "ocds/release-package.json"
	OCDSRecordsFile  = "ocds/record-package.json"
	GivingFile       = "360giving/grants.json"
	IATIFile         = "iati/activities.xml"
	CSVAgenciesFile  = "csv/agencies.csv"
	CSVGrantsFile    = "csv/grants.csv"
	CSVLicencesFile  = "csv/licences.csv"
	CSVPaymentsFile  = "csv/payments.csv"
)

// DefaultOCIDPrefix is the OCDS ocid prefix when none is given: a
// placeholder in the form of a registered one ("ocds-" and six
// characters); a publisher registers its own with the Open Contracting
// Partnership.
const DefaultOCIDPrefix = "ocds-civic0"

// Identifiers and versions the mappings write.
const (
	agencyOrgIDPrefix  = "XX-CIVICLEDGER-"    // an agency's organisation identifier (AgencyOrgID)
	givingIDPrefix     = "360G-civicledger-"  // a 360Giving grant id (GivingID)
	standardOCDS       = "1.1"                // OCDS package version
	standardGiving     = "1.4"                // 360Giving package version
	standardIATI       = "2.03"               // IATI activities version
	ledgerStatusScheme = "civicledger-status" // 360Giving classification vocabulary of the ledger's statuses
)

// ParseFormats returns the formats named by args ("all" for every one), in
// the order of Formats, once each.
func ParseFormats(args []string) ([]string, error) {
	want := map[string]bool{}
	for _, a := range args {
		a = strings.ToLower(strings.TrimSpace(a))
		switch a {
		case formatAll:
			for _, f := range Formats {
				want[f] = true
			}
		case FormatOCDS, FormatGiving, FormatIATI, FormatCSV:
			want[a] = true
		default:
			return nil, fmt.Errorf("unknown format %q (one of %s, or all)", a, strings.Join(Formats, ", "))
		}
	}
	var out []string
	for _, f := range Formats {
		if want[f] {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("name a format: %s, or all", strings.Join(Formats, ", "))
	}
	return out, nil
}

// meta is what every mapping needs to know of the release.
type meta struct {
	chainID    string
	height     int64     // state height H
	published  time.Time // time of header H+1
	ocidPrefix string
}

// date is the release's publication date-time (header H+1's time, UTC, to
// the second).
func (m *meta) date() string { return m.published.UTC().Format(time.RFC3339) }

// uri names a part of the release ("urn:x-civicledger:CHAIN:H:part").
func (m *meta) uri(part string) string {
	return fmt.Sprintf("urn:x-civicledger:%s:%d:%s", url.PathEscape(m.chainID), m.height, part)
}

// publisher is the name the packages give as their publisher.
func (m *meta) publisher() string { return "Civic Ledger " + m.chainID }

// amount is a record amount as a JSON number in the currency's units
// (ledger.FormatAmount: exact, never a float).
func amount(a ledger.Amount, currency string) json.Number {
	return json.Number(ledger.FormatAmount(int64(a), currency))
}

// dateTime turns a ledger date (YYYY-MM-DD) into the start of that day in
// UTC, the form the OCDS dates take.
func dateTime(d string) string {
	if d == "" {
		return ""
	}
	return d + "T00:00:00Z"
}

// AgencyOrgID is the organisation identifier an agency has in the exports.
// The chain knows agencies by their id only; the identifier is that id in
// the "XX-CIVICLEDGER" scheme.
func AgencyOrgID(agency string) string { return agencyOrgIDPrefix + agency }

// PartyOrgID is the organisation identifier of a recipient, holder or
// payee: its scheme and its id in that scheme (org-id.guide style, e.g.
// GB-COH-01234567).
func PartyOrgID(p ledger.Party) string { return p.Scheme + "-" + p.ID }

// jsonLine is json.Marshal without escaping <, > and & (the exports are
// data files, not HTML).
func jsonLine(v any) ([]byte, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return []byte(strings.TrimSuffix(b.String(), "\n")), nil
}

// jsonArray writes a JSON document whose last member is an array written
// element by element: head (up to and including the array's "["), the
// elements one per line, then tail. The file is created with its first
// element: the packages of the standards need one, so a selection with
// none writes no file.
type jsonArray struct {
	open       opener
	path       string
	head, tail string
	w          io.Writer
	n          int
}

func newJSONArray(open opener, path, head, tail string) *jsonArray {
	return &jsonArray{open: open, path: path, head: head, tail: tail}
}

func (a *jsonArray) add(v any) error {
	b, err := jsonLine(v)
	if err != nil {
		return err
	}
	sep := ",\n    "
	if a.w == nil {
		if a.w, err = a.open(a.path); err != nil {
			return err
		}
		sep = a.head + "\n    "
	}
	a.n++
	if _, err := io.WriteString(a.w, sep); err != nil {
		return err
	}
	_, err = a.w.Write(b)
	return err
}

func (a *jsonArray) close() error {
	if a.w == nil {
		return nil
	}
	_, err := io.WriteString(a.w, "\n  "+a.tail)
	return err
}

// packageHead writes the members of a package object before its array,
// each as "key": value, in the order given, then "array": [.
func packageHead(members [][2]any, array string) (string, error) {
	var b strings.Builder
	b.WriteString("{\n")
	for _, m := range members {
		v, err := jsonLine(m[1])
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "  %q: %s,\n", m[0], v)
	}
	fmt.Fprintf(&b, "  %q: [", array)
	return b.String(), nil
}

// grantTitle is a grant's title: its programme, or its purpose when it
// names none.
func grantTitle(g *ledger.Grant) string {
	if g.Programme != "" {
		return g.Programme
	}
	return g.Purpose
}
