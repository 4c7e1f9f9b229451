package ledger

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"
)

// Reader reads the ledger's stores. Implementations must return nil for an
// absent key and iterate in ascending key order.
type Reader interface {
	Get(store string, key []byte) ([]byte, error)
	// Iterate calls fn for keys in [start, end) in ascending order until fn
	// returns false. A nil end means no upper bound.
	Iterate(store string, start, end []byte, fn func(key, value []byte) bool) error
}

// KV is a writable view of the ledger's stores.
type KV interface {
	Reader
	Set(store string, key, value []byte) error
	Delete(store string, key []byte) error
}

// BlockInfo is everything of a block that the state machine may use. Time is
// the block header's time (agreed by consensus), never the local clock.
type BlockInfo struct {
	ChainID string
	Height  int64
	Time    time.Time
}

// Attribute is one key/value of an event.
type Attribute struct {
	Key, Value string
	Index      bool
}

// Event describes a state change; the node indexes it for tx_search.
type Event struct {
	Type  string
	Attrs []Attribute
}

func event(typ string, kv ...string) Event {
	e := Event{Type: typ, Attrs: make([]Attribute, 0, len(kv)/2)}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Attrs = append(e.Attrs, Attribute{Key: kv[i], Value: kv[i+1], Index: true})
	}
	return e
}

// Result is the outcome of one transaction.
type Result struct {
	Code   Code
	Log    string
	Events []Event
	Err    error  // the full error; Log is its message for ledger errors
	Data   []byte // ResultData of a successful tx (ExecTxResult.Data); nil if rejected
}

// Block applies the transactions of one block, in order, to a KV. It keeps
// per-block caches (agencies, totals) and flushes totals once in End, in
// sorted key order, so that every node writes the same trees in the same
// order. A Block is not safe for concurrent use.
type Block struct {
	kv       KV
	info     BlockInfo
	date     string
	params   Params
	agencies map[string]*Agency
	totals   map[string]*Totals

	valUpdates map[string]int64 // validator key → new power, from governance

	agencyWritten map[string]bool   // agencies whose record this block wrote
	authCache     map[string][]byte // agency → result data of its current record (auth.go)
	txData        []byte            // result data of the tx being delivered
}

// ErrStorage marks a failure of the underlying store: the node must stop, as
// the state can no longer be trusted to match other nodes'.
var ErrStorage = errors.New("storage failure")

// BeginBlock loads the parameters, prunes expired nonces and expires licences
// whose validity ended before the block's date. It returns the events of the
// expirations.
func BeginBlock(kv KV, info BlockInfo) (*Block, []Event, error) {
	b := &Block{
		kv:       kv,
		info:     info,
		date:     info.Time.UTC().Format(DateLayout),
		agencies: map[string]*Agency{},
		totals:   map[string]*Totals{},
	}
	p, err := LoadParams(kv)
	if err != nil {
		return nil, nil, err
	}
	b.params = p
	if err := b.pruneNonces(); err != nil {
		return nil, nil, err
	}
	evs, err := b.expireLicences()
	if err != nil {
		return nil, nil, err
	}
	gevs, err := b.runGovernance()
	if err != nil {
		return nil, nil, err
	}
	return b, append(evs, gevs...), nil
}

// Params returns the parameters in force for this block.
func (b *Block) Params() Params { return b.params }

// Info returns the block this Block applies.
func (b *Block) Info() BlockInfo { return b.info }

// LoadParams reads the chain parameters.
func LoadParams(r Reader) (Params, error) {
	var p Params
	ok, err := getJSON(r, StoreMeta, KeyParams, &p)
	if err != nil {
		return p, err
	}
	if !ok {
		return p, fmt.Errorf("params missing from state: %w", ErrStorage)
	}
	return p, nil
}

