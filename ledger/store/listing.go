package store

import (
	"bytes"
	"fmt"

	ics23 "github.com/cosmos/ics23/go"
)

// RangeProof proves which keys of one store lie in [Start, End): Keys and
// Values are the entries found (at most the limit asked), and Proof is an
// ics23 compressed batch of NonExistenceProofs (IavlSpec), one for Start and
// one for each entry key followed by a zero byte, in that order:
//
//   - the proof for Start (an absent key) names as its right neighbour the
//     first key at or after Start: nothing lies between Start and it;
//   - the proof for key+"\x00" names key as its left neighbour and the next
//     key of the tree as its right one: the two are adjacent leaves.
//
// The right neighbour in the last proof is the first key after the page: at
// or beyond End (or none) when the range holds nothing more. Every entry's
// existence proof is inside these, so the page needs no other proof.
// StoreProof proves the store's root under the AppHash (TendermintSpec).
type RangeProof struct {
	Keys, Values [][]byte
	Proof        *ics23.CommitmentProof
	StoreProof   *ics23.CommitmentProof
}

// RangeProof builds the proof of the first limit keys of store in [start,
// end) (end nil: to the end of the store). start must be absent from the
// store: keys in the range are then strictly greater than it.
func (v *View) RangeProof(store string, start, end []byte, limit int) (*RangeProof, error) {
	t, ok := v.trees[store]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownStore, store)
	}
	if limit < 1 {
		return nil, fmt.Errorf("range proof: limit %d", limit)
	}
	idx, val, err := t.GetWithIndex(start)
	if err != nil {
		return nil, err
	}
	if val != nil {
		return nil, fmt.Errorf("range proof: start key %q exists", start)
	}
	exist := func(key []byte) (*ics23.ExistenceProof, error) {
		p, err := t.GetMembershipProof(key)
		if err != nil {
			return nil, fmt.Errorf("iavl proof of %q: %w", key, err)
		}
		return p.GetExist(), nil
	}
	var left *ics23.ExistenceProof
	if idx >= 1 {
		k, _, err := t.GetByIndex(idx - 1)
		if err != nil {
			return nil, err
		}
		if left, err = exist(k); err != nil {
			return nil, err
		}
	}
	rp := &RangeProof{}
	var entries []*ics23.BatchEntry
	key := start
	for i := idx; ; i++ {
		k, value, err := t.GetByIndex(i)
		if err != nil {
			return nil, err
		}
		var right *ics23.ExistenceProof
		if k != nil {
			if right, err = exist(k); err != nil {
				return nil, err
			}
		}
		entries = append(entries, &ics23.BatchEntry{Proof: &ics23.BatchEntry_Nonexist{
			Nonexist: &ics23.NonExistenceProof{Key: key, Left: left, Right: right}}})
		if k == nil || (end != nil && bytes.Compare(k, end) >= 0) || len(rp.Keys) == limit {
			break
		}
		rp.Keys = append(rp.Keys, k)
		rp.Values = append(rp.Values, value)
		key, left = append(bytes.Clone(k), 0), right
	}
	rp.Proof = ics23.Compress(&ics23.CommitmentProof{Proof: &ics23.CommitmentProof_Batch{Batch: &ics23.BatchProof{Entries: entries}}})
	if rp.StoreProof, err = v.storeProof(store); err != nil {
		return nil, err
	}
	return rp, nil
}

// BatchProof proves the values of keys (all present) in store: an ics23
// compressed batch of ExistenceProofs (IavlSpec), in the order of keys, and
// the store's root under the AppHash.
func (v *View) BatchProof(store string, keys [][]byte) (values [][]byte, proof, storeProof *ics23.CommitmentProof, err error) {
	t, ok := v.trees[store]
	if !ok {
		return nil, nil, nil, fmt.Errorf("%w %q", ErrUnknownStore, store)
	}
	entries := make([]*ics23.BatchEntry, 0, len(keys))
	for _, k := range keys {
		p, err := t.GetMembershipProof(k)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("iavl proof of %q: %w", k, err)
		}
		values = append(values, p.GetExist().Value)
		entries = append(entries, &ics23.BatchEntry{Proof: &ics23.BatchEntry_Exist{Exist: p.GetExist()}})
	}
	proof = ics23.Compress(&ics23.CommitmentProof{Proof: &ics23.CommitmentProof_Batch{Batch: &ics23.BatchProof{Entries: entries}}})
	if storeProof, err = v.storeProof(store); err != nil {
		return nil, nil, nil, err
	}
	return values, proof, storeProof, nil
}

// storeProof proves the root of store under the view's AppHash.
func (v *View) storeProof(store string) (*ics23.CommitmentProof, error) {
	roots := make([][]byte, len(v.names))
	idx := -1
	for i, n := range v.names {
		roots[i] = v.trees[n].Hash()
		if n == store {
			idx = i
		}
	}
	return StoreProof(v.names, roots, idx)
}
