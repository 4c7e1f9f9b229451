package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/civicledger/civicledger/ledger/verify"
)

// ErrNotTrustedChain is returned when a node's header at the trust root's
// height is not the trust root: the node serves another chain under the same
// chain id, either restarted from a new genesis file (every demo run makes
// one) or a fork.
var ErrNotTrustedChain = errors.New("the node does not serve the trusted chain")

// RootMismatchError says how a node's chain differs from the trusted one. It
// is a header verification failure (errors.Is verify.ErrHeader) and
// ErrNotTrustedChain. What the node says of its genesis is its word only: it
// explains the mismatch (and how to recover from a restart) but proves
// nothing.
type RootMismatchError struct {
	ChainID     string `json:"chain_id"`
	Height      int64  `json:"height"`         // the trust root's height
	NodeHeader  string `json:"node_header"`    // the node's header hash at Height
	TrustedRoot string `json:"trusted_header"` // the trust root's hash
	Checkpoint  bool   `json:"checkpoint"`     // the root is a checkpoint header, not a genesis file
	// Restarted: the trust root is a genesis file and the node reports
	// another genesis (genesis time, initial height or validators differ):
	// the chain was restarted from a new genesis file.
	Restarted          bool      `json:"restarted"`
	NodeGenesisTime    time.Time `json:"node_genesis_time,omitzero"`
	TrustedGenesisTime time.Time `json:"trusted_genesis_time,omitzero"` // genesis roots only
}

func (e *RootMismatchError) Error() string {
	s := fmt.Sprintf("%v: header %d of chain %s: the node's is %s, the trust root is %s: %v",
		verify.ErrHeader, e.Height, e.ChainID, e.NodeHeader, e.TrustedRoot, ErrNotTrustedChain)
	if e.Restarted {
		s += fmt.Sprintf("; the node reports another genesis (created %s; the trusted one was created %s): the chain was restarted from a new genesis file",
			e.NodeGenesisTime.UTC().Format(time.RFC3339), e.TrustedGenesisTime.UTC().Format(time.RFC3339))
	}
	return s
}

func (e *RootMismatchError) Unwrap() []error { return []error{ErrNotTrustedChain, verify.ErrHeader} }

// rootMismatch describes a node whose header at the root's height is got.
// It asks the node for its genesis and compares it with the trusted genesis
// file, if the root is one; a node that does not answer leaves Restarted
// false.
func rootMismatch(ctx context.Context, c *Client, home string, ts *TrustState, got *cmttypes.LightBlock) *RootMismatchError {
	e := &RootMismatchError{ChainID: ts.ChainID, Height: ts.Root.Height, NodeHeader: fmt.Sprintf("%X", got.Hash()), TrustedRoot: ts.Root.Hash, Checkpoint: ts.GenesisSHA256 == ""}
	res, err := c.RPC().Genesis(ctx)
	if err != nil || res.Genesis == nil {
		return e
	}
	node := res.Genesis
	e.NodeGenesisTime = node.GenesisTime
	if e.Checkpoint {
		return e
	}
	gp, err := GenesisPath(home, ts.ChainID)
	if err != nil {
		return e
	}
	trusted, _, err := LoadGenesisFile(gp)
	if err != nil {
		return e
	}
	e.TrustedGenesisTime = trusted.GenesisTime
	e.Restarted = !node.GenesisTime.Equal(trusted.GenesisTime) || node.InitialHeight != trusted.InitialHeight || !sameValidators(node.Validators, trusted.Validators)
	return e
}

func sameValidators(a, b []cmttypes.GenesisValidator) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Power != b[i].Power || !bytes.Equal(a[i].PubKey.Bytes(), b[i].PubKey.Bytes()) {
			return false
		}
	}
	return true
}
