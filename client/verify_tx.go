package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/verify"
)

// Step names of a transaction verification (besides the shared ones).
const (
	StepInclusion  = "inclusion"
	StepResult     = "result"
	StepAgency     = "agency record"
	StepSignatures = "signatures"
)

// TxSigner is an officer whose signature is on a verified transaction, as
// the acting agency's verified record names it.
type TxSigner struct {
	Key   []byte        `json:"key"`             // ed25519 public key
	Name  string        `json:"name,omitempty"`  // empty: not an officer of the agency
	Roles []ledger.Role `json:"roles,omitempty"` // the officer's roles before the tx's block
}

// ErrFirstBlockNeedsGenesis is returned when the signers of a tx in the
// chain's first block are to be checked from a checkpoint trust root.
var ErrFirstBlockNeedsGenesis = errors.New("the tx is in the chain's first block: its signers can be checked only against a trusted genesis file")

// TxReport is a verified transaction: in which block, with which result,
// signed by whom.
type TxReport struct {
	Hash    string          `json:"hash"`
	Height  int64           `json:"height"` // H: the block holding the tx
	Index   uint32          `json:"index"`
	Type    string          `json:"type,omitempty"`
	Agency  string          `json:"agency,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
	Signers []TxSigner      `json:"signers"`
	// Code is verified (it is covered by LastResultsHash); Codespace and
	// Log are what the node says (they are not).
	Code      uint32 `json:"code"`
	Codespace string `json:"codespace,omitempty"`
	Log       string `json:"log,omitempty"`
	// Header is header H (its DataHash holds the tx); Next is header H+1
	// (its LastResultsHash commits the block's results).
	Header HeaderInfo `json:"header"`
	Next   HeaderInfo `json:"next_header"`
	// AgencyHeight is the state height of the agency record the signers
	// were checked against: H-1, or 0 for the genesis file (a tx of the
	// chain's first block) or for a record carried by the tx's result.
	AgencyHeight int64 `json:"agency_height"`
	// AgencyRecord says where that record comes from: "genesis", "before"
	// (state H-1, proved against header H) or "result" (the tx's result
	// carries it, committed in header H+1's LastResultsHash: the record was
	// written earlier in block H, e.g. by the officer-add of a signer).
	AgencyRecord         string         `json:"agency_record,omitempty"`
	Witnesses            []WitnessCheck `json:"witnesses,omitempty"`
	NoIndependentWitness bool           `json:"no_independent_witness"`
	Steps                []Step         `json:"steps,omitempty"`
	Tx                   *ledger.Tx     `json:"-"` // nil if the bytes do not decode
}

// VerifyTx verifies the transaction with the given hash (sha256 of its
// bytes) from what the primary serves: /tx?prove=true gives its block H,
// index, bytes and Merkle proof, which must place it under the DataHash of
// header H (verified from the trust root); the block's results, served by
// /block_results, must hash to the LastResultsHash of header H+1, and the
// tx's result code there must be the one /tx claimed; the signatures must
// verify and be those of officers of the acting agency with the required
// role, as its record stood at state H-1 (proved against header H). Finally
// the witnesses are asked for header H+1 (which names header H as its
// parent). The agency record is the one the chain authorized the tx with
// (verify.TxAuthority): a successful tx's result commits its digest, and
// carries the record itself when it was written earlier in block H, so a tx
// signed by an officer added in the same block verifies.
//
// A tx the chain rejected in its block (code ≠ 0) may lack a valid signer:
// that is consistent with its rejection and does not fail the
// verification. On failure VerifyTx returns the report so far, whose last
// step is the failed one, with the error.
func (v *Verifier) VerifyTx(ctx context.Context, hash []byte) (*TxReport, error) {
	r := &TxReport{Hash: fmt.Sprintf("%X", hash), NoIndependentWitness: v.NoIndependentWitness, Signers: []TxSigner{}, Steps: []Step{v.TrustStep()}}
	fail := func(name string, err error) (*TxReport, error) {
		r.Steps = append(r.Steps, failStep(name, err))
		return r, err
	}
	if len(hash) != sha256.Size {
		return fail(StepQuery, fmt.Errorf("a tx hash is %d bytes, got %d", sha256.Size, len(hash)))
	}
	res, err := v.Primary.txByHash(ctx, hash)
	if err != nil {
		return fail(StepQuery, err)
	}
	h := res.Height
	r.Height, r.Index = h, res.Index
	r.Steps = append(r.Steps, okStep(StepQuery, "the node says the tx is at index %d of block %d with result code %d, and gave a Merkle proof", res.Index, h, res.TxResult.Code))

	// Header H and the tx's inclusion under its DataHash.
	prev := v.Trust.LastVerified
	lb, err := v.LightBlock(ctx, h)
	if err != nil {
		return fail(orStep(stepOf(err), StepHeader), err)
	}
	r.Header = NewHeaderInfo(lb)
	r.Steps = append(r.Steps,
		okStep(StepHeader, "header %d %X verified from the trust root", h, lb.Hash()),
		historyStep(prev, v.Trust.Root, h))
	if err := verify.TxInclusion(lb.Header, hash, res.Tx, res.Proof); err != nil {
		return fail(StepInclusion, err)
	}
	if res.Proof.Proof.Index != int64(res.Index) {
		return fail(StepInclusion, &verify.TxError{Step: "inclusion", Reason: fmt.Sprintf("the proof places the tx at index %d, the node says %d", res.Proof.Proof.Index, res.Index)})
	}
	r.Steps = append(r.Steps, okStep(StepInclusion, "the tx bytes hash to %X and the Merkle proof places them at index %d of the %d txs under DataHash %X of header %d",
		hash, res.Index, res.Proof.Proof.Total, []byte(lb.DataHash), h))

	// Header H+1 and the block's results under its LastResultsHash.
	next, err := v.LightBlock(ctx, h+1)
	if err != nil {
		return fail(orStep(stepOf(err), StepHeader), err)
	}
	r.Next = NewHeaderInfo(next)
	if !bytes.Equal(next.LastBlockID.Hash, lb.Hash()) {
		return fail(StepHeader, &verify.HeaderError{Height: h + 1, Reason: fmt.Sprintf("names block %X as its parent, not header %d %X", next.LastBlockID.Hash, h, lb.Hash())})
	}
	br, err := v.Primary.RPC().BlockResults(ctx, &h)
	if err != nil {
		return fail(StepResult, fmt.Errorf("block results %d from %s: %w", h, v.Primary.URL, err))
	}
	if int64(len(br.TxsResults)) != res.Proof.Proof.Total {
		return fail(StepResult, &verify.TxError{Step: "result", Reason: fmt.Sprintf("block %d has %d txs but the node served %d results", h, res.Proof.Proof.Total, len(br.TxsResults))})
	}
	er, err := verify.TxResult(next.Header, br.TxsResults, int(res.Index))
	if err != nil {
		return fail(StepResult, err)
	}
	if er.Code != res.TxResult.Code {
		return fail(StepResult, &verify.TxError{Step: "result", Reason: fmt.Sprintf("/tx says code %d but the block's verified results say %d", res.TxResult.Code, er.Code)})
	}
	r.Code, r.Codespace, r.Log = er.Code, er.Codespace, er.Log
	r.Steps = append(r.Steps, okStep(StepResult, "header %d %X follows header %d; the %d results of block %d hash to its LastResultsHash %X; the tx's result code is %d",
		h+1, next.Hash(), h, len(br.TxsResults), h, []byte(next.LastResultsHash), er.Code))

	// The signers, against the acting agency's record the chain authorized
	// the tx with: the one before block H, or the one the result carries.
	tx, derr := ledger.DecodeTx(res.Tx, 0)
	var agency *ledger.Agency
	if derr == nil {
		r.Tx, r.Type, r.Agency, r.Payload = tx, tx.Body.Type, tx.Body.Agency, tx.Body.Payload
		var before []byte
		detail := ""
		data, ddErr := ledger.DecodeResultData(er.Data)
		if ddErr != nil || data.Auth == nil || len(data.Auth.Record) == 0 {
			before, r.AgencyHeight, r.AgencyRecord, detail, err = v.agencyBefore(ctx, tx.Body.Agency, h)
			if err != nil {
				return fail(StepAgency, err)
			}
		}
		var fromResult bool
		agency, fromResult, err = verify.TxAuthority(tx, er.Data, before)
		if err != nil {
			return fail(StepAgency, err)
		}
		switch {
		case fromResult:
			r.AgencyRecord = "result"
			detail = fmt.Sprintf("%s's record as the chain authorized the tx (%d officers): it was written earlier in block %d, and the tx's result carries it (sha256 %s), committed in LastResultsHash %X of header %d",
				agency.ID, len(agency.Officers), h, data.Auth.RecordSHA256, []byte(next.LastResultsHash), h+1)
		case data.Auth != nil:
			detail += fmt.Sprintf("; the tx's result commits its sha256 %s: the chain authorized the tx with it", data.Auth.RecordSHA256)
		}
		r.Steps = append(r.Steps, okStep(StepAgency, "%s", detail))
		for _, s := range tx.Signatures {
			ts := TxSigner{Key: s.PubKey}
			if agency != nil {
				if o := agency.Officer(s.PubKey); o != nil {
					ts.Name, ts.Roles = o.Name, o.Roles
				}
			}
			r.Signers = append(r.Signers, ts)
		}
	}
	if _, err := verify.TxSignatures(res.Tx, agency); err != nil {
		if er.Code == 0 {
			return fail(StepSignatures, err)
		}
		r.Steps = append(r.Steps, okStep(StepSignatures, "not required: the chain rejected the tx (code %d), and its signers do not pass either: %v", er.Code, err))
	} else {
		role, _ := ledger.RequiredRole(tx.Body.Type)
		r.Steps = append(r.Steps, okStep(StepSignatures, "%d signature(s) verify, each by an officer of %s with role %q", len(tx.Signatures), tx.Body.Agency, role))
	}

	checks, err := v.CheckWitnesses(ctx, next)
	r.Witnesses = checks
	if err != nil {
		return fail(StepWitnesses, err)
	}
	r.Steps = append(r.Steps, v.witnessStep(h+1, checks))
	return r, nil
}

func orStep(name, def string) string {
	if name == "" {
		return def
	}
	return name
}

// agencyBefore returns the stored value of the agency record as it stood
// before block h (nil if absent), with the state height it was proved at,
// its source ("before" or "genesis") and a description: the record at state
// h-1 proved against header h, or, for the chain's first block, the record
// in the trusted genesis file (as the state machine stores it).
func (v *Verifier) agencyBefore(ctx context.Context, id string, h int64) ([]byte, int64, string, string, error) {
	if v.Trust.GenesisSHA256 != "" && h == v.Trust.Root.Height {
		gp, err := GenesisPath(v.home, v.ChainID)
		if err != nil {
			return nil, 0, "", "", fmt.Errorf("trusted genesis: %w", err)
		}
		doc, sum, err := LoadGenesisFile(gp)
		if err != nil {
			return nil, 0, "", "", fmt.Errorf("trusted genesis: %w", err)
		}
		if sum != v.Trust.GenesisSHA256 {
			return nil, 0, "", "", fmt.Errorf("trusted genesis %s has sha256 %s, not the trusted %s", gp, sum, v.Trust.GenesisSHA256)
		}
		var gs ledger.GenesisState
		if err := json.Unmarshal(doc.AppState, &gs); err != nil {
			return nil, 0, "", "", fmt.Errorf("trusted genesis app_state: %w", err)
		}
		for i := range gs.Agencies {
			if gs.Agencies[i].ID == id {
				value, err := ledger.AgencyValue(&gs.Agencies[i])
				if err != nil {
					return nil, 0, "", "", fmt.Errorf("trusted genesis: agency %s: %w", id, err)
				}
				return value, 0, "genesis", fmt.Sprintf("%s's record from the trusted genesis file (the tx is in the chain's first block %d)", id, h), nil
			}
		}
		return nil, 0, "genesis", fmt.Sprintf("agency %s is ABSENT from the trusted genesis file", id), nil
	}
	if h-1 < 1 {
		return nil, 0, "", "", ErrFirstBlockNeedsGenesis
	}
	kp, err := v.VerifyKey(ctx, ledger.StoreAgencies, ledger.RecordKey(id), h-1)
	if err != nil {
		return nil, 0, "", "", err
	}
	if !kp.Present {
		return nil, kp.Height, "before", fmt.Sprintf("agency %s is ABSENT at state height %d (proved against header %d)", id, kp.Height, h), nil
	}
	return kp.Value, kp.Height, "before", fmt.Sprintf("%s's record at state height %d (sha256 %s) proved against AppHash %X of header %d", id, kp.Height, ledger.RecordDigest(kp.Value), []byte(kp.Header.AppHash), kp.Header.Height), nil
}
