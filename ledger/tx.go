package ledger

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"unicode/utf8"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
)

// SignDomain prefixes every signed message, so that a signature over a Civic
// Ledger transaction can never be replayed as a signature over anything else.
const SignDomain = "civic-ledger/tx/v1\n"

// Signature is one officer's ed25519 signature over SignBytes(body).
type Signature struct {
	PubKey    []byte `json:"pub_key"`
	Signature []byte `json:"signature"`
}

// Envelope is the wire form of a transaction. Body is kept as the exact bytes
// that were signed.
type Envelope struct {
	Body       json.RawMessage `json:"body"`
	Signatures []Signature     `json:"signatures"`
}

// Body is the signed part of a transaction.
type Body struct {
	ChainID   string          `json:"chain_id"`
	Type      string          `json:"type"`
	Agency    string          `json:"agency"`
	Signer    []byte          `json:"signer"` // the acting officer's public key; must sign first
	Nonce     uint64          `json:"nonce"`
	ExpiresAt int64           `json:"expires_at"` // last block height at which the tx is valid
	Payload   json.RawMessage `json:"payload"`
}

// Tx is a decoded, canonical transaction.
type Tx struct {
	Raw        []byte
	Hash       [32]byte // sha256(Raw), as CometBFT computes tx hashes
	Body       Body
	BodyBytes  []byte
	Payload    Payload
	Signatures []Signature
}

// Limits on the shape of a transaction.
const (
	MaxSignatures = 4
	maxJSONDepth  = 8
)

// SignBytes returns the message an officer signs for a body.
func SignBytes(body []byte) []byte {
	msg := make([]byte, 0, len(SignDomain)+len(body))
	msg = append(msg, SignDomain...)
	return append(msg, body...)
}

// Canonical encodes v as canonical JSON: struct field order, no insignificant
// whitespace, no HTML escaping.
func Canonical(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// strictDecode decodes data into v, rejecting unknown fields, duplicate keys,
// deep nesting and trailing data, then checks that re-encoding v gives data
// back byte for byte.
//
// The token-level shape check (duplicate keys, nesting) is costly, and any
// input it rejects also fails decoding or the byte comparison, so it runs
// only on the failure path, to name the problem precisely.
//
// The common case, canonical input, takes a fast path: json.Unmarshal (one
// scan of data, no copy, unlike a json.Decoder) and the byte comparison.
// It accepts exactly the inputs strictDecodeFull accepts, with the same
// result: data equal to Canonical(v) has no unknown or duplicate key, no
// other spelling of a field name, no trailing data or whitespace. Any other
// input goes through strictDecodeFull from a zero v, so each rejection
// keeps its error (code and log) exactly (FuzzDecodeTx compares the two).
func strictDecode(what string, data []byte, v any) error {
	// Needed before the fast path too: a json.RawMessage field (the
	// envelope's body) round-trips invalid UTF-8 verbatim (FuzzDecodeTx's
	// invalid-utf8 seed fails without it).
	if !utf8.Valid(data) {
		return fmt.Errorf("%s: invalid UTF-8: %w", what, ErrMalformed)
	}
	if json.Unmarshal(data, v) == nil {
		if re, err := Canonical(v); err == nil && bytes.Equal(re, data) {
			return nil
		}
	}
	reflect.ValueOf(v).Elem().SetZero()
	return strictDecodeFull(what, data, v)
}

// strictDecodeFull is strictDecode without its fast path.
func strictDecodeFull(what string, data []byte, v any) error {
	if !utf8.Valid(data) {
		return fmt.Errorf("%s: invalid UTF-8: %w", what, ErrMalformed)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if serr := checkJSONShape(what, data); serr != nil {
			return serr
		}
		return classifyDecodeError(what, data, v, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if serr := checkJSONShape(what, data); serr != nil {
			return serr
		}
		return fmt.Errorf("%s: trailing data after JSON value: %w", what, ErrMalformed)
	}
	re, err := Canonical(v)
	if err != nil {
		return fmt.Errorf("%s: %v: %w", what, err, ErrMalformed)
	}
	if !bytes.Equal(re, data) {
		if serr := checkJSONShape(what, data); serr != nil {
			return serr
		}
		return fmt.Errorf("%s: not canonical (expected field order, no whitespace, all fields present, canonical base64 and escapes): %w", what, ErrNonCanonical)
	}
	return nil
}

// classifyDecodeError turns a failure of encoding/json on well-shaped data
// into a ledger error. The code (hashed into LastResultsHash) comes from the
// ledger's own look at data, never from the text of err, which a Go release
// may reword: an object key that names no field of the target type is
// ErrUnknownField wherever it appears in the document; otherwise a typed
// *json.UnmarshalTypeError or any other failure is ErrMalformed. err only
// adds detail to the log.
func classifyDecodeError(what string, data []byte, v any, err error) error {
	if path, ok := unknownField(reflect.TypeOf(v), data, what); ok {
		return fmt.Errorf("%s: no such field: %w", path, ErrUnknownField)
	}
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		return fmt.Errorf("%s.%s: wrong type (want %s): %w", what, ute.Field, ute.Type, ErrMalformed)
	}
	return fmt.Errorf("%s: %v: %w", what, err, ErrMalformed)
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// unknownField reports the path of the first object key in data (in
// document order, depth first) that matches no field of t by its exact JSON
// name. It descends into struct fields, pointers, slices and arrays, but not
// into json.RawMessage, whose content is decoded (and checked) on its own.
// Data that does not have the shape of t is not its concern (ok false).
func unknownField(t reflect.Type, data []byte, path string) (string, bool) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t == rawMessageType {
		return "", false
	}
	switch t.Kind() {
	case reflect.Struct:
		dec := json.NewDecoder(bytes.NewReader(data))
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			return "", false
		}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return "", false
			}
			key, _ := tok.(string)
			var val json.RawMessage
			if err := dec.Decode(&val); err != nil {
				return "", false
			}
			f, known := structField(t, key)
			if !known {
				return path + "." + key, true
			}
			if p, ok := unknownField(f.Type, val, path+"."+key); ok {
				return p, true
			}
		}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "", false // []byte is a base64 string
		}
		var elems []json.RawMessage
		if json.Unmarshal(data, &elems) != nil {
			return "", false
		}
		for i, e := range elems {
			if p, ok := unknownField(t.Elem(), e, fmt.Sprintf("%s[%d]", path, i)); ok {
				return p, true
			}
		}
	}
	return "", false
}

