package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/civicledger/civicledger/ledger"
)

// AmendGrant completes a grant amendment from the grant as it stands (the
// latest state): a.PeriodEnd left empty keeps the grant's end of period;
// a.Amount, the new awarded total in minor units, keeps the awarded total
// when amount is nil, else is amount(the grant's currency): the caller reads
// an amount given in the grant's currency (its errors are returned as they
// are). a.ID, a.Reason and a.DocumentHash are the caller's. Read errors are
// the typed reads' (ErrNotFound, ...).
func (c *Client) AmendGrant(ctx context.Context, a *ledger.GrantAmend, amount func(currency string) (string, error)) error {
	gr, _, err := c.Grant(ctx, a.ID, 0)
	if err != nil {
		return err
	}
	if amount == nil {
		a.Amount = strconv.FormatInt(int64(gr.Awarded), 10)
	} else {
		minor, err := amount(gr.Currency)
		if err != nil {
			return err
		}
		a.Amount = minor
	}
	if a.PeriodEnd == "" {
		a.PeriodEnd = gr.PeriodEnd
	}
	return nil
}

// ErrNoChange: a params-change that would leave every parameter as it is.
var ErrNoChange = errors.New("the proposal would change nothing")

// CheckParamsChange validates change applied to the default parameters:
// a bad value fails before the chain's parameters are read.
func CheckParamsChange(change func(*ledger.Params)) error {
	d := ledger.DefaultParams()
	change(&d)
	return d.Validate()
}

// ProposedParams is the complete parameter set a params-change proposal
// carries: the chain's current parameters cur (as proved: VerifiedParams)
// with change applied. A change that leaves them as they are is ErrNoChange.
func ProposedParams(cur ledger.Params, change func(*ledger.Params)) (ledger.Params, error) {
	np := cur
	change(&np)
	if np.Equal(cur) {
		return np, ErrNoChange
	}
	return np, nil
}

// Errors of VerifiedParams: the proved parameters are absent or not ones
// this client knows. VerdictOf calls both Failed.
var (
	ErrParamsAbsent  = errors.New("the chain holds no parameters")
	ErrUnknownParams = errors.New("the proved parameters are not ones this client knows")
)

// VerifiedParams reads the chain parameters (meta store, key "params") at
// the latest state with a proof checked against a header verified from the
// trust root, and returns them with their state height. Parameters proved
// absent, or with fields this client does not know, are refused
// (ErrParamsAbsent, ErrUnknownParams).
func (v *Verifier) VerifiedParams(ctx context.Context) (ledger.Params, int64, error) {
	var cur ledger.Params
	kp, err := v.VerifyKey(ctx, ledger.StoreMeta, ledger.KeyParams, 0)
	if err != nil {
		return cur, 0, err
	}
	if !kp.Present {
		return cur, kp.Height, fmt.Errorf("%w at height %d (proved absent)", ErrParamsAbsent, kp.Height)
	}
	dec := json.NewDecoder(bytes.NewReader(kp.Value))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cur); err != nil {
		return cur, kp.Height, &unknownParams{height: kp.Height, err: err}
	}
	return cur, kp.Height, nil
}

// unknownParams is ErrUnknownParams at a height, with the decoding error.
type unknownParams struct {
	height int64
	err    error
}

func (e *unknownParams) Error() string {
	return fmt.Sprintf("the proved parameters at height %d are not ones this client knows: %v", e.height, e.err)
}
func (e *unknownParams) Unwrap() error        { return e.err }
func (e *unknownParams) Is(target error) bool { return target == ErrUnknownParams }

// ProposalID is the id of the proposal a gov/propose tx created, from its
// gov_proposal event; false when the result holds none.
func ProposalID(res *TxResult) (uint64, bool) {
	s, ok := EventAttr(res.Events, ledger.EventProposal, ledger.AttrID)
	id, err := strconv.ParseUint(s, 10, 64)
	if !ok || err != nil || id == 0 {
		return 0, false
	}
	return id, true
}

// EventAttr returns the value of attribute key of the first event of type
// typ.
func EventAttr(evs []abci.Event, typ, key string) (string, bool) {
	for _, e := range evs {
		if e.Type != typ {
			continue
		}
		for _, a := range e.Attributes {
			if a.Key == key {
				return a.Value, true
			}
		}
	}
	return "", false
}

// Errors of the key parsers.
var (
	// ErrKeyEncoding: a key that is neither base64 nor hex (nor, for a
	// validator key, CometBFT's JSON).
	ErrKeyEncoding = errors.New("bad key encoding")
	// ErrKeyLength: a key of the wrong length.
	ErrKeyLength = errors.New("wrong key length")
)

// keyError is a key refused by a parser, with the sentinel it matches.
type keyError struct {
	msg  string
	kind error
}

func (e *keyError) Error() string        { return e.msg }
func (e *keyError) Is(target error) bool { return target == e.kind }

// ParsePublicKey reads an officer's ed25519 public key given as base64
// (std, padded) or 64 hex digits. An encoding error (ErrKeyEncoding) starts
// with the input, quoted; a length error (ErrKeyLength) gives the length.
func ParsePublicKey(s string) ([]byte, error) {
	if len(s) == 2*ed25519.PublicKeySize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, &keyError{fmt.Sprintf("%q: not base64 (std, padded) or hex: %v", s, err), ErrKeyEncoding}
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, &keyError{fmt.Sprintf("%d bytes, want a %d-byte ed25519 public key", len(b), ed25519.PublicKeySize), ErrKeyLength}
	}
	return b, nil
}

// cometPubKeyEd25519 is the amino JSON type name of a CometBFT ed25519 key.
const cometPubKeyEd25519 = "tendermint/PubKeyEd25519"

// ParseValidatorKey reads a validator's ed25519 consensus public key given
// as base64, 64 hex digits, CometBFT's JSON {"type","value"} or a
// priv_validator_key.json (only its pub_key is read).
func ParseValidatorKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "{") {
		if len(s) == 2*ed25519.PublicKeySize {
			if b, err := hex.DecodeString(s); err == nil {
				return b, nil
			}
		}
		b, err := base64.StdEncoding.Strict().DecodeString(s)
		if err != nil || len(b) != ed25519.PublicKeySize {
			return nil, &keyError{fmt.Sprintf("want a %d-byte ed25519 public key as base64, 64 hex digits or CometBFT JSON", ed25519.PublicKeySize), ErrKeyEncoding}
		}
		return b, nil
	}
	type pubKey struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	}
	var v struct {
		pubKey
		PubKey *pubKey `json:"pub_key"` // priv_validator_key.json
	}
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, &keyError{fmt.Sprintf("not a CometBFT key in JSON: %v", err), ErrKeyEncoding}
	}
	pk := v.pubKey
	if v.PubKey != nil {
		pk = *v.PubKey
	}
	if pk.Type != cometPubKeyEd25519 {
		return nil, &keyError{fmt.Sprintf("key type %q, want %q", pk.Type, cometPubKeyEd25519), ErrKeyEncoding}
	}
	b, err := base64.StdEncoding.Strict().DecodeString(pk.Value)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, &keyError{fmt.Sprintf("the key's value is not a %d-byte key in base64", ed25519.PublicKeySize), ErrKeyLength}
	}
	return b, nil
}
