package export_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/civicledger/civicledger/export"
	"github.com/civicledger/civicledger/genesis"
)

// FuzzRelease: a release's manifest.json, verified (VerifyRelease) against
// a real genesis file, never panics, not even a panic VerifyRelease would
// recover as "malformed release". A refusal is a *ReleaseError naming its
// step, and the report's last step is that failure. A manifest that
// decodes has a stable encoding (Encode, decode, Encode gives the same
// bytes). Seeds are manifests as Export writes them (Manifest.Encode), for
// the genesis's chain and sha256 so that the fuzzer reaches the light
// blocks, and a few broken ones.
func FuzzRelease(f *testing.F) {
	genesisFile := filepath.Join("..", "genesis", "testdata", "good", "one-agency.json")
	doc, _, err := genesis.Load(genesisFile)
	if err != nil {
		f.Fatal(err)
	}
	raw, err := os.ReadFile(genesisFile)
	if err != nil {
		f.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	genesisSHA := hex.EncodeToString(sum[:])
	now := doc.GenesisTime.Add(time.Hour)

	base := export.Manifest{Format: export.ReleaseFormat, Kind: "release", ChainID: doc.ChainID, GenesisSHA256: genesisSHA,
		Height: 3, Header: export.Header{Height: 4, Hash: strings.Repeat("AB", 32), Time: now.UTC().Format(time.RFC3339), AppHash: strings.Repeat("CD", 32)},
		Formats: []string{"ocds", "csv"}, OCIDPrefix: export.DefaultOCIDPrefix, Records: export.Counts{Agencies: 1, Grants: 2},
		Pages: 3, Files: []export.File{{Path: "csv/grants.csv", SHA256: strings.Repeat("00", 32), Bytes: 10}},
		LightBlocks: json.RawMessage(`[]`)}
	for _, lbs := range []string{`[]`, `null`, `[{}]`, `[{"signed_header":{"header":{"height":"1"},"commit":{}},"validator_set":{"validators":[]}}]`} {
		m := base
		m.LightBlocks = json.RawMessage(lbs)
		bz, err := m.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(bz)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"format":1,"kind":"release","formats":["xml"]}`))

	f.Fuzz(func(t *testing.T, data []byte) {
		var m export.Manifest
		if json.Unmarshal(data, &m) == nil {
			if enc, err := m.Encode(); err == nil {
				var m2 export.Manifest
				if err := json.Unmarshal(enc, &m2); err != nil {
					t.Fatalf("encoded manifest does not decode: %v", err)
				}
				enc2, err := m2.Encode()
				if err != nil || !bytes.Equal(enc, enc2) {
					t.Fatalf("manifest encoding not stable (%v):\n%s\n%s", err, enc, enc2)
				}
			}
		}

		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, export.ManifestFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
		rep, err := export.VerifyRelease(dir, doc, genesisSHA, now)
		if rep == nil {
			t.Fatal("no report")
		}
		if err == nil {
			t.Fatal("a release without its files verified")
		}
		if strings.Contains(err.Error(), "malformed release:") {
			t.Fatalf("VerifyRelease recovered a panic: %v", err)
		}
		var re *export.ReleaseError
		if !errors.As(err, &re) || re.Step == "" {
			t.Fatalf("refusal is not a *ReleaseError naming its step: %v", err)
		}
		if len(rep.Steps) == 0 || rep.Steps[len(rep.Steps)-1].Name != re.Step {
			t.Fatalf("report's last step is not the failure %q: %+v", re.Step, rep.Steps)
		}
	})
}