func (b *Block) pruneNonces() error {
	var expired [][]byte
	end := []byte(fmt.Sprintf("%s%020d", nonceExpiryPrefix, b.info.Height))
	if err := b.kv.Iterate(StoreMeta, []byte(nonceExpiryPrefix), end, func(k, _ []byte) bool {
		expired = append(expired, bytes.Clone(k))
		return true
	}); err != nil {
		return fmt.Errorf("%w: %v", ErrStorage, err)
	}
	for _, k := range expired {
		// nonce-exp/<expires>/<signer>/<nonce> → nonce/<signer>/<nonce>
		rest := k[len(nonceExpiryPrefix)+21:]
		if err := b.kv.Delete(StoreMeta, append([]byte("nonce/"), rest...)); err != nil {
			return fmt.Errorf("%w: %v", ErrStorage, err)
		}
		if err := b.kv.Delete(StoreMeta, k); err != nil {
			return fmt.Errorf("%w: %v", ErrStorage, err)
		}
	}
	return nil
}

func (b *Block) expireLicences() ([]Event, error) {
	var due [][]byte
	end := []byte(licenceExpiryPrefix + b.date)
	if err := b.kv.Iterate(StoreIndex, []byte(licenceExpiryPrefix), end, func(k, _ []byte) bool {
		due = append(due, bytes.Clone(k))
		return true
	}); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStorage, err)
	}
	var evs []Event
	for _, k := range due {
		id := string(k[len(licenceExpiryPrefix)+len(DateLayout)+1:])
		var l Licence
		ok, err := getJSON(b.kv, StoreLicences, RecordKey(id), &l)
		if err != nil {
			return nil, err
		}
		if err := b.kv.Delete(StoreIndex, k); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrStorage, err)
		}
		if !ok || !CanTransition(KindLicence, l.Status, LicenceExpired) {
			continue
		}
		l.Status = LicenceExpired
		l.Updated = b.info.Height
		if err := b.putLicence(&l); err != nil {
			return nil, err
		}
		evs = append(evs, licenceEvent(&l, ActionExpire))
	}
	return evs, nil
}

// End flushes the block's aggregated totals. Call it once, after the last
// transaction.
func (b *Block) End() error {
	keys := make([]string, 0, len(b.totals))
	for k := range b.totals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := b.put(StoreMeta, []byte(k), b.totals[k]); err != nil {
			return err
		}
	}
	clear(b.totals)
	return nil
}

// Deliver applies one decoded transaction whose signatures the caller has
// already verified (see Tx.VerifySignatures). It checks chain id, replay
// window, nonce, authorization and the type's rules, then writes. A rejected
// transaction writes no record; once it is known to be for this chain and not
// expired, its (signer, nonce) is consumed whatever the result, so the signed
// bytes can never succeed later.
func (b *Block) Deliver(tx *Tx) Result {
	b.txData = nil
	evs, err := b.deliver(tx)
	if err != nil {
		if errors.Is(err, ErrStorage) {
			panic(err)
		}
		return Result{Code: CodeOf(err), Log: err.Error(), Err: err}
	}
	return Result{Code: CodeOK, Events: evs, Data: b.txData}
}

