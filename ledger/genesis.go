package ledger

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"slices"
)

// GenesisState is the app_state of the genesis document: the founding
// agencies and the chain parameters.
type GenesisState struct {
	Agencies []Agency `json:"agencies"`
	Params   Params   `json:"params"`
}

// Validate checks the genesis state: unique, valid agency ids, 32-byte keys,
// positive powers, officers with valid roles, at least one admin per agency,
// and no officer key shared between agencies.
func (g *GenesisState) Validate() error {
	if len(g.Agencies) == 0 {
		return fieldErr(ErrInvalidField, "agencies", "at least one agency")
	}
	if err := g.Params.Validate(); err != nil {
		return err
	}
	seenAgency := map[string]bool{}
	seenKey := map[string]string{}
	seenVal := map[string]string{}
	for i := range g.Agencies {
		a := &g.Agencies[i]
		f := fmt.Sprintf("agencies[%d]", i)
		if err := checkID(f+".id", a.ID); err != nil {
			return err
		}
		if seenAgency[a.ID] {
			return fieldErr(ErrAlreadyExists, f+".id", "duplicate agency %q", a.ID)
		}
		seenAgency[a.ID] = true
		if err := checkText(f+".name", a.Name, maxNameLen, true); err != nil {
			return err
		}
		if err := checkText(f+".jurisdiction", a.Jurisdiction, maxNameLen, false); err != nil {
			return err
		}
		if len(a.ValidatorKey) != ed25519.PublicKeySize {
			return fieldErr(ErrInvalidKey, f+".validator_key", "must be a 32-byte ed25519 public key")
		}
		if other, dup := seenVal[string(a.ValidatorKey)]; dup {
			return fieldErr(ErrInvalidKey, f+".validator_key", "same validator key as agency %q", other)
		}
		seenVal[string(a.ValidatorKey)] = a.ID
		if err := checkPower(f+".power", a.Power); err != nil {
			return err
		}
		if a.Joined != 0 || a.Removed != 0 {
			return fieldErr(ErrInvalidField, f, "a founding agency has no joined_height or removed_height")
		}
		if len(a.Officers) == 0 {
			return fieldErr(ErrInvalidField, f+".officers", "at least one officer")
		}
		for j := range a.Officers {
			o := &a.Officers[j]
			of := fmt.Sprintf("%s.officers[%d]", f, j)
			if len(o.Key) != ed25519.PublicKeySize {
				return fieldErr(ErrInvalidKey, of+".key", "must be a 32-byte ed25519 public key")
			}
			if other, dup := seenKey[string(o.Key)]; dup {
				return fieldErr(ErrOfficerExists, of+".key", "already an officer of %q", other)
			}
			seenKey[string(o.Key)] = a.ID
			if err := checkText(of+".name", o.Name, maxNameLen, true); err != nil {
				return err
			}
			if err := checkRoles(of+".roles", o.Roles); err != nil {
				return err
			}
		}
		if adminCount(a) == 0 {
			return fieldErr(ErrLastAdmin, f+".officers", "agency %q needs an admin officer", a.ID)
		}
	}
	return nil
}

// InitGenesis writes the genesis state: seeds every store, stores the params
// and the agencies (officers sorted by key).
func InitGenesis(kv KV, chainID string, g *GenesisState) error {
	if err := g.Validate(); err != nil {
		return err
	}
	for _, s := range StoreNames {
		seed, err := Canonical(map[string]string{"chain_id": chainID, "store": s})
		if err != nil {
			return err
		}
		if err := kv.Set(s, SeedKey, seed); err != nil {
			return fmt.Errorf("%w: %v", ErrStorage, err)
		}
	}
	b := &Block{kv: kv}
	if err := b.put(StoreMeta, KeyParams, g.Params); err != nil {
		return err
	}
	for i := range g.Agencies {
		a := g.Agencies[i]
		a.Officers = slices.Clone(a.Officers)
		slices.SortFunc(a.Officers, func(x, y Officer) int { return bytes.Compare(x.Key, y.Key) })
		if err := b.putAgency(&a); err != nil {
			return err
		}
		if err := b.set(StoreIndex, IndexValidator(a.ValidatorKey), []byte(a.ID)); err != nil {
			return err
		}
		for _, o := range a.Officers {
			if err := b.set(StoreIndex, IndexOfficer(o.Key), []byte(a.ID)); err != nil {
				return err
			}
		}
	}
	return nil
}
