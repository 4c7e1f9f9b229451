package client_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/ledger/verify"
)

func TestVerdictOf(t *testing.T) {
	_, mismatch := client.MatchStep("grant", "G-2", "G-1")
	cases := []struct {
		name string
		err  error
		want client.Verdict
	}{
		{"nil", nil, client.Verified},
		{"bad proof", fmt.Errorf("op 0: %w", verify.ErrProof), client.Failed},
		{"bad header", verify.ErrHeader, client.Failed},
		{"conflict with the past", client.ErrConflictWithPast, client.Failed},
		{"older than verified", client.ErrOlderThanVerified, client.Failed},
		{"another record", mismatch, client.Failed},
		{"no trust root", fmt.Errorf("chain x: %w", client.ErrNoTrust), client.NotVerified},
		{"timeout", context.DeadlineExceeded, client.NotVerified},
		{"no witness answered", client.ErrNoWitnessAnswered, client.NotVerified},
		{"anything else", errors.New("boom"), client.NotVerified},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := client.VerdictOf(c.err); got != c.want {
				t.Fatalf("VerdictOf(%v) = %v, want %v", c.err, got, c.want)
			}
		})
	}
}

func TestExportOutcomeOf(t *testing.T) {
	cases := []struct {
		err  error
		want client.ExportOutcome
	}{
		{nil, client.Exported},
		{client.ErrCheckpointRoot, client.ExportUnavailable},
		{client.ErrTxNotFound, client.ExportUnavailable},
		{context.Canceled, client.ExportUnreachable},
		{verify.ErrBundle, client.ExportFailed},
		{errors.New("connection refused"), client.ExportUnreachable},
	}
	for _, c := range cases {
		if got := client.ExportOutcomeOf(c.err); got != c.want {
			t.Errorf("ExportOutcomeOf(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

func TestMatchStep(t *testing.T) {
	if s, err := client.MatchStep("grant", "G-1", "G-1"); err != nil || !s.OK || s.Name != "record" {
		t.Fatalf("same id: %+v %v", s, err)
	}
	s, err := client.MatchStep("grant", "G-2", "G-1")
	if !errors.Is(err, client.ErrRecordMismatch) || s.OK || s.Detail != err.Error() {
		t.Fatalf("another id: %+v %v", s, err)
	}
}

func TestSetupStep(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{&client.ForkError{}, client.StepWitnesses},
		{fmt.Errorf("chain x: %w", client.ErrNoTrust), client.StepTrustRoot},
		{fmt.Errorf("root: %w", verify.ErrHeader), client.StepTrustRoot},
		{errors.New("connection refused"), client.StepQuery},
	}
	for _, c := range cases {
		if got := client.SetupStep(c.err); got != c.want {
			t.Errorf("SetupStep(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
