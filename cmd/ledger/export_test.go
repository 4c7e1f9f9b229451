package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/export"
	"github.com/civicledger/civicledger/export/schematest"
)

// TestExportRelease records grants, licences and payments on a live
// network, exports them in every format, validates the files against the
// official schemas, verifies the release offline, then changes one byte in
// each file: each change fails verification (exit 1) naming the file.
func TestExportRelease(t *testing.T) {
	net := testNet(t, "civic-export-test")
	a := net.Testnet.Agencies
	mustCLI(t, net, 0, awardArgs("G-X-1", "1000.00 EUR")...)
	mustCLI(t, net, 0, awardArgs("G-X-2", "5000 JPY", "--purpose", `Tools & "parts" <batch>`)...)
	mustCLI(t, net, 0, paymentArgs("P-X-1", "250.00 EUR", "--grant", "G-X-1")...)
	mustCLI(t, net, 0, paymentArgs("P-X-2", "12.50 EUR", "--grant", "G-X-1")...)
	mustCLI(t, net, 0, "tx", "payment", "reverse", "--from", "finance", "--id", "P-X-2", "--reason", "Duplicate invoice")
	mustCLI(t, net, 0, paymentArgs("P-X-3", "99.99 EUR")...)
	mustCLI(t, net, 0, "tx", "licence", "issue", "--from", "licensing", "--id", "L-X-1", "--holder-name", "Harbour Cafe",
		"--holder-scheme", "GB-COH", "--holder-id", "0002", "--type", "premises", "--scope", "Sale of alcohol",
		"--valid-from", "2026-01-01", "--valid-until", "2030-12-31", "--decision-date", "2025-12-15",
		"--conditions-hash", testDocHash)
	mustCLI(t, net, 1, awardArgs("G-Y-1", "10.00 EUR")...)

	home := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if _, err := client.InitTrustFromGenesis(ctx, home, net.Testnet.Genesis, a[1].RPC); err != nil {
		t.Fatal(err)
	}
	genesis := net.Testnet.Genesis
	base := t.TempDir()
	dir := filepath.Join(base, "release")
	out := mustRun(t, "--home", home, "--node", a[0].RPC, "export", "all", "-o", dir, "--witness", a[1].RPC, "--page-size", "2")
	t.Logf("ledger export all:\n%s", out)
	for _, want := range []string{"records:", "2 agencies, 3 grants, 1 licences, 3 payments", export.IATIFile, "ledger verify release " + dir} {
		if !strings.Contains(out, want) {
			t.Errorf("export output lacks %q", want)
		}
	}
	at := func(f string) string { return filepath.Join(dir, filepath.FromSlash(f)) }
	schematest.OCDS(t, at(export.OCDSReleasesFile), at(export.OCDSRecordsFile))
	schematest.Giving(t, at(export.GivingFile))
	schematest.IATI(t, at(export.IATIFile))
	t.Run("xmllint", func(t *testing.T) { schematest.XMLLint(t, at(export.IATIFile)) })

	verifyArgs := []string{"--home", t.TempDir(), "verify", "release", dir, "--genesis", genesis}
	vout := mustRun(t, verifyArgs...)
	if finalLine(vout) != resultVerified {
		t.Fatalf("verify release:\n%s", vout)
	}
	t.Logf("ledger verify release:\n%s", vout)
	j := decodeJSON[releaseOutput](t, mustRun(t, append(verifyArgs, "-o", "json")...))
	if j.Result != resultVerified || j.Records == nil || j.Records.Grants != 3 || j.Header == nil || j.SignedPower*3 <= j.TotalPower*2 {
		t.Fatalf("verify release -o json: %+v", j)
	}

	// The genesis file trusted under --home is the default.
	if out := mustRun(t, "--home", home, "verify", "release", dir); finalLine(out) != resultVerified {
		t.Fatalf("verify release with the trusted genesis file:\n%s", out)
	}
	wantCode(t, 2, []string{"--genesis FILE"}, "--home", t.TempDir(), "verify", "release", dir)

	// One agency, an incremental export, and the usage errors.
	one := filepath.Join(base, "one")
	out = mustRun(t, "--home", home, "--node", a[0].RPC, "export", "csv", "ocds", "--agency", "agency-2", "--out", one)
	if !strings.Contains(out, "1 agencies, 1 grants, 0 licences, 0 payments") {
		t.Errorf("--agency export:\n%s", out)
	}
	mustRun(t, "--home", t.TempDir(), "verify", "release", one, "--genesis", genesis)
	wantCode(t, 2, []string{"not empty"}, "--home", home, "--node", a[0].RPC, "export", "csv", "-o", dir)
	wantCode(t, 2, []string{"unknown format"}, "--home", home, "--node", a[0].RPC, "export", "pdf", "-o", filepath.Join(base, "x"))
	wantCode(t, 2, []string{"--out DIR"}, "--home", home, "--node", a[0].RPC, "export", "csv")
	wantCode(t, 1, []string{"no agency"}, "--home", home, "--node", a[0].RPC, "export", "csv", "--agency", "nobody", "-o", filepath.Join(base, "none"))
	wantCode(t, 1, []string{"above the latest block"}, "--home", home, "--node", a[0].RPC, "export", "csv", "--height", "1000000", "-o", filepath.Join(base, "future"))
	wantCode(t, 2, []string{"not a directory"}, "--home", home, "--node", a[0].RPC, "export", "csv", "-o", filepath.Join(base, "one", "manifest.json", "x"))
	wantCode(t, 3, nil, "--home", home, "--node", deadNode(t), "export", "csv", "-o", filepath.Join(base, "dead"))
	if left, _ := filepath.Glob(filepath.Join(base, ".*.tmp-*")); len(left) != 0 {
		t.Errorf("temporary directories left behind: %v", left)
	}

	// A changed byte in any file fails, naming the file.
	var files []string
	for _, f := range j.Files {
		files = append(files, f.Path)
	}
	files = append(files, export.ManifestFile)
	for _, f := range files {
		t.Run("tampered "+f, func(t *testing.T) {
			p := at(f)
			orig, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			defer os.WriteFile(p, orig, 0o644)
			for _, i := range []int{len(orig) / 3, len(orig) - 2} {
				bad := append([]byte(nil), orig...)
				bad[i] ^= 0x01
				if err := os.WriteFile(p, bad, 0o644); err != nil {
					t.Fatal(err)
				}
				_, errOut := wantCode(t, 1, []string{"FAILED", f}, verifyArgs...)
				t.Logf("byte %d of %s changed: %s", i, f, strings.TrimSpace(errOut))
				out, _ := wantCode(t, 1, nil, append(verifyArgs, "-o", "json")...)
				if j := decodeJSON[releaseOutput](t, out); j.Result != resultFailed || j.FailedFile != f || j.FailedStep == "" {
					t.Errorf("byte %d of %s changed: -o json says %s, step %q, file %q", i, f, j.Result, j.FailedStep, j.FailedFile)
				}
			}
		})
	}
	// A file changed with the manifest's sha256 changed to match is still
	// caught: the proved records, mapped again, do not give it.
	for _, tc := range []struct{ file, from, to, want string }{
		{export.CSVGrantsFile, "1000.00", "1900.00", "does not match the proved records"},
		{export.IATIFile, "250.00", "350.00", "does not match the proved records"},
		{export.PagesFile, `"listing":"grants","owner":"agency-1"`, `"listing":"grants","owner":"agency-2"`, "not the one asked for"},
	} {
		t.Run("consistently tampered "+tc.file, func(t *testing.T) {
			restore := rewrite(t, dir, tc.file, tc.from, tc.to)
			defer restore()
			_, errOut := wantCode(t, 1, []string{"FAILED", tc.file, tc.want}, verifyArgs...)
			t.Logf("%s changed and the manifest updated: %s", tc.file, strings.TrimSpace(errOut))
		})
	}
	// An extra file is refused too.
	extra := filepath.Join(dir, "csv", "extra.csv")
	if err := os.WriteFile(extra, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wantCode(t, 1, []string{"csv/extra.csv", "not listed"}, verifyArgs...)
}

// rewrite replaces the first from by to in a release's file and updates the
// manifest's sha256 and size of the file to match; it returns a function
// that restores both.
func rewrite(t *testing.T, dir, file, from, to string) func() {
	t.Helper()
	p, mp := filepath.Join(dir, filepath.FromSlash(file)), filepath.Join(dir, export.ManifestFile)
	orig, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	origMan, err := os.ReadFile(mp)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(orig), from) {
		t.Fatalf("%s has no %q", file, from)
	}
	changed := []byte(strings.Replace(string(orig), from, to, 1))
	var m export.Manifest
	if err := json.Unmarshal(origMan, &m); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(changed)
	for i := range m.Files {
		if m.Files[i].Path == file {
			m.Files[i].SHA256, m.Files[i].Bytes = hex.EncodeToString(sum[:]), int64(len(changed))
		}
	}
	bz, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, changed, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mp, bz, 0o644); err != nil {
		t.Fatal(err)
	}
	return func() {
		os.WriteFile(p, orig, 0o644)
		os.WriteFile(mp, origMan, 0o644)
	}
}

// TestExportProgress: progress is printed on a terminal only, at most a
// few times a second, and ends with a new line.
func TestExportProgress(t *testing.T) {
	var buf strings.Builder
	if p := newProgress(&buf); p.w != nil {
		t.Fatal("progress printed to a writer that is not a terminal")
	}
	p := &progress{w: &buf}
	p.update(export.Progress{Written: export.Counts{Agencies: 1, Grants: 2, Payments: 3}, Agency: "agency-1", AgencyNo: 1, Agencies: 2})
	p.update(export.Progress{Written: export.Counts{Agencies: 1, Grants: 3}})
	p.done()
	if got, want := buf.String(), "\ragency 1/2 (agency-1): 6 records written (2 grants, 0 licences, 3 payments)\x1b[K\n"; got != want {
		t.Fatalf("progress %q, want %q", got, want)
	}
}
