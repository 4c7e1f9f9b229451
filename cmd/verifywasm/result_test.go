package main

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/civicledger/civicledger/ledger/verify"
)

// The verdicts of whole bundles, in the browser, are the portal's browser
// tests'; these are the refusals before VerifyBundle.
func TestCheckRefuses(t *testing.T) {
	genesis := []byte(`{"chain_id":"civic-test","genesis_time":"2026-01-01T00:00:00Z","initial_height":"1","validators":[],"app_state":{}}`)
	sum := sha256.Sum256(genesis)
	for name, c := range map[string]struct {
		bundle, genesis []byte
		step            string
	}{
		"genesis not JSON":    {[]byte(`{}`), []byte("not json"), verify.StepGenesis},
		"bundle not JSON":     {[]byte("{"), genesis, verify.StepFormat},
		"bundle, no manifest": {[]byte(`{"light_blocks":[]}`), genesis, verify.StepFormat},
		"unknown kind":        {[]byte(`{"manifest":{"format":1,"kind":"poem","id":"x"}}`), genesis, verify.StepFormat},
		"another genesis": {[]byte(`{"manifest":{"format":1,"kind":"grant","id":"G-1","chain_id":"civic-test","genesis_sha256":"00","height":3},
			"light_blocks":[{"signed_header":{"header":{},"commit":{}},"validator_set":{}}],"abci_query":{"response":{}}}`), genesis, verify.StepGenesis},
	} {
		r := check(c.bundle, c.genesis, time.Now())
		if r.Outcome != OutcomeFailed || r.FailedStep != c.step || r.Reason == "" {
			t.Errorf("%s: %+v, want FAILED at step %s", name, r, c.step)
		}
		if r.Agencies != nil || r.Value != nil || r.Claims != nil {
			t.Errorf("%s: a failed check states facts: %+v", name, r)
		}
		want := sha256.Sum256(c.genesis)
		if r.GenesisSHA256 != hex.EncodeToString(want[:]) {
			t.Errorf("%s: genesis sha256 %s", name, r.GenesisSHA256)
		}
	}
	if r := check([]byte("{}"), genesis, time.Now()); r.GenesisSHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("genesis sha256 %s, want %x", r.GenesisSHA256, sum)
	}
}
