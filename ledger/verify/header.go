package verify

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/cometbft/cometbft/crypto/ed25519"
	cmttypes "github.com/cometbft/cometbft/types"
)

// ErrHeader is wrapped by every header (light client) verification failure.
var ErrHeader = errors.New("header verification failed")

// HeaderError says which check of which header failed.
type HeaderError struct {
	Height int64
	Reason string
}

func (e *HeaderError) Error() string { return fmt.Sprintf("header %d: %s", e.Height, e.Reason) }
func (e *HeaderError) Unwrap() error { return ErrHeader }

func headerErr(h int64, format string, args ...any) error {
	return &HeaderError{Height: h, Reason: fmt.Sprintf(format, args...)}
}

// TrustingPeriod is how long a verified header may serve as the base for
// verifying later ones. CometBFT's default (two weeks) exists to bound
// long-range attacks by unbonded proof-of-stake validators; on this
// permissioned chain validator keys change only by the agencies' governance,
// and Next never lets a validator set vouch for a header outside its own era
// (see Next), so verification from the genesis file keeps working for the
// life of the chain. A trusted checkpoint is the way to shorten it.
const TrustingPeriod = 100 * 365 * 24 * time.Hour

// MaxClockDrift bounds how far in the future a header's time may be.
const MaxClockDrift = 10 * time.Minute

// GenesisValidators returns the validator set of a genesis document.
func GenesisValidators(doc *cmttypes.GenesisDoc) (*cmttypes.ValidatorSet, error) {
	if len(doc.Validators) == 0 {
		return nil, errors.New("genesis has no validators")
	}
	vals := make([]*cmttypes.Validator, len(doc.Validators))
	for i, v := range doc.Validators {
		pk, ok := v.PubKey.(ed25519.PubKey)
		if !ok {
			return nil, fmt.Errorf("genesis validator %d: not an ed25519 key", i)
		}
		vals[i] = cmttypes.NewValidator(pk, v.Power)
	}
	return cmttypes.ValidatorSetFromExistingValidators(vals)
}

// FirstBlock checks the chain's first light block against the genesis
// document alone: same chain id, the initial height, a validator set equal
// to the genesis validators, and a commit signed by more than 2/3 of their
// power. A light block that passes can serve as the trust root.
func FirstBlock(doc *cmttypes.GenesisDoc, lb *cmttypes.LightBlock) error {
	if lb == nil || lb.SignedHeader == nil || lb.ValidatorSet == nil {
		return headerErr(0, "missing light block")
	}
	h := lb.Height
	if lb.ChainID != doc.ChainID {
		return headerErr(h, "chain id %q, genesis says %q", lb.ChainID, doc.ChainID)
	}
	if h != doc.InitialHeight {
		return headerErr(h, "first block must have the genesis initial height %d", doc.InitialHeight)
	}
	if err := lb.ValidateBasic(doc.ChainID); err != nil {
		return headerErr(h, "malformed: %v", err)
	}
	gv, err := GenesisValidators(doc)
	if err != nil {
		return headerErr(h, "%v", err)
	}
	if !bytes.Equal(gv.Hash(), lb.ValidatorsHash) || !bytes.Equal(gv.Hash(), lb.ValidatorSet.Hash()) {
		return headerErr(h, "validator set %X is not the genesis validator set %X", lb.ValidatorsHash, gv.Hash())
	}
	// All signatures, not only the first > 2/3 (VerifyCommitLight stops
	// there): CommitSigners names every signer of a verified commit.
	if err := gv.VerifyCommitLightAllSignatures(doc.ChainID, lb.Commit.BlockID, h, lb.Commit); err != nil {
		return headerErr(h, "not signed by more than 2/3 of the genesis validators: %s", commitProblem(doc.ChainID, gv, lb.Commit, err))
	}
	return nil
}

