package client

import (
	"context"
	"errors"
	"net"

	"github.com/cometbft/cometbft/light"
	"github.com/cometbft/cometbft/light/provider"
	rpctypes "github.com/cometbft/cometbft/rpc/jsonrpc/types"

	"github.com/civicledger/civicledger/ledger/verify"
)

// Verdict is what the error of a verification means: something was
// checked and found wrong, or nothing could be checked.
type Verdict int

const (
	// Verified: no error.
	Verified Verdict = iota
	// Failed: something was checked and found wrong: a bad proof,
	// signature or hash, a fork, a header that conflicts with one verified
	// before, a state older than one verified before, a proved value that is
	// not the record asked for, chain parameters proved absent or unknown, a
	// disclosure that does not match its commitment or its records.
	Failed
	// NotVerified: nothing could be checked: no trust root, nodes or
	// witnesses that did not answer (or not in time), or any other error.
	NotVerified
)

// String is the verdict as reports print it.
func (v Verdict) String() string {
	switch v {
	case Verified:
		return "VERIFIED"
	case Failed:
		return "FAILED"
	}
	return "NOT VERIFIED"
}

// VerdictOf classifies the error of a verification (Verifier's methods,
// NewVerifier, InitTrustFromGenesis).
func VerdictOf(err error) Verdict {
	if err == nil {
		return Verified
	}
	var fe *ForkError
	if errors.As(err, &fe) || errors.Is(err, ErrConflictWithPast) || errors.Is(err, ErrOlderThanVerified) || errors.Is(err, light.ErrLightClientAttack) {
		return Failed
	}
	// A header the light client could not verify because nobody answered is
	// not a bad header.
	var ne net.Error
	var re *rpctypes.RPCError
	switch {
	case errors.Is(err, ErrNoTrust), errors.Is(err, ErrNoWitnessAnswered), errors.Is(err, ErrWitnessFailed), errors.Is(err, ErrPrimaryBehind),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, light.ErrNoWitnesses), errors.Is(err, light.ErrFailedHeaderCrossReferencing),
		errors.Is(err, provider.ErrNoResponse), errors.Is(err, provider.ErrLightBlockNotFound),
		errors.Is(err, provider.ErrHeightTooHigh), errors.As(err, &ne), errors.As(err, &re):
		return NotVerified
	}
	var bad provider.ErrBadLightBlock
	if errors.Is(err, verify.ErrHeader) || errors.Is(err, verify.ErrProof) || errors.Is(err, verify.ErrTx) ||
		errors.Is(err, ErrRecordMismatch) || errors.Is(err, ErrDisclosureMismatch) || errors.Is(err, ErrParamsAbsent) || errors.Is(err, ErrUnknownParams) || errors.As(err, &bad) {
		return Failed
	}
	return NotVerified
}

// ExportOutcome is what the error of an evidence-bundle export means.
type ExportOutcome int

const (
	// Exported: no error.
	Exported ExportOutcome = iota
	// ExportFailed: what the node served failed verification (as Failed),
	// the bundle did not verify, or the node refused or answered with an
	// error.
	ExportFailed
	// ExportUnavailable: nothing to export from: no trust root, a
	// checkpoint root (a bundle needs the genesis file), an unknown tx, or a
	// node without a tx index.
	ExportUnavailable
	// ExportUnreachable: the node or the witnesses did not answer, or not
	// in time, or any other error.
	ExportUnreachable
)

// ExportOutcomeOf classifies the error of Verifier.ExportRecord or ExportTx.
func ExportOutcomeOf(err error) ExportOutcome {
	var fe *ForkError
	var re *rpctypes.RPCError
	switch {
	case err == nil:
		return Exported
	case errors.Is(err, ErrNoTrust), errors.Is(err, ErrCheckpointRoot), errors.Is(err, ErrTxNotFound), errors.Is(err, ErrNoTxIndex):
		return ExportUnavailable
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return ExportUnreachable
	case errors.As(err, &fe), errors.Is(err, ErrConflictWithPast), errors.Is(err, light.ErrLightClientAttack),
		errors.Is(err, verify.ErrHeader), errors.Is(err, verify.ErrProof), errors.Is(err, verify.ErrTx),
		errors.Is(err, verify.ErrBundle), errors.Is(err, ErrNodeRefused), errors.As(err, &re):
		return ExportFailed
	}
	return ExportUnreachable
}

// SetupStep names the step at which NewVerifier failed with err (it loads
// the trust root, asks the primary for its status, cross-checks the root
// header and starts the light client from it): the witnesses for a fork,
// the trust root when there is none or its header does not verify, else
// the query of the primary.
func SetupStep(err error) string {
	var fe *ForkError
	switch {
	case errors.As(err, &fe):
		return StepWitnesses
	case errors.Is(err, ErrNoTrust), errors.Is(err, verify.ErrHeader):
		return StepTrustRoot
	}
	return StepQuery
}
