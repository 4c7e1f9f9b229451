// Package genesis builds, loads and validates the chain's genesis document:
// CometBFT's genesis with the founding agencies and the chain parameters in
// app_state. The genesis validator set is derived from the agencies (their
// validator keys and powers), so the two can never disagree.
//
// It imports ledger and CometBFT types only.
package genesis

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/cometbft/cometbft/crypto/ed25519"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/verify"
)

// Build returns the CometBFT genesis document for the given agencies and
// parameters. The validators are the agencies' keys, named by agency id.
func Build(chainID string, genesisTime time.Time, state *ledger.GenesisState) (*cmttypes.GenesisDoc, error) {
	if err := state.Validate(); err != nil {
		return nil, err
	}
	appState, err := ledger.Canonical(state)
	if err != nil {
		return nil, err
	}
	doc := &cmttypes.GenesisDoc{
		GenesisTime:     genesisTime.UTC().Truncate(time.Millisecond),
		ChainID:         chainID,
		InitialHeight:   1,
		ConsensusParams: cmttypes.DefaultConsensusParams(),
		AppState:        appState,
	}
	doc.ConsensusParams.Block.MaxBytes = 8 << 20
	for _, ag := range state.Agencies {
		pk := ed25519.PubKey(ag.ValidatorKey)
		doc.Validators = append(doc.Validators, cmttypes.GenesisValidator{
			Address: pk.Address(), PubKey: pk, Power: ag.Power, Name: ag.ID,
		})
	}
	if err := doc.ValidateAndComplete(); err != nil {
		return nil, err
	}
	return doc, nil
}

// State decodes and validates the ledger state of a genesis document and
// checks that its validators are exactly the agencies' keys and powers.
func State(doc *cmttypes.GenesisDoc) (*ledger.GenesisState, error) {
	var gs ledger.GenesisState
	dec := json.NewDecoder(bytes.NewReader(doc.AppState))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&gs); err != nil {
		return nil, fmt.Errorf("genesis app_state: %w", err)
	}
	if err := gs.Validate(); err != nil {
		return nil, fmt.Errorf("genesis app_state: %w", err)
	}
	if len(doc.Validators) != len(gs.Agencies) {
		return nil, fmt.Errorf("genesis has %d validators for %d agencies", len(doc.Validators), len(gs.Agencies))
	}
	byKey := map[string]ledger.Agency{}
	for _, ag := range gs.Agencies {
		byKey[string(ag.ValidatorKey)] = ag
	}
	for _, v := range doc.Validators {
		ag, ok := byKey[string(v.PubKey.Bytes())]
		if !ok {
			return nil, fmt.Errorf("genesis validator %s is not an agency's validator key", v.Address)
		}
		if ag.Power != v.Power {
			return nil, fmt.Errorf("genesis validator of %s has power %d, agency record says %d", ag.ID, v.Power, ag.Power)
		}
	}
	return &gs, nil
}

// Load reads a genesis file, validates it and returns it with its ledger
// state.
func Load(path string) (*cmttypes.GenesisDoc, *ledger.GenesisState, error) {
	bz, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("couldn't read GenesisDoc file: %w", err)
	}
	doc, err := verify.ParseGenesis(bz)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	gs, err := State(doc)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return doc, gs, nil
}

// FileHash is the SHA-256 of a genesis file's bytes: the trust root every
// agency publishes.
func FileHash(path string) ([32]byte, error) {
	bz, err := os.ReadFile(path)
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(bz), nil
}
