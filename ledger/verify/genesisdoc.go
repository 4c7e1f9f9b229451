package verify

import (
	"encoding/json"
	"fmt"

	"github.com/cometbft/cometbft/crypto/ed25519"
	cmttypes "github.com/cometbft/cometbft/types"
)

// ParseGenesis decodes and validates a genesis file's bytes, as CometBFT's
// GenesisDocFromJSON does, but returns an error where that function panics:
// ValidateAndComplete derives each validator's address from its public key,
// which panics when a validator has no key, and CometBFT's ed25519 key
// panics on a key that is not 32 bytes long. A
// genesis file is the trust root a journalist is handed, and may be hostile
// or damaged: reading it must fail cleanly.
func ParseGenesis(bz []byte) (doc *cmttypes.GenesisDoc, err error) {
	var raw struct {
		Validators []struct {
			PubKey struct {
				Type  string `json:"type"`
				Value []byte `json:"value"`
			} `json:"pub_key"`
		} `json:"validators"`
	}
	// A file that does not decode here is left to CometBFT's decoder, whose
	// error names the problem.
	if json.Unmarshal(bz, &raw) == nil {
		for i, v := range raw.Validators {
			switch {
			case v.PubKey.Type == "":
				return nil, fmt.Errorf("genesis validator %d: no pub_key", i)
			case v.PubKey.Type == ed25519.PubKeyName && len(v.PubKey.Value) != ed25519.PubKeySize:
				return nil, fmt.Errorf("genesis validator %d: ed25519 public key of %d bytes, want %d", i, len(v.PubKey.Value), ed25519.PubKeySize)
			}
		}
	}
	defer func() {
		if r := recover(); r != nil {
			doc, err = nil, fmt.Errorf("invalid genesis file: %v", r)
		}
	}()
	return cmttypes.GenesisDocFromJSON(bz)
}