func (b *Block) deliver(tx *Tx) ([]Event, error) {
	body := &tx.Body
	// Size first, as DecodeTx checks it first: the limit is a parameter
	// that may have changed since the tx was decoded.
	if int64(len(tx.Raw)) > b.params.MaxTxBytes {
		return nil, fmt.Errorf("tx is %d bytes, limit %d: %w", len(tx.Raw), b.params.MaxTxBytes, ErrTxTooLarge)
	}
	if body.ChainID != b.info.ChainID {
		return nil, fieldErr(ErrWrongChainID, "body.chain_id", "got %q, want %q", body.ChainID, b.info.ChainID)
	}
	if body.ExpiresAt < b.info.Height {
		return nil, fieldErr(ErrTxExpired, "body.expires_at", "%d is below block height %d", body.ExpiresAt, b.info.Height)
	}
	nk := nonceKey(body.Signer, body.Nonce)
	used, err := b.kv.Get(StoreMeta, nk)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStorage, err)
	}
	// An expiry beyond the replay window writes nothing: recording its
	// nonce would keep a key in state until that expiry, which a proposer
	// could set to any height (ProcessProposal refuses such blocks, so only
	// a byzantine majority could get one in).
	if body.ExpiresAt > b.info.Height+b.params.ReplayWindow {
		return nil, fieldErr(ErrExpiryTooFar, "body.expires_at", "%d is more than %d blocks past height %d", body.ExpiresAt, b.params.ReplayWindow, b.info.Height)
	}
	// From here on the tx is signed (the caller verified the signatures)
	// for this chain, inside its window: whatever its result, it consumes
	// (signer, nonce) until its expires_at, so that the same bytes can never
	// succeed later, once its signer has become an officer, its agency has
	// been admitted or its officer has gained the role. CheckTx refuses such
	// a tx, so it reaches a block only through a byzantine proposer or a
	// state change since CheckTx.
	if err := b.consumeNonce(body, nk, used); err != nil {
		return nil, err
	}
	if used != nil {
		return nil, fieldErr(ErrNonceReplayed, "body.nonce", "%d already used by this signer", body.Nonce)
	}
	ag, err := b.agency(body.Agency)
	if err != nil {
		return nil, err
	}
	if !ag.Active() {
		return nil, fieldErr(ErrAgencyRemoved, "body.agency", "%s was removed at height %d: its officers can no longer act", ag.ID, ag.Removed)
	}
	officers := make([]*Officer, len(tx.Signatures))
	for i, s := range tx.Signatures {
		o := ag.Officer(s.PubKey)
		if o == nil {
			return nil, fieldErr(ErrNotOfficer, fmt.Sprintf("signatures[%d]", i), "key %s is not an officer of %s", shortKey(s.PubKey), ag.ID)
		}
		officers[i] = o
	}
	role := txTypes[body.Type].role
	for i, o := range officers {
		if !o.HasRole(role) {
			return nil, fieldErr(ErrMissingRole, fmt.Sprintf("signatures[%d]", i), "officer %q of %s lacks role %q for %s", o.Name, ag.ID, role, body.Type)
		}
	}
	// The record the signers were authorized with, before the tx's own
	// changes to it, for the result data.
	if b.txData, err = b.authData(ag.ID); err != nil {
		return nil, err
	}
	evs, err := b.apply(tx, ag)
	if err != nil {
		return nil, err
	}
	txEv := event(EventTx, AttrType, body.Type, AttrAgency, body.Agency, AttrSigner, hex.EncodeToString(body.Signer))
	return append([]Event{txEv}, evs...), nil
}

// consumeNonce records (signer, nonce) as used until body.ExpiresAt. An entry
// already there (used, its expiry in decimal) is kept if it lasts at least as
// long, and otherwise extended to body.ExpiresAt: a second tx under the same
// nonce with a later expiry, refused now, must not succeed once the first
// one's entry is pruned.
func (b *Block) consumeNonce(body *Body, nk, used []byte) error {
	if used != nil {
		prev, err := strconv.ParseInt(string(used), 10, 64)
		if err != nil {
			return fmt.Errorf("%w: nonce entry %s: %v", ErrStorage, nk, err)
		}
		if prev >= body.ExpiresAt {
			return nil
		}
		if err := b.kv.Delete(StoreMeta, nonceExpiryKey(prev, body.Signer, body.Nonce)); err != nil {
			return fmt.Errorf("%w: %v", ErrStorage, err)
		}
	}
	if err := b.set(StoreMeta, nk, []byte(strconv.FormatInt(body.ExpiresAt, 10))); err != nil {
		return err
	}
	return b.set(StoreMeta, nonceExpiryKey(body.ExpiresAt, body.Signer, body.Nonce), []byte("1"))
}

