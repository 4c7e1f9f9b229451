package genesis_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/civicledger/civicledger/genesis"
	"github.com/civicledger/civicledger/ledger"
)

// TestLoadGood: every file in testdata/good loads and validates, and its
// validator set is the agencies'.
func TestLoadGood(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "good", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no good genesis files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			doc, gs, err := genesis.Load(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := gs.Validate(); err != nil {
				t.Fatal(err)
			}
			if len(doc.Validators) != len(gs.Agencies) {
				t.Fatalf("%d validators for %d agencies", len(doc.Validators), len(gs.Agencies))
			}
		})
	}
}

// TestLoadBad: every file in testdata/bad breaks one rule, and Load refuses
// it with an error naming the problem (and the ledger's error, when the rule
// is the ledger's).
func TestLoadBad(t *testing.T) {
	cases := map[string]struct {
		want string        // in the error
		is   *ledger.Error // the ledger's error, if the ledger's rule
	}{
		"empty-chain-id.json":           {want: "non-empty chain_id"},
		"long-chain-id.json":            {want: "chain_id in genesis doc is too long"},
		"no-agencies.json":              {want: "agencies: at least one agency", is: ledger.ErrInvalidField},
		"invalid-agency-id.json":        {want: `agencies[0].id: "Agency One"`, is: ledger.ErrInvalidID},
		"duplicate-agency.json":         {want: `agencies[1].id: duplicate agency "agency-1"`, is: ledger.ErrAlreadyExists},
		"duplicate-validator-key.json":  {want: `agencies[1].validator_key: same validator key as agency "agency-1"`, is: ledger.ErrInvalidKey},
		"short-validator-key.json":      {want: "agencies[0].validator_key: must be a 32-byte ed25519 public key", is: ledger.ErrInvalidKey},
		"zero-power.json":               {want: "agencies[0].power: must be between 1", is: ledger.ErrInvalidField},
		"founding-agency-joined.json":   {want: "agencies[0]: a founding agency has no joined_height", is: ledger.ErrInvalidField},
		"no-officers.json":              {want: "agencies[0].officers: at least one officer", is: ledger.ErrInvalidField},
		"shared-officer-key.json":       {want: `agencies[1].officers[0].key: already an officer of "agency-1"`, is: ledger.ErrOfficerExists},
		"unknown-role.json":             {want: `agencies[1].officers[1].roles: "mayor"`, is: ledger.ErrInvalidRole},
		"no-admin.json":                 {want: `agency "agency-2" needs an admin officer`, is: ledger.ErrLastAdmin},
		"zero-replay-window.json":       {want: "params.replay_window", is: ledger.ErrInvalidField},
		"unknown-app-state-field.json":  {want: `unknown field "treasury"`},
		"zero-validator-power.json":     {want: "validators with no voting power"},
		"agency-without-validator.json": {want: "genesis has 1 validators for 2 agencies"},
		"unknown-validator.json":        {want: "is not an agency's validator key"},
		"validator-power-mismatch.json": {want: "genesis validator of agency-2 has power 20, agency record says 10"},
		// CometBFT's own decoder panics on this one (found by FuzzLoad).
		"long-genesis-validator-key.json": {want: "genesis validator 1: ed25519 public key of 38 bytes, want 32"},
	}
	files, err := filepath.Glob(filepath.Join("testdata", "bad", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		name := filepath.Base(f)
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			tc, ok := cases[name]
			if !ok {
				t.Fatalf("no expectation for %s: add it to the table", name)
			}
			_, _, err := genesis.Load(f)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not name the problem (%q)", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("error %q is not %v", err, tc.is)
			}
		})
	}
	for name := range cases {
		if !seen[name] {
			t.Errorf("testdata/bad/%s is missing", name)
		}
	}
}
