package verify

import (
	"bytes"
	"encoding/json"

	ics23 "github.com/cosmos/ics23/go"

	"github.com/civicledger/civicledger/ledger"
)

// KV is one verified entry of a store.
type KV struct {
	Key, Value []byte
}

// VerifyRange verifies that entries are, in order, the first keys of store
// in [start, end) (end nil: to the end of the store) in the state whose
// AppHash is appHash, with nothing left out before or between them. start
// must be a key absent from the store. rangeProof and storeProof are the
// proofs a node serves for a page (ledger.ProvedPage: Range and
// RangeStore). more is true when the range holds a key after the last entry:
// the page is complete up to its last entry only, and the next page starts
// after it.
func VerifyRange(appHash []byte, store string, start, end, rangeProof, storeProof []byte) (entries []KV, more bool, err error) {
	defer func() {
		// ics23's neighbour checks index into proof paths: a hostile proof
		// must give an error, never a panic.
		if r := recover(); r != nil {
			entries, more, err = nil, false, fail("range", "malformed proof: %v", r)
		}
	}()
	var p ics23.CommitmentProof
	if err := p.Unmarshal(rangeProof); err != nil {
		return nil, false, fail("range", "undecodable commitment proof: %v", err)
	}
	batch := ics23.Decompress(&p).GetBatch()
	if batch == nil || len(batch.Entries) == 0 {
		return nil, false, fail("range", "not a batch of non-existence proofs")
	}
	proofs := make([]*ics23.NonExistenceProof, len(batch.Entries))
	for i, e := range batch.Entries {
		if proofs[i] = e.GetNonexist(); proofs[i] == nil {
			return nil, false, fail("range", "entry %d is not a non-existence proof", i)
		}
	}
	root, err := rangeRoot(proofs[0])
	if err != nil {
		return nil, false, err
	}
	if err := storeRoot(appHash, store, root, storeProof, "range store"); err != nil {
		return nil, false, err
	}
	inRange := func(k []byte) bool { return end == nil || bytes.Compare(k, end) < 0 }
	key := start
	for i, np := range proofs {
		if !bytes.Equal(np.Key, key) {
			if i == 0 {
				return nil, false, fail("range", "the first proof is for key %q, not the page's start %q", np.Key, key)
			}
			return nil, false, fail("range", "entry %q has no proof of what follows it (the next proof is for %q): an entry was left out", entries[i-1].Key, np.Key)
		}
		if i > 0 && (np.Left == nil || !bytes.Equal(np.Left.Key, entries[i-1].Key)) {
			return nil, false, fail("range", "proof %d does not start at entry %q", i, entries[i-1].Key)
		}
		if err := np.Verify(ics23.IavlSpec, root, key); err != nil {
			if i == 0 {
				return nil, false, fail("range", "nothing-before-the-first-entry proof for %q: %v", key, err)
			}
			return nil, false, fail("range", "adjacency proof after %q: %v", entries[i-1].Key, err)
		}
		r := np.Right
		if r == nil || !inRange(r.Key) {
			if i != len(proofs)-1 {
				return nil, false, fail("range", "%d proofs after the end of the range", len(proofs)-1-i)
			}
			return entries, false, nil
		}
		if i == len(proofs)-1 {
			// r is in the range but not on the page.
			return entries, true, nil
		}
		entries = append(entries, KV{Key: bytes.Clone(r.Key), Value: bytes.Clone(r.Value)})
		key = append(bytes.Clone(r.Key), 0)
	}
	return entries, false, nil // not reached: the loop returns at its last proof
}

// rangeRoot computes the store root a non-existence proof commits to.
func rangeRoot(np *ics23.NonExistenceProof) ([]byte, error) {
	ex := np.Left
	if ex == nil {
		ex = np.Right
	}
	if ex == nil {
		return nil, fail("range", "a non-existence proof without neighbours")
	}
	root, err := ex.Calculate()
	if err != nil {
		return nil, fail("range", "cannot compute the store root: %v", err)
	}
	return root, nil
}

// storeRoot verifies that store has root root under appHash.
func storeRoot(appHash []byte, store string, root, storeProof []byte, step string) error {
	var sp ics23.CommitmentProof
	if err := sp.Unmarshal(storeProof); err != nil {
		return fail(step, "undecodable commitment proof: %v", err)
	}
	if sp.GetExist() == nil {
		return fail(step, "not a membership proof")
	}
	if !ics23.VerifyMembership(ics23.TendermintSpec, appHash, &sp, []byte(store), root) {
		return fail(step, "store %q root %X is not committed under AppHash %X", store, root, appHash)
	}
	return nil
}

