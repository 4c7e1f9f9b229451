package client_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/internal/keystore"
	"github.com/civicledger/civicledger/ledger"
)

var jane = ledger.Identity{Scheme: "GB-NINO", ID: "JG103759A", Name: "Jane Example"}

func openDisclosures(t *testing.T, backend keystore.Backend) (*client.Disclosures, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "disclosures")
	ks, err := keystore.Open(dir, backend, func(string, bool) ([]byte, error) { return []byte("correct horse"), nil })
	if err != nil {
		t.Fatal(err)
	}
	if backend == keystore.BackendFile {
		if err := ks.SetScryptWorkFactor(10); err != nil {
			t.Fatal(err)
		}
	}
	d, err := client.OpenDisclosures(dir, ks)
	if err != nil {
		t.Fatal(err)
	}
	return d, dir
}

func TestDisclosureStore(t *testing.T) {
	for _, backend := range []keystore.Backend{keystore.BackendFile, keystore.BackendTest} {
		t.Run(string(backend), func(t *testing.T) {
			d, dir := openDisclosures(t, backend)
			party, disc, err := client.NewIndividual(jane, "Individual recipient", "North West")
			if err != nil {
				t.Fatal(err)
			}
			c := party.Individual.Commitment
			if party.Name != "" || party.ID != "" || disc.Commitment != c || disc.Check() != nil {
				t.Fatalf("party %+v, disclosure %+v", party, disc)
			}
			if _, again, _ := client.NewIndividual(jane, "x", ""); again.Commitment == c {
				t.Fatal("two records of one person share a salt")
			}
			if err := d.Save(disc, "Individual recipient", client.RecordRef{Kind: "grant", ID: "G-1"}); err != nil {
				t.Fatal(err)
			}
			if err := d.AddRecord(c, client.RecordRef{Kind: "payment", ID: "P-1"}); err != nil {
				t.Fatal(err)
			}
			// The only file that names the person is the sealed one, and
			// with the file backend it does not name it in clear.
			files, _ := filepath.Glob(filepath.Join(dir, "*"))
			for _, f := range files {
				b, _ := os.ReadFile(f)
				named := strings.Contains(string(b), jane.Name) || strings.Contains(string(b), jane.ID)
				if named && (backend == keystore.BackendFile || !strings.HasSuffix(f, c+".json")) {
					t.Fatalf("%s names the person", f)
				}
			}
			for _, ref := range []string{c, "G-1", "P-1"} {
				got, err := d.Disclose(ref)
				if err != nil {
					t.Fatalf("%s: %v", ref, err)
				}
				if got.Identity != jane || got.Salt != disc.Salt || len(got.Records) != 2 || got.Records[1].ID != "P-1" {
					t.Fatalf("%s: %+v", ref, got)
				}
			}
			if _, err := d.Disclose("G-2"); !errors.Is(err, client.ErrNoDisclosure) {
				t.Fatalf("unknown record: %v", err)
			}
			idx, err := d.Erase("P-1")
			if err != nil || idx.Erased == "" || idx.Commitment != c || len(idx.Records) != 2 {
				t.Fatalf("erase: %+v %v", idx, err)
			}
			if _, err := d.Disclose("G-1"); !errors.Is(err, client.ErrErased) {
				t.Fatalf("after erasure: %v", err)
			}
			if _, err := d.Erase(c); err != nil {
				t.Fatalf("erasing again: %v", err)
			}
			files, _ = filepath.Glob(filepath.Join(dir, "*"))
			for _, f := range files {
				b, _ := os.ReadFile(f)
				if strings.Contains(string(b), jane.Name) || strings.Contains(string(b), disc.Salt) {
					t.Fatalf("%s still holds the secret", f)
				}
			}
		})
	}
}

func TestDisclosureCheck(t *testing.T) {
	_, disc, err := client.NewIndividual(jane, "Individual recipient", "")
	if err != nil {
		t.Fatal(err)
	}
	bad := *disc
	bad.Identity.Name = "Jane Exampel"
	if err := bad.Check(); !errors.Is(err, client.ErrDisclosureMismatch) || client.VerdictOf(err) != client.Failed {
		t.Fatalf("another name: %v", err)
	}
	if _, _, err := client.NewIndividual(ledger.Identity{Scheme: "person", ID: "1"}, "x", ""); err == nil {
		t.Fatal("an identity without a name was accepted")
	}
	if _, err := client.ParseDisclosure([]byte(`{"format":"other"}`)); err == nil {
		t.Fatal("another format was accepted")
	}
	raw := `{"format":"civic-ledger/disclosure/v1","commitment":"` + disc.Commitment + `","salt":"` + disc.Salt +
		`","identity":{"scheme":"GB-NINO","id":"JG103759A","name":"Jane Example"},"records":[{"kind":"grant","id":"G-1"}]}`
	got, err := client.ParseDisclosure([]byte(raw))
	if err != nil || got.Check() != nil {
		t.Fatalf("parse: %v", err)
	}
}
