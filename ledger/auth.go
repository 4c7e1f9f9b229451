package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
)

// ResultData is the data of a successful transaction's result
// (ExecTxResult.Data). CometBFT hashes it into the LastResultsHash of the
// next header, so what it says is signed by the validators like the result
// code. It is a JSON object; readers ignore fields they do not know, so
// fields can be added without breaking them. Rejected transactions have no
// data.
type ResultData struct {
	// Auth is what the chain authorized the transaction with.
	Auth *TxAuth `json:"auth,omitempty"`
}

// TxAuth names the agency record a transaction's signers were checked
// against, as it stood in the agencies store when the transaction was
// applied (before the transaction's own changes).
//
// RecordSHA256 is the lowercase hex sha256 of that record's stored value.
// Record is the value itself when the record was written earlier in the
// same block (by an earlier transaction or by governance at the start of the
// block): the state before the block then no longer shows it, and no
// committed state version need show it either (the record may change again
// later in the block). Otherwise the record is the one of the state before
// the block, provable against the block's own header, and only its digest
// is committed, which keeps results small.
type TxAuth struct {
	Agency       string          `json:"agency"`
	RecordSHA256 string          `json:"record_sha256"`
	Record       json.RawMessage `json:"record,omitempty"`
}

// DecodeResultData decodes a result's data; empty data (a rejected tx, or a
// block of a chain version that committed no data) is the zero ResultData.
func DecodeResultData(data []byte) (ResultData, error) {
	var d ResultData
	if len(data) == 0 {
		return d, nil
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return d, fmt.Errorf("result data: %w", err)
	}
	return d, nil
}

// RecordDigest is the lowercase hex sha256 of a stored record value, as
// TxAuth.RecordSHA256 gives it.
func RecordDigest(value []byte) string {
	sum := sha256.Sum256(value)
	return hex.EncodeToString(sum[:])
}

// AgencyValue is the value the state machine stores for an agency record
// (officers sorted by key, JSON): what InitGenesis writes for a genesis
// agency, so a verifier can hash the genesis file's record.
func AgencyValue(a *Agency) ([]byte, error) {
	c := *a
	c.Officers = slices.Clone(a.Officers)
	slices.SortFunc(c.Officers, func(x, y Officer) int { return bytes.Compare(x.Key, y.Key) })
	return json.Marshal(&c)
}

// authData returns the result data of a transaction of agency id authorized
// now: the digest of the agency's current stored record, with the record
// itself if it was written earlier in this block. It is cached until the
// record is next written.
func (b *Block) authData(id string) ([]byte, error) {
	if d, ok := b.authCache[id]; ok {
		return d, nil
	}
	value, err := b.kv.Get(StoreAgencies, RecordKey(id))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStorage, err)
	}
	if value == nil {
		return nil, fmt.Errorf("agency %s authorized but absent from the store: %w", id, ErrStorage)
	}
	a := &TxAuth{Agency: id, RecordSHA256: RecordDigest(value)}
	if b.agencyWritten[id] {
		a.Record = value
	}
	d, err := json.Marshal(ResultData{Auth: a})
	if err != nil {
		return nil, fmt.Errorf("%w: encode result data: %v", ErrStorage, err)
	}
	if b.authCache == nil {
		b.authCache = map[string][]byte{}
	}
	b.authCache[id] = d
	return d, nil
}

// noteWrite records a write to store: a write to an agency record makes
// later transactions of that agency in the block carry the record in their
// result data.
func (b *Block) noteWrite(store string, key []byte) {
	if store != StoreAgencies {
		return
	}
	id := string(key)
	if b.agencyWritten == nil {
		b.agencyWritten = map[string]bool{}
	}
	b.agencyWritten[id] = true
	delete(b.authCache, id)
}
