package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtbytes "github.com/cometbft/cometbft/libs/bytes"
	cmtjson "github.com/cometbft/cometbft/libs/json"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/civicledger/civicledger/ledger"
)

// BundleFormat is the version of the bundle format this package writes and
// reads.
const BundleFormat = 1

// Bundle kinds: the ledger's record kinds, an agency's totals in a currency,
// and a transaction (strings: the manifest's kind is one of the first four
// or another).
const (
	KindGrant   = string(ledger.KindGrant)
	KindLicence = string(ledger.KindLicence)
	KindPayment = string(ledger.KindPayment)
	KindAgency  = string(ledger.KindAgency)
	KindTotal   = "total"
	KindTx      = "tx"
)

// ErrBundle is wrapped by every failure of a bundle that is incomplete or
// inconsistent with itself (as opposed to a proof, header or transaction
// check, which wrap ErrProof, ErrHeader or ErrTx).
var ErrBundle = errors.New("bundle verification failed")

// BundleError says at which step the verification of a bundle failed. Err
// wraps ErrBundle, ErrHeader, ErrProof or ErrTx.
type BundleError struct {
	Step string
	Err  error
}

func (e *BundleError) Error() string { return fmt.Sprintf("%s: %v", e.Step, e.Err) }
func (e *BundleError) Unwrap() error { return e.Err }

type inconsistency struct{ msg string }

func (e *inconsistency) Error() string { return e.msg }
func (e *inconsistency) Unwrap() error { return ErrBundle }

func bundleErr(step, format string, args ...any) error {
	return &BundleError{Step: step, Err: &inconsistency{fmt.Sprintf(format, args...)}}
}

// Verification steps, as named in BundleError.Step and BundleReport.Steps.
const (
	StepFormat       = "format"
	StepGenesis      = "genesis"
	StepChainID      = "chain id"
	StepFirstBlock   = "first block"
	StepHeaderChain  = "header chain"
	StepHeaders      = "headers"
	StepQuery        = "query"
	StepStoreProof   = "store proof"
	StepTxInclusion  = "tx inclusion"
	StepAgencyRecord = "agency record"
	StepSignatures   = "signatures"
	StepTxResult     = "tx result"
	StepClaims       = "claims"
)

// Manifest says what a bundle is about. VerifyBundle checks every field
// against the proofs, Proves included (it must be the sentences Claims
// computes from the verified facts, or empty), except Created and Tool,
// which it reports as stated by the exporter, not verified.
type Manifest struct {
	Format        int    `json:"format"`
	Kind          string `json:"kind"`            // grant, licence, payment, agency, total, tx
	ID            string `json:"id"`              // record id; "AGENCY/CURRENCY" for totals; upper-case hex hash for txs
	Store         string `json:"store,omitempty"` // records: the store of the key
	Key           string `json:"key,omitempty"`   // records: the key in the store
	ChainID       string `json:"chain_id"`
	GenesisSHA256 string `json:"genesis_sha256"` // hex sha256 of the genesis file's bytes
	// Height is the state height H of a record (proved against header H+1),
	// or the height of the block that holds a tx.
	Height  int64    `json:"height"`
	Created string   `json:"created"` // RFC 3339; stated by the exporter, not verified
	Tool    string   `json:"tool"`    // stated by the exporter, not verified
	Proves  []string `json:"proves"`  // human-readable; checked: RecordClaims or TxClaims of the verified facts
}

// ABCIQuery is the result of the abci_query RPC (rpc/core/types.ResultABCIQuery).
type ABCIQuery struct {
	Response abci.ResponseQuery `json:"response"`
}

// TxResponse is the result of the tx RPC with prove=true
// (rpc/core/types.ResultTx).
type TxResponse struct {
	Hash     cmtbytes.HexBytes `json:"hash"`
	Height   int64             `json:"height"`
	Index    uint32            `json:"index"`
	TxResult abci.ExecTxResult `json:"tx_result"`
	Tx       cmttypes.Tx       `json:"tx"`
	Proof    cmttypes.TxProof  `json:"proof,omitempty"`
}

// BlockResults is the result of the block_results RPC
// (rpc/core/types.ResultBlockResults).
type BlockResults struct {
	Height                int64                     `json:"height"`
	TxsResults            []*abci.ExecTxResult      `json:"txs_results"`
	FinalizeBlockEvents   []abci.Event              `json:"finalize_block_events"`
	ValidatorUpdates      []abci.ValidatorUpdate    `json:"validator_updates"`
	ConsensusParamUpdates *cmtproto.ConsensusParams `json:"consensus_param_updates"`
	AppHash               []byte                    `json:"app_hash"`
}