// VerifyBatch verifies that each of keys is present in store, in the state
// whose AppHash is appHash, and returns their values in order. proof is an
// ics23 batch (compressed or not) of existence proofs in the order of keys;
// storeProof proves the store's root.
func VerifyBatch(appHash []byte, store string, keys [][]byte, proof, storeProof []byte) (values [][]byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			values, err = nil, fail("records", "malformed proof: %v", r)
		}
	}()
	var p ics23.CommitmentProof
	if err := p.Unmarshal(proof); err != nil {
		return nil, fail("records", "undecodable commitment proof: %v", err)
	}
	batch := ics23.Decompress(&p).GetBatch()
	if batch == nil || len(batch.Entries) != len(keys) {
		return nil, fail("records", "want a batch of %d existence proofs", len(keys))
	}
	var root []byte
	for i, e := range batch.Entries {
		ex := e.GetExist()
		if ex == nil || !bytes.Equal(ex.Key, keys[i]) {
			return nil, fail("records", "entry %d is not the existence proof of key %q", i, keys[i])
		}
		if root == nil {
			if root, err = ex.Calculate(); err != nil {
				return nil, fail("records", "cannot compute the store root: %v", err)
			}
			if err := storeRoot(appHash, store, root, storeProof, "record store"); err != nil {
				return nil, err
			}
		}
		if err := ex.Verify(ics23.IavlSpec, root, keys[i], ex.Value); err != nil {
			return nil, fail("records", "key %q: %v", keys[i], err)
		}
		values = append(values, ex.Value)
	}
	return values, nil
}

// ListedRecord is one verified entry of a listing.
type ListedRecord struct {
	ID string `json:"id"`
	// Index is the index entry's value (the record's status) for index
	// listings; empty for the agencies listing.
	Index  string          `json:"index,omitempty"`
	Record json.RawMessage `json:"record"`
}

// Listing is a verified page of a listing.
type Listing struct {
	Listing string         `json:"listing"`
	Owner   string         `json:"owner,omitempty"`
	After   string         `json:"after,omitempty"`
	Height  int64          `json:"height"` // state height H, committed in header H+1
	Entries []ListedRecord `json:"entries"`
	// Complete: no id of the listing lies after the last entry; otherwise
	// the listing is proved complete up to the last entry, and Next is the
	// "after" of the following page.
	Complete bool   `json:"complete"`
	Next     string `json:"next,omitempty"`
}

// VerifyListing verifies a page of listing for owner after the id after
// (ledger.ListingRangeOf), as served in page, against appHash, the AppHash
// of header H+1 for the page's state height H. It returns every id of the
// range after after, in order, up to the end of the range or to the page's
// last entry (then Complete is false), each with its record proved in the
// record store. A node that leaves an entry out, adds one, changes a record
// or cuts the page short of its limit is caught.
func VerifyListing(appHash []byte, listing, owner, after string, page *ledger.ProvedPage) (*Listing, error) {
	r, err := ledger.ListingRangeOf(listing, owner)
	if err != nil {
		return nil, fail("shape", "%v", err)
	}
	if after != "" && !ledger.ValidID(after) {
		return nil, fail("shape", "after %q is not an id", after)
	}
	if page == nil || page.Listing != listing || page.Owner != owner || page.After != after {
		return nil, fail("shape", "the page is not the one asked for (listing %q owner %q after %q)", listing, owner, after)
	}
	kvs, more, err := VerifyRange(appHash, r.Store, r.Start(after), r.End, page.Range, page.RangeStore)
	if err != nil {
		return nil, err
	}
	if more && len(kvs) < max(page.Limit, 1) {
		return nil, fail("range", "the page holds %d entries, below its limit %d, while the range goes on: entries were left out", len(kvs), page.Limit)
	}
	l := &Listing{Listing: listing, Owner: owner, After: after, Height: page.Height, Entries: []ListedRecord{}, Complete: !more}
	keys := make([][]byte, len(kvs))
	for i, kv := range kvs {
		id := r.ID(kv.Key)
		if !ledger.ValidID(id) {
			return nil, fail("range", "key %q in the range is not an id of the listing", kv.Key)
		}
		l.Entries = append(l.Entries, ListedRecord{ID: id})
		keys[i] = ledger.RecordKey(id)
		if r.RecordStore == "" {
			l.Entries[i].Record = kv.Value
		} else {
			l.Entries[i].Index = string(kv.Value)
		}
	}
	if r.RecordStore != "" && len(keys) > 0 {
		values, err := VerifyBatch(appHash, r.RecordStore, keys, page.Records, page.RecordsStore)
		if err != nil {
			return nil, err
		}
		for i, v := range values {
			l.Entries[i].Record = v
		}
	}
	for i := range l.Entries {
		if err := checkListed(r, &l.Entries[i]); err != nil {
			return nil, err
		}
	}
	if more {
		l.Next = l.Entries[len(l.Entries)-1].ID
	}
	return l, nil
}

// checkListed checks that a proved record is the listed id's and belongs
// to the listing's owner (what the state machine keeps true).
func checkListed(r *ledger.ListingRange, e *ListedRecord) error {
	var rec struct {
		ID     string `json:"id"`
		Agency string `json:"agency"`
		Grant  string `json:"grant"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(e.Record, &rec); err != nil {
		return fail("records", "record %q is not a record: %v", e.ID, err)
	}
	owner := rec.Agency
	if r.Listing == ledger.ListingGrantPayments {
		owner = rec.Grant
	}
	switch {
	case rec.ID != e.ID:
		return fail("records", "the record listed as %q is %q", e.ID, rec.ID)
	case r.Owner != "" && owner != r.Owner:
		return fail("records", "record %q belongs to %q, not %q", e.ID, owner, r.Owner)
	case r.RecordStore != "" && e.Index != rec.Status:
		return fail("records", "record %q has status %q, its index entry %q", e.ID, rec.Status, e.Index)
	}
	return nil
}