// structField finds the exported field of struct type t whose JSON name is
// exactly key.
func structField(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if name == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// checkJSONShape rejects invalid UTF-8, duplicate object keys and excessive
// nesting, which encoding/json would silently accept.
func checkJSONShape(what string, data []byte) error {
	if !utf8.Valid(data) {
		return fmt.Errorf("%s: invalid UTF-8: %w", what, ErrMalformed)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		obj    bool
		keys   map[string]struct{}
		expKey bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %v: %w", what, err, ErrMalformed)
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				if top != nil && top.obj {
					top.expKey = true
				}
				if len(stack) >= maxJSONDepth {
					return fmt.Errorf("%s: nested too deeply: %w", what, ErrMalformed)
				}
				stack = append(stack, &frame{obj: d == '{', keys: map[string]struct{}{}, expKey: true})
			default:
				stack = stack[:len(stack)-1]
			}
			continue
		}
		if top != nil && top.obj {
			if top.expKey {
				k := tok.(string)
				if _, dup := top.keys[k]; dup {
					return fmt.Errorf("%s: duplicate key %q: %w", what, k, ErrMalformed)
				}
				top.keys[k] = struct{}{}
				top.expKey = false
			} else {
				top.expKey = true
			}
		}
	}
}

// DecodeTx strictly decodes a raw transaction. It checks the envelope, body
// and payload encodings and the payload's stateless rules (ValidateBasic), but
// not signatures, chain id or state; see Verify and Apply.
func DecodeTx(raw []byte, maxBytes int64) (*Tx, error) {
	return decodeTx(raw, maxBytes, strictDecode)
}

