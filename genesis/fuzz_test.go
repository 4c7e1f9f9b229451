package genesis_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/civicledger/civicledger/genesis"
)

// FuzzLoad: Load never panics on any file; a file it accepts has a ledger
// state that passes its own validation, whose validator set is exactly the
// agencies' keys and powers, and that builds again (Build) into a genesis
// whose validators and app_state load the same. Seeds are the files of
// testdata/good and testdata/bad.
func FuzzLoad(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no genesis files: %v", err)
	}
	for _, file := range files {
		bz, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(bz)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "genesis.json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		doc, gs, err := genesis.Load(path)
		if err != nil {
			if doc != nil || gs != nil {
				t.Fatal("Load returned a document with an error")
			}
			return
		}
		if err := gs.Validate(); err != nil {
			t.Fatalf("loaded state fails its validation: %v", err)
		}
		power := map[string]int64{}
		for _, v := range doc.Validators {
			power[string(v.PubKey.Bytes())] += v.Power
		}
		if len(power) != len(gs.Agencies) {
			t.Fatalf("%d validator keys for %d agencies", len(power), len(gs.Agencies))
		}
		for _, ag := range gs.Agencies {
			if power[string(ag.ValidatorKey)] != ag.Power {
				t.Fatalf("agency %s: power %d, validators %d", ag.ID, ag.Power, power[string(ag.ValidatorKey)])
			}
		}
		rebuilt, err := genesis.Build(doc.ChainID, doc.GenesisTime, gs)
		if err != nil {
			t.Fatalf("a loaded state does not build: %v", err)
		}
		again, err := genesis.State(rebuilt)
		if err != nil {
			t.Fatalf("a built genesis does not load: %v", err)
		}
		if len(again.Agencies) != len(gs.Agencies) {
			t.Fatalf("rebuilt genesis has %d agencies, loaded %d", len(again.Agencies), len(gs.Agencies))
		}
		for i, v := range rebuilt.Validators {
			if !bytes.Equal(v.PubKey.Bytes(), gs.Agencies[i].ValidatorKey) || v.Power != gs.Agencies[i].Power {
				t.Fatalf("rebuilt validator %d is not agency %s's key and power", i, gs.Agencies[i].ID)
			}
		}
	})
}