// apply runs the type's rules. Every handler checks all of its rules before
// its first write, so a rejected transaction writes nothing.
func (b *Block) apply(tx *Tx, ag *Agency) ([]Event, error) {
	switch p := tx.Payload.(type) {
	case *GrantAward:
		return b.grantAward(ag, p)
	case *GrantAmend:
		return b.grantAmend(ag, p)
	case *GrantClose:
		return b.grantEnd(ag, p.ID, GrantClosed, ActionClose)
	case *GrantRevoke:
		return b.grantEnd(ag, p.ID, GrantRevoked, ActionRevoke)
	case *LicenceIssue:
		return b.licenceIssue(ag, p)
	case *LicenceRenew:
		return b.licenceRenew(ag, p)
	case *LicenceSuspend:
		return b.licenceStatus(ag, p.ID, ActionSuspend, LicenceSuspended)
	case *LicenceReinstate:
		return b.licenceStatus(ag, p.ID, ActionReinstate, LicenceReinstated)
	case *LicenceRevoke:
		return b.licenceStatus(ag, p.ID, ActionRevoke, LicenceRevoked)
	case *PaymentRecord:
		return b.paymentRecord(tx, ag, p)
	case *PaymentReverse:
		return b.paymentReverse(tx, ag, p)
	case *OfficerAdd:
		return b.officerAdd(ag, p)
	case *OfficerRemove:
		return b.officerRemove(ag, p)
	case *OfficerSetRoles:
		return b.officerSetRoles(ag, p)
	case *GovPropose:
		return b.govPropose(tx, ag, p)
	case *GovVote:
		return b.govVote(tx, ag, p)
	}
	return nil, fmt.Errorf("body.type %q: %w", tx.Body.Type, ErrUnknownTxType)
}

// shortKey names a key in a rule error as agency records and the CLI show
// keys (base64), shortened, and labelled as such.
func shortKey(k []byte) string {
	b := base64.StdEncoding.EncodeToString(k)
	if len(b) > 16 {
		b = b[:16] + "…"
	}
	return b + " (base64)"
}

// agency loads an agency through the block cache.
func (b *Block) agency(id string) (*Agency, error) {
	if a, ok := b.agencies[id]; ok {
		return a, nil
	}
	var a Agency
	ok, err := getJSON(b.kv, StoreAgencies, RecordKey(id), &a)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fieldErr(ErrUnknownAgency, "body.agency", "%q", id)
	}
	b.agencies[id] = &a
	return &a, nil
}

// total returns the cached, mutable totals of an agency in a currency.
func (b *Block) total(agency, currency string) (*Totals, error) {
	k := string(TotalsKey(agency, currency))
	if t, ok := b.totals[k]; ok {
		return t, nil
	}
	t := &Totals{Agency: agency, Currency: currency}
	if _, err := getJSON(b.kv, StoreMeta, []byte(k), t); err != nil {
		return nil, err
	}
	b.totals[k] = t
	return t, nil
}

func (b *Block) set(store string, key, value []byte) error {
	if err := b.kv.Set(store, key, value); err != nil {
		return fmt.Errorf("%w: %v", ErrStorage, err)
	}
	b.noteWrite(store, key)
	return nil
}

func (b *Block) put(store string, key []byte, v any) error {
	bz, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%w: encode: %v", ErrStorage, err)
	}
	return b.set(store, key, bz)
}

// getJSON reads and decodes a JSON value; ok is false if the key is absent.
func getJSON(r Reader, store string, key []byte, v any) (bool, error) {
	bz, err := r.Get(store, key)
	if err != nil {
		return false, fmt.Errorf("%w: %v", ErrStorage, err)
	}
	if bz == nil {
		return false, nil
	}
	if err := json.Unmarshal(bz, v); err != nil {
		return false, fmt.Errorf("%w: decode %s/%s: %v", ErrStorage, store, key, err)
	}
	return true, nil
}
