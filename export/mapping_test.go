package export

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/verify"
)

// fakeSource serves in-memory listings in pages of size, as a node would
// (without proofs: the walk and the mappings are under test here).
type fakeSource struct {
	size     int
	listings map[string][]verify.ListedRecord // listing + "/" + owner
	asked    []string
}

func (s *fakeSource) add(listing, owner, id string, rec any) {
	bz, err := json.Marshal(rec)
	if err != nil {
		panic(err)
	}
	k := listing + "/" + owner
	s.listings[k] = append(s.listings[k], verify.ListedRecord{ID: id, Record: bz})
	slices.SortFunc(s.listings[k], func(a, b verify.ListedRecord) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
}

func (s *fakeSource) page(listing, owner, after string) (*verify.Listing, error) {
	s.asked = append(s.asked, listing+"/"+owner+"/"+after)
	all := s.listings[listing+"/"+owner]
	i := 0
	if after != "" {
		i = slices.IndexFunc(all, func(e verify.ListedRecord) bool { return e.ID == after }) + 1
		if i == 0 {
			return nil, fmt.Errorf("no %q in %s/%s", after, listing, owner)
		}
	}
	end := min(i+s.size, len(all))
	l := &verify.Listing{Listing: listing, Owner: owner, After: after, Entries: all[i:end], Complete: end == len(all)}
	if !l.Complete {
		l.Next = all[end-1].ID
	}
	return l, nil
}

// fixture is a small ledger with every status, three currencies (2, 0 and
// 3 decimals) and text that needs escaping in JSON, XML and CSV.
func fixture() *fakeSource {
	s := &fakeSource{size: 2, listings: map[string][]verify.ListedRecord{}}
	acme := ledger.Party{Name: `Acme "Q&A" <Ltd>, Zürich`, Scheme: "GB-COH", ID: "01234567"}
	coop := ledger.Party{Name: "Coopérative du Lac\nSecond line", Scheme: "FR-RCS", ID: "B-123 456"}
	agencies := []ledger.Agency{
		{ID: "agency-1", Name: "Ministry of Culture & Arts", Jurisdiction: "Example", Power: 10,
			Officers: []ledger.Officer{{Key: make([]byte, 32), Name: "Clerk", Roles: []ledger.Role{ledger.RoleFinance, ledger.RoleGrants}}}},
		{ID: "agency-2", Name: "Transport Authority", Jurisdiction: "Example", Power: 10, Joined: 40},
	}
	for i := range agencies {
		s.add(ledger.ListingAgencies, "", agencies[i].ID, &agencies[i])
	}
	sha := func(c byte) string { return fmt.Sprintf("%064x", []byte{c})[:64] }
	grants := []ledger.Grant{
		{ID: "G-1", Agency: "agency-1", Recipient: acme, Programme: "Arts <2026>", Purpose: "Theatre & dance", Awarded: 12_500_050, Currency: "EUR",
			PeriodStart: "2026-01-01", PeriodEnd: "2026-12-31", DecisionDate: "2025-12-01", DocumentHash: sha(1), Status: ledger.GrantAmended,
			AmendmentHash: sha(2), Disbursed: 100_000, Payments: 1, Created: 3, Updated: 9},
		{ID: "G-2", Agency: "agency-1", Recipient: coop, Programme: "Heritage", Purpose: "Roof", Awarded: 5_000_000, Currency: "JPY",
			PeriodStart: "2026-02-01", PeriodEnd: "2027-01-31", DecisionDate: "2026-01-15", DocumentHash: sha(3), Status: ledger.GrantRevoked,
			Created: 4, Updated: 12},
		{ID: "G-3", Agency: "agency-1", Recipient: acme, Programme: "", Purpose: "Closing", Awarded: 1_234, Currency: "KWD",
			PeriodStart: "2025-01-01", PeriodEnd: "2025-06-30", DecisionDate: "2024-12-01", DocumentHash: sha(4), Status: ledger.GrantClosed,
			Disbursed: 1_234, Payments: 1, Created: 5, Updated: 7},
		{ID: "T-1", Agency: "agency-2", Recipient: coop, Programme: "Roads", Purpose: "Bridge", Awarded: 99, Currency: "EUR",
			PeriodStart: "2026-03-01", PeriodEnd: "2026-03-31", DecisionDate: "2026-02-20", DocumentHash: sha(5), Status: ledger.GrantAwarded,
			Created: 41, Updated: 41},
	}
	for i := range grants {
		s.add(ledger.ListingGrants, grants[i].Agency, grants[i].ID, &grants[i])
	}
	licences := []ledger.Licence{
		{ID: "L-1", Agency: "agency-1", Holder: acme, LicenceType: "broadcast", Scope: "FM 101.1", ValidFrom: "2026-01-01", ValidUntil: "2030-12-31",
			DecisionDate: "2025-11-01", ConditionsHash: sha(6), Status: ledger.LicenceIssued, Created: 2, Updated: 2},
		{ID: "L-2", Agency: "agency-1", Holder: coop, LicenceType: "fishing", Scope: "Lake <north>", ValidFrom: "2025-01-01", ValidUntil: "2027-12-31",
			DecisionDate: "2024-11-01", ConditionsHash: sha(7), RenewalHash: sha(8), Status: ledger.LicenceSuspended, Created: 2, Updated: 10},
		{ID: "L-3", Agency: "agency-2", Holder: acme, LicenceType: "taxi", Scope: "city", ValidFrom: "2020-01-01", ValidUntil: "2021-01-01",
			DecisionDate: "2019-12-01", ConditionsHash: sha(9), Status: ledger.LicenceExpired, Created: 42, Updated: 50},
		{ID: "L-4", Agency: "agency-2", Holder: acme, LicenceType: "bus", Scope: "line 4", ValidFrom: "2020-01-01", ValidUntil: "2029-01-01",
			DecisionDate: "2019-12-01", ConditionsHash: sha(10), Status: ledger.LicenceRevoked, Created: 42, Updated: 51},
	}
	for i := range licences {
		s.add(ledger.ListingLicences, licences[i].Agency, licences[i].ID, &licences[i])
	}
	payments := []ledger.Payment{
		{ID: "P-1", Agency: "agency-1", Payee: acme, Amount: 100_000, Currency: "EUR", Date: "2026-02-01", Purpose: "First instalment", Grant: "G-1",
			Status: ledger.PaymentRecorded, Approved: [][]byte{make([]byte, 32)}, Created: 9, Updated: 9},
		{ID: "P-2", Agency: "agency-1", Payee: acme, Amount: 5, Currency: "EUR", Date: "2026-02-02", Purpose: "Mistake", Grant: "G-1",
			Status: ledger.PaymentReversed, Approved: [][]byte{make([]byte, 32)}, Created: 9, Updated: 11},
		{ID: "P-3", Agency: "agency-1", Payee: acme, Amount: 1_234, Currency: "KWD", Date: "2025-03-01", Purpose: "All", Grant: "G-3",
			Status: ledger.PaymentRecorded, Created: 6, Updated: 6},
		{ID: "P-4", Agency: "agency-1", Payee: coop, Amount: 7_000, Currency: "JPY", Date: "2026-04-01", Purpose: "Catering, \"gala\"",
			Status: ledger.PaymentRecorded, Created: 13, Updated: 13},
		{ID: "P-5", Agency: "agency-2", Payee: coop, Amount: 1, Currency: "EUR", Date: "2026-04-02", Purpose: "Refunded",
			Status: ledger.PaymentReversed, Created: 43, Updated: 44},
	}
	for i := range payments {
		p := &payments[i]
		s.add(ledger.ListingPayments, p.Agency, p.ID, p)
		if p.Grant != "" {
			s.add(ledger.ListingGrantPayments, p.Grant, p.ID, p)
		}
	}
	return s
}

var testMeta = meta{chainID: "civic-test-1", height: 60, published: time.Date(2026, 5, 4, 3, 2, 1, 0, time.UTC), ocidPrefix: DefaultOCIDPrefix}

// writeFixture maps the fixture (selected by sel) in every format into a
// new directory and returns it with the counts.
func writeFixture(t *testing.T, sel selection) (string, Counts, []File) {
	t.Helper()
	dir := t.TempDir()
	fs := &fileSet{dir: dir}
	m := testMeta
	sinks, err := newSinks(&m, Formats, fs.open)
	if err != nil {
		t.Fatal(err)
	}
	w := &walker{src: fixture(), sel: sel, sinks: sinks}
	if err := w.run(); err != nil {
		t.Fatal(err)
	}
	files, err := fs.close()
	if err != nil {
		t.Fatal(err)
	}
	return dir, w.counts, files
}

func TestWalkCounts(t *testing.T) {
	for _, tc := range []struct {
		name string
		sel  selection
		want Counts
	}{
		{"all", selection{}, Counts{Agencies: 2, Grants: 4, Licences: 4, Payments: 5}},
		{"one agency", selection{agency: "agency-2"}, Counts{Agencies: 1, Grants: 1, Licences: 2, Payments: 1}},
		{"from height", selection{fromHeight: 10}, Counts{Agencies: 2, Grants: 2, Licences: 3, Payments: 3}},
		{"unknown agency", selection{agency: "nobody"}, Counts{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, got, _ := writeFixture(t, tc.sel)
			if got != tc.want {
				t.Fatalf("counts %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestMappingDeterministic(t *testing.T) {
	_, _, a := writeFixture(t, selection{})
	_, _, b := writeFixture(t, selection{})
	if !slices.Equal(a, b) {
		t.Fatalf("two exports of the same records differ:\n%v\n%v", a, b)
	}
	var paths []string
	for _, f := range a {
		paths = append(paths, f.Path)
	}
	want := []string{GivingFile, CSVAgenciesFile, CSVGrantsFile, CSVLicencesFile, CSVPaymentsFile, IATIFile, OCDSRecordsFile, OCDSReleasesFile}
	if !slices.Equal(paths, want) {
		t.Fatalf("files %v, want %v", paths, want)
	}
}

// TestCompareCatchesEveryByte maps the fixture again in compare mode (as
// VerifyRelease does): the written files match, and a changed byte in any
// of them fails naming the file.
func TestCompareCatchesEveryByte(t *testing.T) {
	dir, _, files := writeFixture(t, selection{})
	compare := func() error {
		fs := &fileSet{dir: dir, compare: true}
		m := testMeta
		sinks, err := newSinks(&m, Formats, fs.open)
		if err != nil {
			return err
		}
		w := &walker{src: fixture(), sinks: sinks}
		if err := w.run(); err != nil {
			fs.close()
			return err
		}
		_, err = fs.close()
		return err
	}
	if err := compare(); err != nil {
		t.Fatalf("the written files do not compare equal: %v", err)
	}
	for _, f := range files {
		t.Run(f.Path, func(t *testing.T) {
			p := filepath.Join(dir, filepath.FromSlash(f.Path))
			orig, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			for _, at := range []int{0, len(orig) / 2, len(orig) - 1} {
				bad := slices.Clone(orig)
				bad[at] ^= 0x01
				if err := os.WriteFile(p, bad, 0o644); err != nil {
					t.Fatal(err)
				}
				err := compare()
				var fe *FileError
				if !errors.As(err, &fe) || fe.File != f.Path || !errors.Is(err, ErrMismatch) {
					t.Fatalf("byte %d changed: got %v, want a mismatch in %s", at, err, f.Path)
				}
			}
			for _, bad := range [][]byte{orig[:len(orig)-1], append(slices.Clone(orig), ' ')} {
				if err := os.WriteFile(p, bad, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := compare(); !errors.Is(err, ErrMismatch) {
					t.Fatalf("length changed: got %v, want a mismatch", err)
				}
			}
			if err := os.WriteFile(p, orig, 0o644); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestParseFormats(t *testing.T) {
	got, err := ParseFormats([]string{"csv", "OCDS", "csv"})
	if err != nil || !slices.Equal(got, []string{FormatOCDS, FormatCSV}) {
		t.Fatalf("got %v %v", got, err)
	}
	if got, _ := ParseFormats([]string{"all"}); !slices.Equal(got, Formats) {
		t.Fatalf("all: %v", got)
	}
	for _, bad := range [][]string{nil, {"xml"}} {
		if _, err := ParseFormats(bad); err == nil {
			t.Fatalf("%v: no error", bad)
		}
	}
}

func TestReadLineBounded(t *testing.T) {
	r := bufio.NewReaderSize(strings.NewReader(strings.Repeat("x", 100)+"\nshort\nlast"), 16)
	if _, err := readLine(r, 50); err == nil {
		t.Fatal("a 100-byte line read with a limit of 50")
	}
	r = bufio.NewReaderSize(strings.NewReader(strings.Repeat("x", 40)+"\nlast"), 16)
	if l, err := readLine(r, 50); err != nil || len(l) != 41 {
		t.Fatalf("%q %v", l, err)
	}
	if l, err := readLine(r, 50); err != io.EOF || string(l) != "last" {
		t.Fatalf("%q %v", l, err)
	}
}
