package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"

	abci "github.com/cometbft/cometbft/abci/types"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/civicledger/civicledger/ledger"
)

// ErrTx is wrapped by every transaction verification failure.
var ErrTx = errors.New("transaction verification failed")

// TxError says which check of a transaction failed.
type TxError struct {
	Step   string // "hash", "inclusion", "result", "signature", "officer"
	Reason string
}

func (e *TxError) Error() string { return fmt.Sprintf("%s: %s", e.Step, e.Reason) }
func (e *TxError) Unwrap() error { return ErrTx }

func txErr(step, format string, args ...any) error {
	return &TxError{Step: step, Reason: fmt.Sprintf(format, args...)}
}

// TxInclusion checks that tx has the given hash (sha256 of its bytes) and
// that proof places it in the block whose verified header is header: the
// proof's root must equal header.DataHash.
func TxInclusion(header *cmttypes.Header, hash, tx []byte, proof cmttypes.TxProof) error {
	sum := sha256.Sum256(tx)
	if !bytes.Equal(sum[:], hash) {
		return txErr("hash", "sha256 of the tx bytes is %X, not %X", sum[:], hash)
	}
	if !bytes.Equal(proof.Data, tx) {
		return txErr("inclusion", "the proof is for other bytes")
	}
	if err := proof.Validate(header.DataHash); err != nil {
		return txErr("inclusion", "not in block %d (DataHash %X): %v", header.Height, header.DataHash, err)
	}
	return nil
}

// TxResult checks that results are the results of the block whose txs
// header next (height H+1) follows: their hash (over Code, Data, GasWanted,
// GasUsed only) must equal next.LastResultsHash. It returns results[index].
func TxResult(next *cmttypes.Header, results []*abci.ExecTxResult, index int) (*abci.ExecTxResult, error) {
	if index < 0 || index >= len(results) {
		return nil, txErr("result", "tx index %d outside the block's %d results", index, len(results))
	}
	if h := cmttypes.NewResults(results).Hash(); !bytes.Equal(h, next.LastResultsHash) {
		return nil, txErr("result", "results hash %X does not match LastResultsHash %X of header %d", h, next.LastResultsHash, next.Height)
	}
	return results[index], nil
}

// TxAuthority returns the agency record to check a transaction's signers
// against, from its verified result's data (covered by LastResultsHash, see
// ledger.ResultData) and before, the acting agency's stored record value as
// of the state before the tx's block (proved at height H-1, or for the
// chain's first block ledger.AgencyValue of the genesis file's record; nil
// if absent). fromResult reports that the record came from the result data.
//
// A successful tx's result names the record the chain authorized it with.
// If the result carries the record (it was written earlier in the tx's
// block, e.g. by an officer-add), that record is returned, after checking
// that it hashes to the committed digest. Otherwise before must hash to the
// committed digest: a record that does not is not the one the chain used.
// A result without authorization data (a rejected tx, or a block of a chain
// version that did not commit it) leaves before as the record.
func TxAuthority(tx *ledger.Tx, data, before []byte) (agency *ledger.Agency, fromResult bool, err error) {
	d, err := ledger.DecodeResultData(data)
	if err != nil {
		return nil, false, txErr("officer", "the tx's result data does not decode: %v", err)
	}
	value := before
	if a := d.Auth; a != nil {
		switch {
		case a.Agency != tx.Body.Agency:
			return nil, false, txErr("officer", "the result says the tx was authorized by agency %q, the tx acts for %q", a.Agency, tx.Body.Agency)
		case len(a.Record) > 0:
			if got := ledger.RecordDigest(a.Record); got != a.RecordSHA256 {
				return nil, false, txErr("officer", "the agency record in the result has sha256 %s, the result commits %s", got, a.RecordSHA256)
			}
			value, fromResult = a.Record, true
		case before == nil:
			return nil, false, txErr("officer", "the result says the tx was authorized with record sha256 %s of %s, but the agency is absent before the block", a.RecordSHA256, a.Agency)
		case ledger.RecordDigest(before) != a.RecordSHA256:
			return nil, false, txErr("officer", "the record of %s before the block has sha256 %s, but the result says the tx was authorized with record sha256 %s", a.Agency, ledger.RecordDigest(before), a.RecordSHA256)
		}
	}
	if value == nil {
		return nil, false, nil
	}
	agency = new(ledger.Agency)
	if err := json.Unmarshal(value, agency); err != nil {
		return nil, false, txErr("officer", "the agency record of %s does not decode: %v", tx.Body.Agency, err)
	}
	return agency, fromResult, nil
}

// TxSignatures decodes a raw transaction, checks every signature, and checks
// that each signer was an officer of the acting agency, with the role the
// tx type requires, in agency (the record TxAuthority returns: the one the
// chain authorized the tx with).
func TxSignatures(raw []byte, agency *ledger.Agency) (*ledger.Tx, error) {
	tx, err := ledger.DecodeTx(raw, 0)
	if err != nil {
		return nil, txErr("signature", "undecodable tx: %v", err)
	}
	if err := tx.VerifySignatures(); err != nil {
		return nil, txErr("signature", "%v", err)
	}
	if agency == nil || agency.ID != tx.Body.Agency {
		return nil, txErr("officer", "agency record %q needed to check the signers", tx.Body.Agency)
	}
	role, _ := ledger.RequiredRole(tx.Body.Type)
	for i, s := range tx.Signatures {
		o := agency.Officer(s.PubKey)
		if o == nil {
			return nil, txErr("officer", "signatures[%d]: key %X was not an officer of %s", i, s.PubKey, agency.ID)
		}
		if !o.HasRole(role) {
			return nil, txErr("officer", "signatures[%d]: officer %q of %s lacked role %q", i, o.Name, agency.ID, role)
		}
	}
	return tx, nil
}