// Bundle is an offline evidence bundle: everything needed to check one
// record (or its absence), one total or one transaction offline, with
// nothing but the chain's genesis file — the light blocks from the chain's
// first block to the headers the proof rests on, and the verbatim RPC
// answers that carry the proofs. It is a JSON document:
//
//	{
//	  "manifest":      {...},             // what the bundle claims (Manifest)
//	  "light_blocks":  [...],             // cmttypes.LightBlock, ascending heights
//	  "abci_query":    {"response": ...}, // records: abci_query of /store/<store>/key, prove=true
//	  "tx":            {...},             // txs: the tx RPC's result, prove=true
//	  "block_results": {...},             // txs: block_results of the tx's block H
//	  "agency_query":  {"response": ...}  // txs: abci_query of the acting agency's record at
//	                                      // H-1 (none for the first block: the genesis file has it;
//	                                      // not needed when the tx's result carries the record)
//	}
//
// Everything but the manifest is encoded as CometBFT's RPC encodes it
// (github.com/cometbft/cometbft/libs/json: 64-bit integers as strings, bytes
// as base64, hashes as hex), so that it is the object the RPC served (as
// CometBFT's RPC client decodes it: an empty list may come out omitted).
// Marshal a bundle with encoding/json (it implements json.Marshaler) or
// Marshal; read it with ParseBundle; check it with VerifyBundle.
type Bundle struct {
	Manifest     Manifest
	LightBlocks  []*cmttypes.LightBlock
	Query        *ABCIQuery    // records
	Tx           *TxResponse   // txs
	BlockResults *BlockResults // txs
	AgencyQuery  *ABCIQuery    // txs
}

type bundleWire struct {
	Manifest     json.RawMessage `json:"manifest"`
	LightBlocks  json.RawMessage `json:"light_blocks"`
	Query        json.RawMessage `json:"abci_query,omitempty"`
	Tx           json.RawMessage `json:"tx,omitempty"`
	BlockResults json.RawMessage `json:"block_results,omitempty"`
	AgencyQuery  json.RawMessage `json:"agency_query,omitempty"`
}

// MarshalJSON encodes the manifest with encoding/json and everything else
// with CometBFT's JSON encoding.
func (b *Bundle) MarshalJSON() ([]byte, error) {
	var w bundleWire
	var err error
	if w.Manifest, err = json.Marshal(b.Manifest); err != nil {
		return nil, err
	}
	lbs := b.LightBlocks
	if lbs == nil {
		lbs = []*cmttypes.LightBlock{}
	}
	if w.LightBlocks, err = cmtjson.Marshal(lbs); err != nil {
		return nil, fmt.Errorf("light_blocks: %w", err)
	}
	if b.Query != nil {
		if w.Query, err = cmtjson.Marshal(b.Query); err != nil {
			return nil, fmt.Errorf("abci_query: %w", err)
		}
	}
	if b.Tx != nil {
		if w.Tx, err = cmtjson.Marshal(b.Tx); err != nil {
			return nil, fmt.Errorf("tx: %w", err)
		}
	}
	if b.BlockResults != nil {
		if w.BlockResults, err = cmtjson.Marshal(b.BlockResults); err != nil {
			return nil, fmt.Errorf("block_results: %w", err)
		}
	}
	if b.AgencyQuery != nil {
		if w.AgencyQuery, err = cmtjson.Marshal(b.AgencyQuery); err != nil {
			return nil, fmt.Errorf("agency_query: %w", err)
		}
	}
	return json.Marshal(w)
}

// Marshal returns the bundle as indented JSON, the form written to files.
func (b *Bundle) Marshal() ([]byte, error) {
	bz, err := b.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, bz, "", "  "); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// UnmarshalJSON is the inverse of MarshalJSON.
func (b *Bundle) UnmarshalJSON(data []byte) error {
	var w bundleWire
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	var out Bundle
	if len(w.Manifest) == 0 || string(w.Manifest) == "null" {
		return errors.New("no manifest")
	}
	if err := json.Unmarshal(w.Manifest, &out.Manifest); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if present(w.LightBlocks) {
		if err := cmtjson.Unmarshal(w.LightBlocks, &out.LightBlocks); err != nil {
			return fmt.Errorf("light_blocks: %w", err)
		}
	}
	if present(w.Query) {
		out.Query = new(ABCIQuery)
		if err := cmtjson.Unmarshal(w.Query, out.Query); err != nil {
			return fmt.Errorf("abci_query: %w", err)
		}
	}
	if present(w.Tx) {
		out.Tx = new(TxResponse)
		if err := cmtjson.Unmarshal(w.Tx, out.Tx); err != nil {
			return fmt.Errorf("tx: %w", err)
		}
	}
	if present(w.BlockResults) {
		out.BlockResults = new(BlockResults)
		if err := cmtjson.Unmarshal(w.BlockResults, out.BlockResults); err != nil {
			return fmt.Errorf("block_results: %w", err)
		}
	}
	if present(w.AgencyQuery) {
		out.AgencyQuery = new(ABCIQuery)
		if err := cmtjson.Unmarshal(w.AgencyQuery, out.AgencyQuery); err != nil {
			return fmt.Errorf("agency_query: %w", err)
		}
	}
	*b = out
	return nil
}

func present(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }

// ParseBundle reads a bundle from its JSON.
func ParseBundle(data []byte) (*Bundle, error) {
	var b Bundle
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("not an evidence bundle: %w", err)
	}
	return &b, nil
}

