package verify

import (
	"bytes"
	"errors"
	"fmt"

	cmtcrypto "github.com/cometbft/cometbft/proto/tendermint/crypto"
	ics23 "github.com/cosmos/ics23/go"
)

// Proof op types.
const (
	OpIAVL   = "ics23:iavl"
	OpSimple = "ics23:simple"
)

// ErrProof is wrapped by every proof verification failure.
var ErrProof = errors.New("proof verification failed")

// ProofError says which step of a proof failed.
type ProofError struct {
	Step   string // "op0", "op1", "shape"
	Reason string
}

// Error names the failing proof op by its place and type: op 0 proves the
// key in its store's IAVL tree, op 1 the store's root in the AppHash.
func (e *ProofError) Error() string {
	switch e.Step {
	case "op0":
		return fmt.Sprintf("proof op 0 (%s: the key in its store): %s", OpIAVL, e.Reason)
	case "op1":
		return fmt.Sprintf("proof op 1 (%s: the store's root in the AppHash): %s", OpSimple, e.Reason)
	}
	return fmt.Sprintf("proof %s: %s", e.Step, e.Reason)
}
func (e *ProofError) Unwrap() error { return ErrProof }

func fail(step, format string, args ...any) error {
	return &ProofError{Step: step, Reason: fmt.Sprintf(format, args...)}
}

// StoreValue verifies that, in the state whose AppHash is appHash, key in
// store has value value — or, if value is nil, that key is absent. ops are
// the two proof ops of a "/store/<store>/key" query (see the package doc).
// It returns the store's root hash on success.
func StoreValue(appHash []byte, store string, key, value []byte, ops []cmtcrypto.ProofOp) ([]byte, error) {
	if len(ops) != 2 {
		return nil, fail("shape", "want 2 proof ops, got %d", len(ops))
	}
	if ops[0].Type != OpIAVL || !bytes.Equal(ops[0].Key, key) {
		return nil, fail("shape", "op 0 must be %s for key %q, got %s for %q", OpIAVL, key, ops[0].Type, ops[0].Key)
	}
	if ops[1].Type != OpSimple || string(ops[1].Key) != store {
		return nil, fail("shape", "op 1 must be %s for store %q, got %s for %q", OpSimple, store, ops[1].Type, ops[1].Key)
	}
	var p0, p1 ics23.CommitmentProof
	if err := p0.Unmarshal(ops[0].Data); err != nil {
		return nil, fail("op0", "undecodable commitment proof: %v", err)
	}
	if err := p1.Unmarshal(ops[1].Data); err != nil {
		return nil, fail("op1", "undecodable commitment proof: %v", err)
	}
	root, err := p0.Calculate()
	if err != nil {
		return nil, fail("op0", "cannot compute store root: %v", err)
	}
	if value != nil {
		if p0.GetExist() == nil {
			return nil, fail("op0", "value given but op 0 is not a membership proof")
		}
		if !ics23.VerifyMembership(ics23.IavlSpec, root, &p0, key, value) {
			return nil, fail("op0", "membership of key %q with the given value does not verify", key)
		}
	} else {
		if p0.GetNonexist() == nil {
			return nil, fail("op0", "key claimed absent but op 0 is not a non-membership proof")
		}
		if !ics23.VerifyNonMembership(ics23.IavlSpec, root, &p0, key) {
			return nil, fail("op0", "non-membership of key %q does not verify", key)
		}
	}
	if p1.GetExist() == nil {
		return nil, fail("op1", "op 1 is not a membership proof")
	}
	if !ics23.VerifyMembership(ics23.TendermintSpec, appHash, &p1, []byte(store), root) {
		return nil, fail("op1", "store %q root %X is not committed under AppHash %X", store, []byte(root), appHash)
	}
	return root, nil
}