func decodeTx(raw []byte, maxBytes int64, strictDecode func(what string, data []byte, v any) error) (*Tx, error) {
	if maxBytes > 0 && int64(len(raw)) > maxBytes {
		return nil, fmt.Errorf("tx is %d bytes, limit %d: %w", len(raw), maxBytes, ErrTxTooLarge)
	}
	var env Envelope
	if err := strictDecode("tx", raw, &env); err != nil {
		return nil, err
	}
	tx := &Tx{Raw: raw, Hash: sha256.Sum256(raw), BodyBytes: env.Body, Signatures: env.Signatures}
	if err := strictDecode("body", env.Body, &tx.Body); err != nil {
		return nil, err
	}
	spec, ok := txTypes[tx.Body.Type]
	if !ok {
		return nil, fmt.Errorf("body.type %q: %w", tx.Body.Type, ErrUnknownTxType)
	}
	tx.Payload = spec.new()
	if err := strictDecode("payload", tx.Body.Payload, tx.Payload); err != nil {
		return nil, err
	}
	if err := tx.validateBasic(); err != nil {
		return nil, err
	}
	return tx, nil
}

func (tx *Tx) validateBasic() error {
	b := &tx.Body
	if err := checkID("body.agency", b.Agency); err != nil {
		return err
	}
	if err := checkText("body.chain_id", b.ChainID, 64, true); err != nil {
		return err
	}
	if len(b.Signer) != ed25519.PublicKeySize {
		return fieldErr(ErrInvalidKey, "body.signer", "must be a 32-byte ed25519 public key")
	}
	if b.ExpiresAt <= 0 {
		return fieldErr(ErrInvalidField, "body.expires_at", "must be a positive block height")
	}
	if len(tx.Signatures) == 0 {
		return fieldErr(ErrNoSignature, "signatures", "")
	}
	if len(tx.Signatures) > MaxSignatures {
		return fieldErr(ErrInvalidField, "signatures", "at most %d", MaxSignatures)
	}
	for i, s := range tx.Signatures {
		if len(s.PubKey) != ed25519.PublicKeySize {
			return fieldErr(ErrInvalidKey, fmt.Sprintf("signatures[%d].pub_key", i), "must be 32 bytes")
		}
		if len(s.Signature) != ed25519.SignatureSize {
			return fieldErr(ErrBadSignature, fmt.Sprintf("signatures[%d].signature", i), "must be 64 bytes")
		}
		for j := 0; j < i; j++ {
			if bytes.Equal(tx.Signatures[j].PubKey, s.PubKey) {
				return fieldErr(ErrDuplicateSigner, fmt.Sprintf("signatures[%d].pub_key", i), "")
			}
		}
	}
	if !bytes.Equal(tx.Signatures[0].PubKey, b.Signer) {
		return fieldErr(ErrSignerMismatch, "signatures[0].pub_key", "must equal body.signer")
	}
	return tx.Payload.ValidateBasic()
}

// VerifySignatures checks every signature with CometBFT's ed25519 (ZIP-215
// rules), the same rules as its batch verifier, so a signature is accepted
// or refused identically in CheckTx, in FinalizeBlock and by clients.
func (tx *Tx) VerifySignatures() error {
	msg := SignBytes(tx.BodyBytes)
	for i, s := range tx.Signatures {
		if !cmted25519.PubKey(s.PubKey).VerifySignature(msg, s.Signature) {
			return fieldErr(ErrBadSignature, fmt.Sprintf("signatures[%d]", i), "")
		}
	}
	return nil
}

// NewBody builds a body for payload p with canonical payload bytes.
func NewBody(chainID, agency string, signer ed25519.PublicKey, nonce uint64, expiresAt int64, p Payload) (Body, error) {
	pb, err := Canonical(p)
	if err != nil {
		return Body{}, err
	}
	return Body{ChainID: chainID, Type: p.Type(), Agency: agency, Signer: signer, Nonce: nonce, ExpiresAt: expiresAt, Payload: pb}, nil
}

// SignTx encodes body canonically, signs it with every key (the first must be
// the body's signer) and returns the raw transaction bytes.
func SignTx(body Body, keys ...ed25519.PrivateKey) ([]byte, error) {
	bb, err := Canonical(body)
	if err != nil {
		return nil, err
	}
	env := Envelope{Body: bb}
	msg := SignBytes(bb)
	for _, k := range keys {
		env.Signatures = append(env.Signatures, Signature{PubKey: k.Public().(ed25519.PublicKey), Signature: ed25519.Sign(k, msg)})
	}
	return Canonical(env)
}