// Next verifies untrusted from trusted. The rules are CometBFT's light
// client's, made stricter so that keys a validator set no longer holds can
// never vouch for a header outside that set's own era (a run of headers with
// one validator set):
//
//   - the trusted header must be younger than TrustingPeriod; the untrusted
//     one must be well formed, later in height and time, not from the future
//     (beyond MaxClockDrift of now) and carry the validator set its header
//     names;
//   - an adjacent header (height + 1) must name the validator set the trusted
//     header announced (NextValidatorsHash) and be signed by more than 2/3 of
//     it: this is the only step that crosses a change of validator set, so a
//     new set is accepted only when more than 2/3 of the previous set signed
//     the block that committed it;
//   - a header further ahead must be in the trusted header's era: the
//     trusted header announces no change (NextValidatorsHash equals its
//     ValidatorsHash) and the untrusted one has the same validator set,
//     signed by more than 2/3 of its power. Where the set changed in between,
//     verification must go through the last header of each era and the
//     first of the next (BundleChain finds them by bisection).
//
// CometBFT's skipping rule (more than 1/3 of the trusted set) is not used:
// it would let a third of a retired set's keys sign a header with a
// validator set of their choosing, at any height, forever.
//
// Every signature of the untrusted commit is checked, not only the first
// > 2/3 (CommitSigners names every signer of a verified commit). now is the
// verifier's clock.
func Next(trusted, untrusted *cmttypes.LightBlock, now time.Time) error {
	if untrusted == nil || untrusted.SignedHeader == nil || untrusted.ValidatorSet == nil {
		return headerErr(0, "missing light block")
	}
	th, uh := trusted.SignedHeader, untrusted.SignedHeader
	h := uh.Height
	switch {
	case h <= th.Height:
		return headerErr(h, "not above the trusted height %d", th.Height)
	case !th.Time.Add(TrustingPeriod).After(now):
		return headerErr(h, "the trusted header %d expired at %v", th.Height, th.Time.Add(TrustingPeriod))
	}
	if err := untrusted.ValidateBasic(th.ChainID); err != nil {
		return headerErr(h, "malformed: %v", err)
	}
	switch {
	case !uh.Time.After(th.Time):
		return headerErr(h, "time %v is not after the trusted header's %v", uh.Time, th.Time)
	case !uh.Time.Before(now.Add(MaxClockDrift)):
		return headerErr(h, "time %v is in the future (now %v)", uh.Time, now)
	case !bytes.Equal(uh.ValidatorsHash, untrusted.ValidatorSet.Hash()):
		return headerErr(h, "validator set %X is not the one the header names (%X)", untrusted.ValidatorSet.Hash(), uh.ValidatorsHash)
	}
	if h == th.Height+1 {
		if !bytes.Equal(uh.ValidatorsHash, th.NextValidatorsHash) {
			return headerErr(h, "validator set %X is not the one header %d announced (%X)", uh.ValidatorsHash, th.Height, th.NextValidatorsHash)
		}
	} else {
		switch {
		case !bytes.Equal(th.NextValidatorsHash, th.ValidatorsHash):
			return headerErr(h, "the trusted header %d announces a new validator set (%X): a change of validator set is verified only adjacently, from header %d to %d",
				th.Height, []byte(th.NextValidatorsHash), th.Height, th.Height+1)
		case !bytes.Equal(uh.ValidatorsHash, th.ValidatorsHash):
			return headerErr(h, "validator set %X is not the trusted header %d's (%X): a change of validator set is verified only adjacently, never skipped across",
				[]byte(uh.ValidatorsHash), th.Height, []byte(th.ValidatorsHash))
		}
	}
	if err := untrusted.ValidatorSet.VerifyCommitLightAllSignatures(th.ChainID, uh.Commit.BlockID, h, uh.Commit); err != nil {
		return headerErr(h, "not signed by more than 2/3 of its validators: %s", commitProblem(th.ChainID, untrusted.ValidatorSet, uh.Commit, err))
	}
	return nil
}