// RecordLocation returns the store and key of a record kind's id: grant,
// licence, payment and agency ids are keys of their store; a total's id is
// "AGENCY/CURRENCY", its key total/AGENCY/CURRENCY in the meta store.
func RecordLocation(kind, id string) (string, []byte, error) {
	if st := ledger.StoreOf(ledger.Kind(kind)); st != "" {
		if !ledger.ValidID(id) {
			return "", nil, fmt.Errorf("%s id %q must match [A-Za-z0-9._:-]{1,64}", kind, id)
		}
		return st, ledger.RecordKey(id), nil
	}
	if kind == KindTotal {
		agency, cur, ok := strings.Cut(id, "/")
		if !ok || !ledger.ValidID(agency) {
			return "", nil, fmt.Errorf("total id %q must be AGENCY/CURRENCY", id)
		}
		if _, ok := ledger.CurrencyExponent(cur); !ok {
			return "", nil, fmt.Errorf("total id %q: unknown currency %q", id, cur)
		}
		return ledger.StoreMeta, ledger.TotalsKey(agency, cur), nil
	}
	return "", nil, fmt.Errorf("unknown record kind %q", kind)
}

// BundleChain returns the light blocks a bundle carries: first (the
// chain's first block), then blocks each verifiable from the previous one
// with Next, ending with each of targets (ascending heights). Where a
// target does not follow directly from the previous block (the validator
// set changed in between: a change is verified only adjacently), blocks in between are
// added by bisection: between(lo, hi) must return a block with a height
// strictly between lo and hi, verified by the caller's means (a light
// client). The blocks themselves are not trusted here: VerifyBundle checks
// them all.
func BundleChain(first *cmttypes.LightBlock, targets []*cmttypes.LightBlock, between func(lo, hi int64) (*cmttypes.LightBlock, error), now time.Time) ([]*cmttypes.LightBlock, error) {
	out := []*cmttypes.LightBlock{first}
	cur := first
	var bridge func(a, b *cmttypes.LightBlock) error
	bridge = func(a, b *cmttypes.LightBlock) error {
		err := Next(a, b, now)
		if err == nil {
			out = append(out, b)
			return nil
		}
		if b.Height == a.Height+1 {
			return err
		}
		mid, merr := between(a.Height, b.Height)
		if merr != nil {
			return fmt.Errorf("%w; and no header between %d and %d to verify through: %v", err, a.Height, b.Height, merr)
		}
		if mid == nil || mid.SignedHeader == nil || mid.Header == nil || mid.Height <= a.Height || mid.Height >= b.Height {
			return headerErr(b.Height, "no light block between %d and %d to bisect with", a.Height, b.Height)
		}
		if err := bridge(a, mid); err != nil {
			return err
		}
		return bridge(mid, b)
	}
	for _, t := range targets {
		switch {
		case t.Height == cur.Height && bytes.Equal(t.Hash(), cur.Hash()):
			continue
		case t.Height <= cur.Height:
			return nil, headerErr(t.Height, "not above header %d", cur.Height)
		}
		if err := bridge(cur, t); err != nil {
			return nil, err
		}
		cur = t
	}
	return out, nil
}

// TotalID is the bundle id of an agency's totals in a currency.
func TotalID(agency, currency string) string { return ledger.TotalsID(agency, currency) }

// BundleReport is what VerifyBundle checked and found: the steps, the
// verified facts, and apart from them the context that nothing covers. On
// failure it holds the steps that passed before the failing one, and no
// facts.
type BundleReport struct {
	// Outcome is "VERIFIED" or, for a record proved absent, "VERIFIED
	// ABSENT"; empty if verification failed.
	Outcome string `json:"outcome,omitempty"`
	// Steps are the checks in order; if verification failed, the last one
	// is the failed step (OK false).
	Steps []Step `json:"steps"`
	// Facts are what the proofs, signatures and hashes established
	// (JSON "verified"). Only these may be shown as verified.
	Facts `json:"verified"`
	// Unverified is what the bundle states that no proof covers.
	Unverified Unverified `json:"unverified"`
}

// Facts are the verified content of a bundle.
type Facts struct {
	Kind    string         `json:"kind"`
	ID      string         `json:"id"`
	ChainID string         `json:"chain_id"`
	Height  int64          `json:"height"`
	Headers []ReportHeader `json:"headers,omitempty"` // the headers the proof rests on
	// Claims are the human-readable sentences the bundle proves, computed
	// from the verified facts (RecordClaims, TxClaims), never copied from
	// the manifest.
	Claims []string `json:"claims,omitempty"`

	// Records.
	Store   string          `json:"store,omitempty"`
	Key     string          `json:"key,omitempty"`
	Present bool            `json:"present"`
	Value   json.RawMessage `json:"value,omitempty"` // the record's JSON, if present

	// Txs.
	Tx *ReportTx `json:"tx,omitempty"`
}

