package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sort"
	"time"

	"github.com/civicledger/civicledger/ledger/verify"
)

// Outcomes of Result.Outcome.
const (
	OutcomeVerified       = "VERIFIED"
	OutcomeVerifiedAbsent = "VERIFIED ABSENT"
	OutcomeFailed         = "FAILED"
)

// Result is what civicVerify returns: the verdict, the verified facts a
// reader needs in plain words (height, block time, the agencies whose
// validators signed), and the technical detail.
type Result struct {
	Outcome string `json:"outcome"` // VERIFIED, VERIFIED ABSENT or FAILED
	// Reason says why verification failed (empty otherwise); FailedStep
	// names the step (verify.Step* constants).
	Reason     string `json:"reason,omitempty"`
	FailedStep string `json:"failed_step,omitempty"`
	// GenesisSHA256 is the SHA-256 of the genesis bytes given, computed
	// here: the reader compares it with the one the agencies publish.
	GenesisSHA256 string `json:"genesis_sha256"`
	ChainID       string `json:"chain_id,omitempty"`
	Kind          string `json:"kind,omitempty"`
	ID            string `json:"id,omitempty"`
	// Height is the record's state height or the tx's block (verified
	// only when Outcome is not FAILED, as everything below).
	Height int64 `json:"height,omitempty"`
	// BlockTime is the time of the header the proof rests on (RFC 3339).
	BlockTime string `json:"block_time,omitempty"`
	// Agencies are the names of the genesis validators (agencies) whose
	// commit signatures on that header verify, sorted.
	Agencies []string `json:"agencies,omitempty"`
	// Claims are the sentences the verified facts give.
	Claims []string `json:"claims,omitempty"`
	// Value is the verified record (JSON), if present.
	Value json.RawMessage `json:"value,omitempty"`
	// Tx is the verified transaction, for a tx bundle.
	Tx *verify.ReportTx `json:"tx,omitempty"`
	// Steps are the checks in order, the failed one last.
	Steps []verify.Step `json:"steps"`
	// Unverified is what the bundle states that nothing covers.
	Unverified *verify.Unverified `json:"unverified,omitempty"`
}

// check verifies bundleJSON against the genesis file's bytes at time now.
func check(bundleJSON, genesis []byte, now time.Time) *Result {
	sum := sha256.Sum256(genesis)
	res := &Result{Outcome: OutcomeFailed, GenesisSHA256: hex.EncodeToString(sum[:]), Steps: []verify.Step{}}
	doc, err := verify.ParseGenesis(genesis)
	if err != nil {
		res.FailedStep, res.Reason = verify.StepGenesis, "the genesis file does not read: "+err.Error()
		return res
	}
	res.ChainID = doc.ChainID
	b, err := verify.ParseBundle(bundleJSON)
	if err != nil {
		res.FailedStep, res.Reason = verify.StepFormat, err.Error()
		return res
	}
	rep, err := verify.VerifyBundle(b, doc, res.GenesisSHA256, now)
	if rep != nil {
		res.Steps = rep.Steps
	}
	if err != nil || rep == nil || rep.Outcome == "" {
		res.FailedStep, res.Reason = verify.StepFormat, "the verifier gave no verdict"
		var be *verify.BundleError
		switch {
		case errors.As(err, &be):
			res.FailedStep, res.Reason = be.Step, be.Err.Error()
		case err != nil:
			res.Reason = err.Error()
		}
		res.Kind, res.ID = b.Manifest.Kind, b.Manifest.ID
		return res
	}
	res.Outcome = rep.Outcome
	res.Kind, res.ID, res.Height = rep.Kind, rep.ID, rep.Height
	res.Claims, res.Value, res.Tx = rep.Claims, rep.Value, rep.Tx
	u := rep.Unverified
	res.Unverified = &u
	// The header the proof rests on: H+1 for a record (its AppHash holds
	// the state of H), H for a tx (its block holds the tx).
	if n := len(rep.Headers); n > 0 {
		h := rep.Headers[n-1]
		if rep.Tx != nil {
			h = rep.Headers[0]
		}
		res.BlockTime = h.Time
		seen := map[string]bool{}
		for _, s := range h.Signers {
			name := s.Name
			if name == "" {
				name = s.Address
			}
			if !seen[name] {
				seen[name] = true
				res.Agencies = append(res.Agencies, name)
			}
		}
		sort.Strings(res.Agencies)
	}
	return res
}