// commitProblem says why a commit failed verification against vals: which
// validator's signature does not verify, and why, in place of CometBFT's
// message, which prints the signature's bytes or a Go value. Failures that
// are not one signature's (a wrong block id, too little power) keep
// CometBFT's message.
func commitProblem(chainID string, vals *cmttypes.ValidatorSet, c *cmttypes.Commit, err error) string {
	if vals == nil || c == nil || len(c.Signatures) != vals.Size() {
		return err.Error()
	}
	for i, cs := range c.Signatures {
		if cs.BlockIDFlag == cmttypes.BlockIDFlagAbsent {
			continue
		}
		_, val := vals.GetByIndex(int32(i))
		if val == nil || val.PubKey == nil {
			continue
		}
		who := fmt.Sprintf("validator %d of %d (address %X, power %d)", i, vals.Size(), []byte(val.Address), val.VotingPower)
		switch {
		case !bytes.Equal(cs.ValidatorAddress, val.Address):
			return fmt.Sprintf("signature %d of the commit names address %X, but %s holds that place in the validator set", i, []byte(cs.ValidatorAddress), who)
		case len(cs.Signature) == 0:
			return fmt.Sprintf("%s: the commit marks it as signing, with no signature", who)
		case !val.PubKey.VerifySignature(c.VoteSignBytes(chainID, int32(i)), cs.Signature):
			return fmt.Sprintf("%s: its signature does not verify against its public key for this block of chain %s (forged, altered, or made for another block or chain)", who, chainID)
		}
	}
	return err.Error()
}

// Chain verifies blocks in strictly ascending height order, each from the
// previous one (the first from trusted), and returns the last. A block at a
// height already verified (or repeated) is refused: it was never checked,
// and nothing may be read from it.
func Chain(trusted *cmttypes.LightBlock, blocks []*cmttypes.LightBlock, now time.Time) (*cmttypes.LightBlock, error) {
	cur := trusted
	for _, lb := range blocks {
		if err := Next(cur, lb, now); err != nil {
			return nil, err
		}
		cur = lb
	}
	return cur, nil
}

// Signer is a validator that signed a commit.
type Signer struct {
	Address string `json:"address"`
	Name    string `json:"name,omitempty"` // the agency, where known
	Power   int64  `json:"power"`
}

// CommitSigners returns the validators of vals whose signature for the block
// is in commit (signatures are not re-checked here: FirstBlock and Next
// check every signature of the commits they accept),
// with names from names (validator address hex → agency id).
func CommitSigners(vals *cmttypes.ValidatorSet, commit *cmttypes.Commit, names map[string]string) []Signer {
	var out []Signer
	for _, cs := range commit.Signatures {
		if cs.BlockIDFlag != cmttypes.BlockIDFlagCommit {
			continue
		}
		_, v := vals.GetByAddress(cs.ValidatorAddress)
		if v == nil {
			continue
		}
		addr := v.Address.String()
		out = append(out, Signer{Address: addr, Name: names[addr], Power: v.VotingPower})
	}
	return out
}

// SignedBy returns the validators of vals whose signature in commit for the
// block at the commit's height verifies, each checked here (unlike
// CommitSigners it trusts nothing about the commit), with names from names.
func SignedBy(chainID string, vals *cmttypes.ValidatorSet, commit *cmttypes.Commit, names map[string]string) []Signer {
	var out []Signer
	for idx, cs := range commit.Signatures {
		if cs.BlockIDFlag != cmttypes.BlockIDFlagCommit {
			continue
		}
		_, v := vals.GetByAddress(cs.ValidatorAddress)
		if v == nil || !v.PubKey.VerifySignature(commit.VoteSignBytes(chainID, int32(idx)), cs.Signature) {
			continue
		}
		addr := v.Address.String()
		out = append(out, Signer{Address: addr, Name: names[addr], Power: v.VotingPower})
	}
	return out
}