// UnverifiedNote heads the unverified part of a report.
const UnverifiedNote = "stated by the exporter or the node, not verified: no proof, signature or hash covers these"

// Unverified is the context a bundle carries that no proof, signature or
// hash covers: shown for what it is, never as a verified fact.
type Unverified struct {
	Note    string `json:"note"`
	Created string `json:"created,omitempty"` // the manifest's: when the exporter says it made the bundle
	Tool    string `json:"tool,omitempty"`    // the manifest's: what the exporter says made it
	// Txs: the node's log and codespace of the result, and the result's
	// events, which LastResultsHash does not cover (the tx's effects are
	// shown from its verified bytes and the proved state instead).
	Log       string       `json:"log,omitempty"`
	Codespace string       `json:"codespace,omitempty"`
	Events    []abci.Event `json:"events,omitempty"`
}

// Step is one check of a verification, as every report states it (a
// bundle's and the online verifier's): what was checked, whether it held,
// and the evidence (hashes, heights, powers) or, if it failed, why.
type Step struct {
	Name   string `json:"step"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// ReportHeader is a verified header the proof rests on, with the
// validators whose commit signatures on it verify.
type ReportHeader struct {
	Height  int64    `json:"height"`
	Hash    string   `json:"hash"`
	Time    string   `json:"time"`
	AppHash string   `json:"app_hash"`
	Signers []Signer `json:"signers"`
}

// ReportTx is a verified transaction.
type ReportTx struct {
	Hash    string          `json:"hash"`
	Height  int64           `json:"height"`
	Index   uint32          `json:"index"`
	Type    string          `json:"type"`
	Agency  string          `json:"agency"`
	Payload json.RawMessage `json:"payload"`
	Signers []TxSigner      `json:"signers"`
	Code    uint32          `json:"code"` // the verified result code; 0 is success
	// AgencyRecord says which record of the acting agency the signers were
	// checked against: "genesis" (the genesis file's, for the chain's first
	// block), "before" (the record at height H-1, proved against header H)
	// or "result" (the record carried by the tx's result: it was written
	// earlier in block H); empty if none was found.
	AgencyRecord string `json:"agency_record,omitempty"`
}

// TxSigner is an officer whose signature on the tx verifies.
type TxSigner struct {
	PubKey string        `json:"pub_key"` // hex
	Name   string        `json:"name,omitempty"`
	Roles  []ledger.Role `json:"roles,omitempty"`
}

func (r *BundleReport) step(name, format string, args ...any) {
	r.Steps = append(r.Steps, Step{Name: name, OK: true, Detail: fmt.Sprintf(format, args...)})
}

// VerifyBundle checks a bundle with nothing but the genesis document it
// claims to descend from (genesisSHA256: the hex sha256 of the genesis
// file's bytes) and the verifier's clock now:
//
//  1. format: the bundle format and kind are known, the parts the kind
//     needs are there;
//  2. genesis: genesisSHA256 is the manifest's;
//  3. chain id: the manifest's is the genesis's;
//  4. first block: the first light block is the chain's first block, signed
//     by more than 2/3 of the genesis validators (FirstBlock);
//  5. header chain: the light blocks have strictly ascending heights (a
//     second block at one height is refused, not skipped: its commit would
//     be unchecked), each further one follows from the previous one (Chain:
//     adjacent across every change of validator set, skipping only inside
//     one set's era), and the headers the proof needs are among them; the
//     signers a report names come from these verified blocks only;
//  6. for a record, the query answers the manifest's key at its height, and
//     the store proof holds against the AppHash of header H+1 (StoreValue);
//     for a tx, header H+1 names header H as its parent, the tx is in block
//     H (TxInclusion), its result is the one committed in header H+1
//     (TxResult) with the code the tx response claims, the agency record
//     the chain authorized it with is the one its result carries or else
//     the acting agency's record at H-1, which holds against header H (for
//     a tx of the chain's first block: the genesis file's record), and
//     whose digest the result commits (TxAuthority), and its signatures are
//     that agency's officers' with the role its type requires
//     (TxSignatures) — unless the chain rejected it (code ≠ 0), which is
//     then consistent.
//
// Every error is a *BundleError naming the step, wrapping ErrBundle,
// ErrHeader, ErrProof or ErrTx. The report is returned in both cases.
func VerifyBundle(b *Bundle, genesis *cmttypes.GenesisDoc, genesisSHA256 string, now time.Time) (rep *BundleReport, err error) {
	rep = &BundleReport{Unverified: Unverified{Note: UnverifiedNote}}
	defer func() {
		// Third-party types decoded from an untrusted file: never crash on
		// a shape their methods do not expect.
		if r := recover(); r != nil {
			err = bundleErr(StepFormat, "malformed bundle: %v", r)
		}
		if err == nil {
			if rep.Tx != nil {
				rep.Claims = TxClaims(&rep.Facts, genesisSHA256)
			} else {
				rep.Claims = RecordClaims(&rep.Facts, genesisSHA256)
			}
			err = checkClaims(b.Manifest.Proves, rep.Claims)
		}
		if err != nil {
			rep.Outcome, rep.Facts = "", Facts{} // nothing that failed is a fact
			failed := Step{Name: StepFormat, Detail: err.Error()}
			var be *BundleError
			if errors.As(err, &be) {
				failed.Name, failed.Detail = be.Step, be.Err.Error()
			}
			rep.Steps = append(rep.Steps, failed)
			return
		}
		if len(b.Manifest.Proves) > 0 {
			rep.step(StepClaims, "the manifest's %d sentence(s) are the ones the verified facts give", len(b.Manifest.Proves))
		} else {
			rep.step(StepClaims, "the manifest states no sentences; the report gives the ones the verified facts give")
		}
	}()
	if b == nil {
		return rep, bundleErr(StepFormat, "no bundle")
	}
	if genesis == nil {
		return rep, bundleErr(StepGenesis, "no genesis document")
	}
	m := &b.Manifest
	rep.Kind, rep.ID, rep.ChainID, rep.Height = m.Kind, m.ID, m.ChainID, m.Height
	rep.Unverified.Created, rep.Unverified.Tool = m.Created, m.Tool

	// 1. format
	if m.Format != BundleFormat {
		return rep, bundleErr(StepFormat, "bundle format %d, this verifier reads format %d", m.Format, BundleFormat)
	}
	var needed []int64
	switch m.Kind {
	case KindTx:
		if b.Tx == nil || b.BlockResults == nil {
			return rep, bundleErr(StepFormat, "a tx bundle needs tx and block_results")
		}
		switch {
		case m.Height < genesis.InitialHeight:
			return rep, bundleErr(StepFormat, "tx height %d is below the chain's initial height %d", m.Height, genesis.InitialHeight)
		case m.Height == genesis.InitialHeight && b.AgencyQuery != nil:
			return rep, bundleErr(StepFormat, "the tx is in the chain's first block: its agency's record is the genesis file's, not an agency_query")
		}
		needed = []int64{m.Height, m.Height + 1}
	case KindGrant, KindLicence, KindPayment, KindAgency, KindTotal:
		if b.Query == nil {
			return rep, bundleErr(StepFormat, "a record bundle needs abci_query")
		}
		st, key, err := RecordLocation(m.Kind, m.ID)
		if err != nil {
			return rep, bundleErr(StepFormat, "%v", err)
		}
		if (m.Store != "" && m.Store != st) || (m.Key != "" && m.Key != string(key)) {
			return rep, bundleErr(StepFormat, "manifest names key %q of store %q, but %s %s is key %q of store %q", m.Key, m.Store, m.Kind, m.ID, key, st)
		}
		rep.Store, rep.Key = st, string(key)
		if m.Height < genesis.InitialHeight-1 || m.Height < 0 {
			return rep, bundleErr(StepFormat, "state height %d", m.Height)
		}
		needed = []int64{m.Height + 1}
	default:
		return rep, bundleErr(StepFormat, "unknown bundle kind %q", m.Kind)
	}
	if len(b.LightBlocks) == 0 {
		return rep, bundleErr(StepFormat, "no light blocks")
	}
	for i, lb := range b.LightBlocks {
		if lb == nil || lb.SignedHeader == nil || lb.Header == nil || lb.Commit == nil || lb.ValidatorSet == nil {
			return rep, bundleErr(StepFormat, "light_blocks[%d] is incomplete (signed_header.header, signed_header.commit and validator_set are needed)", i)
		}
	}
	rep.step(StepFormat, "bundle format %d: %s %s on chain %s at height %d", m.Format, m.Kind, m.ID, m.ChainID, m.Height)

	// 2. genesis
	if !strings.EqualFold(strings.TrimSpace(m.GenesisSHA256), strings.TrimSpace(genesisSHA256)) || genesisSHA256 == "" {
		return rep, bundleErr(StepGenesis, "the bundle was made for the genesis file with sha256 %s, this one has sha256 %s", m.GenesisSHA256, genesisSHA256)
	}
	rep.step(StepGenesis, "the genesis file's sha256 %s is the bundle's", strings.ToLower(genesisSHA256))

	// 3. chain id
	if m.ChainID != genesis.ChainID {
		return rep, bundleErr(StepChainID, "the bundle is for chain %q, the genesis for %q", m.ChainID, genesis.ChainID)
	}
	rep.step(StepChainID, "%s", genesis.ChainID)

	// 4. first block
	first := b.LightBlocks[0]
	if err := FirstBlock(genesis, first); err != nil {
		return rep, &BundleError{Step: StepFirstBlock, Err: err}
	}
	names := validatorNames(genesis)
	rep.step(StepFirstBlock, "header %d %X signed by %d of the %d genesis validators", first.Height, first.Hash(),
		len(verifiedSigners(genesis.ChainID, first.ValidatorSet, first.Commit, names)), len(genesis.Validators))

	// 5. header chain: one light block per height, ascending, each verified
	// from the one before. Only verified blocks are used from here on.
	for i := 1; i < len(b.LightBlocks); i++ {
		if prev, lb := b.LightBlocks[i-1], b.LightBlocks[i]; lb.Height <= prev.Height {
			return rep, bundleErr(StepHeaderChain, "light_blocks[%d] has height %d, not above light_blocks[%d]'s %d: a bundle carries one light block per height, in ascending order",
				i, lb.Height, i-1, prev.Height)
		}
	}
	if _, err := Chain(first, b.LightBlocks[1:], now); err != nil {
		return rep, &BundleError{Step: StepHeaderChain, Err: err}
	}
	byHeight := map[int64]*cmttypes.LightBlock{}
	var heights []string
	for _, lb := range b.LightBlocks {
		heights = append(heights, fmt.Sprint(lb.Height))
		byHeight[lb.Height] = lb
	}
	rep.step(StepHeaderChain, "%d light blocks verified in turn from the first block (heights %s)", len(byHeight), strings.Join(heights, ", "))
	for _, h := range needed {
		lb := byHeight[h]
		if lb == nil {
			return rep, bundleErr(StepHeaders, "header %d, which the proof needs, is not among the verified light blocks", h)
		}
		rep.Headers = append(rep.Headers, ReportHeader{
			Height: h, Hash: fmt.Sprintf("%X", lb.Hash()), Time: lb.Time.UTC().Format(time.RFC3339Nano),
			AppHash: fmt.Sprintf("%X", []byte(lb.AppHash)),
			Signers: verifiedSigners(genesis.ChainID, lb.ValidatorSet, lb.Commit, names),
		})
	}
	hs := make([]string, len(needed))
	for i, h := range needed {
		hs[i] = fmt.Sprint(h)
	}
	rep.step(StepHeaders, "header(s) %s verified", strings.Join(hs, " and "))

	if m.Kind == KindTx {
		header, next := byHeight[m.Height], byHeight[m.Height+1]
		if !bytes.Equal(next.LastBlockID.Hash, header.Hash()) {
			return rep, &BundleError{Step: StepHeaders, Err: headerErr(next.Height, "names block %X as its parent, not header %d %X", next.LastBlockID.Hash, header.Height, header.Hash())}
		}
		return verifyTxBundle(b, genesis, rep, header, next)
	}
	return verifyRecordBundle(b, rep, byHeight[m.Height+1])
}

func verifyRecordBundle(b *Bundle, rep *BundleReport, next *cmttypes.LightBlock) (*BundleReport, error) {
	m := &b.Manifest
	value, err := checkQuery(StepQuery, &b.Query.Response, rep.Store, []byte(rep.Key), m.Height)
	if err != nil {
		return rep, err
	}
	rep.step(StepQuery, "the query answers key %q of store %s at height %d", rep.Key, rep.Store, m.Height)
	if _, err := StoreValue(next.AppHash, rep.Store, []byte(rep.Key), value, b.Query.Response.ProofOps.Ops); err != nil {
		return rep, &BundleError{Step: StepStoreProof, Err: err}
	}
	rep.Present = value != nil
	if rep.Present {
		if json.Valid(value) {
			rep.Value = append(json.RawMessage(nil), value...)
		} else {
			rep.Value, _ = json.Marshal(value)
		}
		rep.step(StepStoreProof, "%s %s is PRESENT at height %d (value sha256 %x), proved against AppHash %X of header %d",
			m.Kind, m.ID, m.Height, sha256.Sum256(value), []byte(next.AppHash), next.Height)
		rep.Outcome = "VERIFIED"
	} else {
		rep.step(StepStoreProof, "%s %s is ABSENT at height %d, proved against AppHash %X of header %d",
			m.Kind, m.ID, m.Height, []byte(next.AppHash), next.Height)
		rep.Outcome = "VERIFIED ABSENT"
	}
	return rep, nil
}

// checkQuery checks that a query response is a successful, proved answer
// for key at height, and returns its value (nil: absent).
func checkQuery(step string, res *abci.ResponseQuery, store string, key []byte, height int64) ([]byte, error) {
	switch {
	case res.Code != 0:
		return nil, bundleErr(step, "the query failed with code %d: %s", res.Code, res.Log)
	case !bytes.Equal(res.Key, key):
		return nil, bundleErr(step, "the query answers key %q, the bundle is about key %q", res.Key, key)
	case res.Height != height:
		return nil, bundleErr(step, "the query answers for height %d, the bundle is about height %d", res.Height, height)
	case res.ProofOps == nil:
		return nil, bundleErr(step, "the query has no proof")
	}
	if len(res.Value) == 0 {
		return nil, nil
	}
	return res.Value, nil
}

func verifyTxBundle(b *Bundle, genesis *cmttypes.GenesisDoc, rep *BundleReport, header, next *cmttypes.LightBlock) (*BundleReport, error) {
	m := &b.Manifest
	t := b.Tx
	hash, err := hex.DecodeString(m.ID)
	if err != nil || len(hash) != sha256.Size {
		return rep, bundleErr(StepFormat, "tx id %q is not a sha256 in hex", m.ID)
	}
	if !bytes.Equal(t.Hash, hash) || t.Height != m.Height {
		return rep, bundleErr(StepTxInclusion, "the tx response is for tx %X at height %d, the bundle is about %X at height %d", []byte(t.Hash), t.Height, hash, m.Height)
	}
	if err := TxInclusion(header.Header, hash, t.Tx, t.Proof); err != nil {
		return rep, &BundleError{Step: StepTxInclusion, Err: err}
	}
	if t.Proof.Proof.Index != int64(t.Index) {
		return rep, &BundleError{Step: StepTxInclusion, Err: txErr("inclusion", "the proof is for index %d, the response claims index %d", t.Proof.Proof.Index, t.Index)}
	}
	rep.step(StepTxInclusion, "tx %X is tx %d of %d in block %d (DataHash %X)", hash, t.Index, t.Proof.Proof.Total, header.Height, []byte(header.DataHash))

	rep.Tx = &ReportTx{Hash: fmt.Sprintf("%X", hash), Height: t.Height, Index: t.Index}

	// The result, before the signatures: a tx the chain rejected may carry
	// signatures that do not verify, or not even decode.
	results := b.BlockResults
	if results.Height != t.Height {
		return rep, bundleErr(StepTxResult, "block_results are for height %d, the tx is at %d", results.Height, t.Height)
	}
	if len(results.AppHash) > 0 && !bytes.Equal(results.AppHash, next.AppHash) {
		return rep, bundleErr(StepTxResult, "block_results give AppHash %X, header %d has %X", results.AppHash, next.Height, []byte(next.AppHash))
	}
	if int(t.Proof.Proof.Total) != len(results.TxsResults) {
		return rep, bundleErr(StepTxResult, "block %d has %d txs but %d results", t.Height, t.Proof.Proof.Total, len(results.TxsResults))
	}
	for i, r := range results.TxsResults {
		if r == nil {
			return rep, bundleErr(StepTxResult, "block_results.txs_results[%d] is null", i)
		}
	}
	res, err := TxResult(next.Header, results.TxsResults, int(t.Index))
	if err != nil {
		return rep, &BundleError{Step: StepTxResult, Err: err}
	}
	claimed := &t.TxResult
	if claimed.Code != res.Code || !bytes.Equal(claimed.Data, res.Data) || claimed.GasWanted != res.GasWanted || claimed.GasUsed != res.GasUsed {
		return rep, &BundleError{Step: StepTxResult, Err: txErr("result",
			"the tx response claims code %d, the result committed in header %d has code %d", claimed.Code, next.Height, res.Code)}
	}
	rep.Tx.Code = res.Code
	rep.Unverified.Log, rep.Unverified.Codespace, rep.Unverified.Events = res.Log, res.Codespace, res.Events
	resultStep := func() {
		if res.Code == 0 {
			rep.step(StepTxResult, "code 0 (success), committed in LastResultsHash %X of header %d", []byte(next.LastResultsHash), next.Height)
		} else {
			rep.step(StepTxResult, "code %d (REJECTED by the chain), committed in LastResultsHash %X of header %d", res.Code, []byte(next.LastResultsHash), next.Height)
		}
	}

	// The agency record the signers are checked against.
	tx, err := ledger.DecodeTx(t.Tx, 0)
	if err != nil {
		if res.Code == 0 {
			return rep, &BundleError{Step: StepSignatures, Err: txErr("signature", "undecodable tx: %v", err)}
		}
		rep.step(StepSignatures, "the tx does not decode (%v), consistent with the chain's rejection of it", err)
		resultStep()
		rep.Outcome = "VERIFIED"
		return rep, nil
	}
	rep.Tx.Type, rep.Tx.Agency, rep.Tx.Payload = tx.Body.Type, tx.Body.Agency, append(json.RawMessage(nil), tx.Body.Payload...)
	// The record the chain authorized the tx with: carried by the result
	// if it was written earlier in the block, else the record before the
	// block, whose digest the result commits.
	var before []byte
	data, derr := ledger.DecodeResultData(res.Data)
	if derr != nil || data.Auth == nil || len(data.Auth.Record) == 0 {
		if before, err = agencyBefore(b, genesis, tx.Body.Agency, header, rep); err != nil {
			return rep, err
		}
	}
	agency, fromResult, err := TxAuthority(tx, res.Data, before)
	if err != nil {
		return rep, &BundleError{Step: StepAgencyRecord, Err: err}
	}
	switch {
	case fromResult:
		rep.Tx.AgencyRecord = "result"
		rep.step(StepAgencyRecord, "agency %s (%d officers) as the chain authorized the tx: the record was written earlier in block %d, and the tx's result carries it (sha256 %s), committed in LastResultsHash %X of header %d",
			agency.ID, len(agency.Officers), header.Height, data.Auth.RecordSHA256, []byte(next.LastResultsHash), next.Height)
	case data.Auth != nil:
		rep.step(StepAgencyRecord, "the tx's result commits sha256 %s of that record: the chain authorized the tx with it", data.Auth.RecordSHA256)
	}

	// Signatures.
	if _, err := TxSignatures(t.Tx, agency); err != nil {
		if res.Code == 0 {
			return rep, &BundleError{Step: StepSignatures, Err: err}
		}
		rep.step(StepSignatures, "do not verify (%v), consistent with the chain's rejection of the tx", err)
	} else {
		for _, s := range tx.Signatures {
			ts := TxSigner{PubKey: hex.EncodeToString(s.PubKey)}
			if o := agency.Officer(s.PubKey); o != nil {
				ts.Name, ts.Roles = o.Name, o.Roles
			}
			rep.Tx.Signers = append(rep.Tx.Signers, ts)
		}
		role, _ := ledger.RequiredRole(tx.Body.Type)
		rep.step(StepSignatures, "%d signature(s) verify, each by an officer of %s with role %s", len(tx.Signatures), agency.ID, role)
	}
	resultStep()
	rep.Outcome = "VERIFIED"
	return rep, nil
}

// agencyBefore returns the stored value of the acting agency's record as it
// stood before the tx's block (nil if absent): the agency_query's, proved
// against the AppHash of header H, or for a tx of the chain's first block
// the genesis file's (as the state machine stores it, ledger.AgencyValue).
func agencyBefore(b *Bundle, genesis *cmttypes.GenesisDoc, id string, header *cmttypes.LightBlock, rep *BundleReport) ([]byte, error) {
	h := b.Manifest.Height
	if h == genesis.InitialHeight {
		var gs ledger.GenesisState
		if err := json.Unmarshal(genesis.AppState, &gs); err != nil {
			return nil, bundleErr(StepAgencyRecord, "the genesis app_state does not decode: %v", err)
		}
		for i := range gs.Agencies {
			if gs.Agencies[i].ID == id {
				value, err := ledger.AgencyValue(&gs.Agencies[i])
				if err != nil {
					return nil, bundleErr(StepAgencyRecord, "the genesis record of agency %s does not encode: %v", id, err)
				}
				rep.Tx.AgencyRecord = "genesis"
				rep.step(StepAgencyRecord, "agency %s from the genesis file (%d officers): the tx is in the chain's first block", id, len(gs.Agencies[i].Officers))
				return value, nil
			}
		}
		rep.step(StepAgencyRecord, "agency %s is ABSENT from the genesis file", id)
		return nil, nil
	}
	if b.AgencyQuery == nil {
		return nil, bundleErr(StepAgencyRecord, "no agency_query: the record of agency %q before block %d is needed to check the signers", id, h)
	}
	aq := &b.AgencyQuery.Response
	key := ledger.RecordKey(id)
	value, err := checkQuery(StepAgencyRecord, aq, ledger.StoreAgencies, key, h-1)
	if err != nil {
		return nil, err
	}
	if _, err := StoreValue(header.AppHash, ledger.StoreAgencies, key, value, aq.ProofOps.Ops); err != nil {
		return nil, &BundleError{Step: StepAgencyRecord, Err: err}
	}
	if value == nil {
		rep.step(StepAgencyRecord, "agency %s is ABSENT at height %d, proved against AppHash %X of header %d", id, h-1, []byte(header.AppHash), header.Height)
		return nil, nil
	}
	agency := new(ledger.Agency)
	if err := json.Unmarshal(value, agency); err != nil {
		return nil, bundleErr(StepAgencyRecord, "the proved agency record does not decode: %v", err)
	}
	rep.Tx.AgencyRecord = "before"
	rep.step(StepAgencyRecord, "agency %s at height %d (%d officers, sha256 %s), proved against AppHash %X of header %d", agency.ID, h-1, len(agency.Officers), ledger.RecordDigest(value), []byte(header.AppHash), header.Height)
	return value, nil
}

// validatorNames maps validator addresses (upper-case hex) to the genesis
// validators' names (their agencies).
func validatorNames(doc *cmttypes.GenesisDoc) map[string]string {
	names := map[string]string{}
	for _, v := range doc.Validators {
		if v.PubKey != nil && v.Name != "" {
			names[v.PubKey.Address().String()] = v.Name
		}
	}
	return names
}

// verifiedSigners returns the validators of vals whose commit signature for
// the block verifies (VerifyCommitLight stops once more than 2/3 signed, so
// CommitSigners may list a signature nobody checked), sorted by address.
func verifiedSigners(chainID string, vals *cmttypes.ValidatorSet, commit *cmttypes.Commit, names map[string]string) []Signer {
	out := []Signer{}
	for i, cs := range commit.Signatures {
		if cs.BlockIDFlag != cmttypes.BlockIDFlagCommit {
			continue
		}
		_, v := vals.GetByAddress(cs.ValidatorAddress)
		if v == nil || v.PubKey == nil || !v.PubKey.VerifySignature(commit.VoteSignBytes(chainID, int32(i)), cs.Signature) {
			continue
		}
		addr := v.Address.String()
		out = append(out, Signer{Address: addr, Name: names[addr], Power: v.VotingPower})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out
}
