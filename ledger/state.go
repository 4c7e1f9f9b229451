package ledger

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
		if !ok || l.Status == LicenceRevoked || l.Status == LicenceExpired {
			continue
		}
		l.Status = LicenceExpired
		l.Updated = b.info.Height
		if err := b.putLicence(&l); err != nil {
			return nil, err
		}
		evs = append(evs, licenceEvent(&l, "expire"))
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
	txEv := event("tx", "type", body.Type, "agency", body.Agency, "signer", hex.EncodeToString(body.Signer))
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
		return b.grantEnd(ag, p.ID, GrantClosed, "close")
	case *GrantRevoke:
		return b.grantEnd(ag, p.ID, GrantRevoked, "revoke")
	case *LicenceIssue:
		return b.licenceIssue(ag, p)
	case *LicenceRenew:
		return b.licenceRenew(ag, p)
	case *LicenceSuspend:
		return b.licenceStatus(ag, p.ID, "suspend", LicenceSuspended, LicenceIssued, LicenceRenewed, LicenceReinstated)
	case *LicenceReinstate:
		return b.licenceStatus(ag, p.ID, "reinstate", LicenceReinstated, LicenceSuspended)
	case *LicenceRevoke:
		return b.licenceStatus(ag, p.ID, "revoke", LicenceRevoked, LicenceIssued, LicenceRenewed, LicenceSuspended, LicenceReinstated)
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

// ---- grants ----

func (b *Block) loadGrant(ag *Agency, id string) (*Grant, error) {
	var g Grant
	ok, err := getJSON(b.kv, StoreGrants, RecordKey(id), &g)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fieldErr(ErrNotFound, "payload.id", "grant %q", id)
	}
	if g.Agency != ag.ID {
		return nil, fieldErr(ErrWrongAgency, "payload.id", "grant %q belongs to %s", id, g.Agency)
	}
	return &g, nil
}

func (b *Block) putGrant(g *Grant) error {
	if err := b.put(StoreGrants, RecordKey(g.ID), g); err != nil {
		return err
	}
	return b.set(StoreIndex, IndexGrantByAgency(g.Agency, g.ID), []byte(g.Status))
}

func grantEvent(g *Grant, action string) Event {
	return event("grant", "id", g.ID, "agency", g.Agency, "action", action, "status", g.Status,
		"recipient", g.Recipient.Scheme+":"+g.Recipient.ID, "programme", g.Programme,
		"currency", g.Currency, "awarded", strconv.FormatInt(int64(g.Awarded), 10))
}

func (b *Block) grantAward(ag *Agency, p *GrantAward) ([]Event, error) {
	amount, _ := checkAmount("payload.amount", p.Amount)
	if existing, err := b.kv.Get(StoreGrants, RecordKey(p.ID)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStorage, err)
	} else if existing != nil {
		return nil, fieldErr(ErrAlreadyExists, "payload.id", "grant %q", p.ID)
	}
	t, err := b.total(ag.ID, p.Currency)
	if err != nil {
		return nil, err
	}
	if int64(t.Awarded) > maxInt64-amount {
		return nil, fieldErr(ErrAmountOverflow, "payload.amount", "agency total awarded in %s would overflow", p.Currency)
	}
	g := &Grant{
		ID: p.ID, Agency: ag.ID, Recipient: p.Recipient, Programme: p.Programme, Purpose: p.Purpose,
		Awarded: Amount(amount), Currency: p.Currency, PeriodStart: p.PeriodStart, PeriodEnd: p.PeriodEnd,
		DecisionDate: p.DecisionDate, DocumentHash: p.DocumentHash, Status: GrantAwarded,
		Created: b.info.Height, Updated: b.info.Height,
	}
	if err := b.putGrant(g); err != nil {
		return nil, err
	}
	t.Awarded += Amount(amount)
	t.Grants++
	return []Event{grantEvent(g, "award")}, nil
}

func (b *Block) grantAmend(ag *Agency, p *GrantAmend) ([]Event, error) {
	amount, _ := checkAmount("payload.amount", p.Amount)
	g, err := b.loadGrant(ag, p.ID)
	if err != nil {
		return nil, err
	}
	if g.Status != GrantAwarded && g.Status != GrantAmended {
		return nil, fieldErr(ErrIllegalTransition, "payload.id", "grant %q is %s; only awarded or amended grants can be amended", g.ID, g.Status)
	}
	if amount < int64(g.Disbursed) {
		return nil, fieldErr(ErrAmendBelowDisbursed, "payload.amount", "%s is less than the %s already disbursed",
			MoneyWithMinor(amount, g.Currency), MoneyWithMinor(int64(g.Disbursed), g.Currency))
	}
	if p.PeriodEnd < g.PeriodStart {
		return nil, fieldErr(ErrInvalidPeriod, "payload.period_end", "%s is before period start %s", p.PeriodEnd, g.PeriodStart)
	}
	t, err := b.total(ag.ID, g.Currency)
	if err != nil {
		return nil, err
	}
	delta := amount - int64(g.Awarded)
	if delta > 0 && int64(t.Awarded) > maxInt64-delta {
		return nil, fieldErr(ErrAmountOverflow, "payload.amount", "agency total awarded in %s would overflow", g.Currency)
	}
	g.Awarded = Amount(amount)
	g.PeriodEnd = p.PeriodEnd
	g.AmendmentHash = p.DocumentHash // the award decision's hash stays
	g.Status = GrantAmended
	g.Updated = b.info.Height
	if err := b.putGrant(g); err != nil {
		return nil, err
	}
	t.Awarded += Amount(delta)
	ev := grantEvent(g, "amend")
	ev.Attrs = append(ev.Attrs, Attribute{Key: "document_hash", Value: p.DocumentHash, Index: true})
	return []Event{ev}, nil
}

func (b *Block) grantEnd(ag *Agency, id, status, action string) ([]Event, error) {
	g, err := b.loadGrant(ag, id)
	if err != nil {
		return nil, err
	}
	if g.Status != GrantAwarded && g.Status != GrantAmended {
		return nil, fieldErr(ErrIllegalTransition, "payload.id", "grant %q is %s; cannot %s", g.ID, g.Status, action)
	}
	g.Status = status
	g.Updated = b.info.Height
	if err := b.putGrant(g); err != nil {
		return nil, err
	}
	return []Event{grantEvent(g, action)}, nil
}

// ---- licences ----

func (b *Block) loadLicence(ag *Agency, id string) (*Licence, error) {
	var l Licence
	ok, err := getJSON(b.kv, StoreLicences, RecordKey(id), &l)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fieldErr(ErrNotFound, "payload.id", "licence %q", id)
	}
	if l.Agency != ag.ID {
		return nil, fieldErr(ErrWrongAgency, "payload.id", "licence %q belongs to %s", id, l.Agency)
	}
	return &l, nil
}

func (b *Block) putLicence(l *Licence) error {
	if err := b.put(StoreLicences, RecordKey(l.ID), l); err != nil {
		return err
	}
	return b.set(StoreIndex, IndexLicenceByAgency(l.Agency, l.ID), []byte(l.Status))
}

func licenceEvent(l *Licence, action string) Event {
	return event("licence", "id", l.ID, "agency", l.Agency, "action", action, "status", l.Status,
		"holder", l.Holder.Scheme+":"+l.Holder.ID, "type", l.LicenceType, "valid_until", l.ValidUntil)
}

func (b *Block) licenceIssue(ag *Agency, p *LicenceIssue) ([]Event, error) {
	if existing, err := b.kv.Get(StoreLicences, RecordKey(p.ID)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStorage, err)
	} else if existing != nil {
		return nil, fieldErr(ErrAlreadyExists, "payload.id", "licence %q", p.ID)
	}
	if p.ValidUntil < b.date {
		return nil, fieldErr(ErrInvalidPeriod, "payload.valid_until", "%s is before the block date %s", p.ValidUntil, b.date)
	}
	l := &Licence{
		ID: p.ID, Agency: ag.ID, Holder: p.Holder, LicenceType: p.LicenceType, Scope: p.Scope,
		ValidFrom: p.ValidFrom, ValidUntil: p.ValidUntil, DecisionDate: p.DecisionDate,
		ConditionsHash: p.ConditionsHash, Status: LicenceIssued, Created: b.info.Height, Updated: b.info.Height,
	}
	if err := b.putLicence(l); err != nil {
		return nil, err
	}
	if err := b.set(StoreIndex, indexLicenceExpiry(l.ValidUntil, l.ID), []byte("1")); err != nil {
		return nil, err
	}
	return []Event{licenceEvent(l, "issue")}, nil
}

func (b *Block) licenceRenew(ag *Agency, p *LicenceRenew) ([]Event, error) {
	l, err := b.loadLicence(ag, p.ID)
	if err != nil {
		return nil, err
	}
	switch l.Status {
	case LicenceIssued, LicenceRenewed, LicenceReinstated:
	default:
		return nil, fieldErr(ErrIllegalTransition, "payload.id", "licence %q is %s; cannot renew", l.ID, l.Status)
	}
	if p.ValidUntil <= l.ValidUntil {
		return nil, fieldErr(ErrInvalidPeriod, "payload.valid_until", "%s does not extend current validity %s", p.ValidUntil, l.ValidUntil)
	}
	if err := b.kv.Delete(StoreIndex, indexLicenceExpiry(l.ValidUntil, l.ID)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStorage, err)
	}
	l.ValidUntil = p.ValidUntil
	l.RenewalHash = p.DocumentHash // the conditions document's hash stays
	l.Status = LicenceRenewed
	l.Updated = b.info.Height
	if err := b.putLicence(l); err != nil {
		return nil, err
	}
	if err := b.set(StoreIndex, indexLicenceExpiry(l.ValidUntil, l.ID), []byte("1")); err != nil {
		return nil, err
	}
	ev := licenceEvent(l, "renew")
	ev.Attrs = append(ev.Attrs, Attribute{Key: "document_hash", Value: p.DocumentHash, Index: true})
	return []Event{ev}, nil
}

func (b *Block) licenceStatus(ag *Agency, id, action, to string, from ...string) ([]Event, error) {
	l, err := b.loadLicence(ag, id)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(from, l.Status) {
		return nil, fieldErr(ErrIllegalTransition, "payload.id", "licence %q is %s; cannot %s", l.ID, l.Status, action)
	}
	l.Status = to
	l.Updated = b.info.Height
	if to == LicenceRevoked {
		if err := b.kv.Delete(StoreIndex, indexLicenceExpiry(l.ValidUntil, l.ID)); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrStorage, err)
		}
	}
	if err := b.putLicence(l); err != nil {
		return nil, err
	}
	return []Event{licenceEvent(l, action)}, nil
}

// ---- payments ----

const maxInt64 = int64(^uint64(0) >> 1)

func paymentEvent(p *Payment, action string) Event {
	return event("payment", "id", p.ID, "agency", p.Agency, "action", action, "status", p.Status,
		"grant", p.Grant, "payee", p.Payee.Scheme+":"+p.Payee.ID, "currency", p.Currency,
		"amount", strconv.FormatInt(int64(p.Amount), 10))
}

func (b *Block) putPayment(p *Payment) error {
	if err := b.put(StorePayments, RecordKey(p.ID), p); err != nil {
		return err
	}
	if err := b.set(StoreIndex, IndexPaymentByAgency(p.Agency, p.ID), []byte(p.Status)); err != nil {
		return err
	}
	if p.Grant != "" {
		return b.set(StoreIndex, IndexPaymentByGrant(p.Grant, p.ID), []byte(p.Status))
	}
	return nil
}

// fourEyes checks that a payment above its currency's threshold carries at
// least two officers' signatures (their finance role is checked for every
// signer).
func (b *Block) fourEyes(tx *Tx, amount int64, currency string) error {
	if limit := b.params.FourEyesFor(currency); amount > int64(limit) && len(tx.Signatures) < 2 {
		return fieldErr(ErrFourEyes, "signatures", "amount %s exceeds the %s threshold %s: two finance officers must sign",
			MoneyWithMinor(amount, currency), currency, MoneyWithMinor(int64(limit), currency))
	}
	return nil
}

func signerKeys(tx *Tx) [][]byte {
	out := make([][]byte, len(tx.Signatures))
	for i, s := range tx.Signatures {
		out[i] = s.PubKey
	}
	return out
}

func (b *Block) paymentRecord(tx *Tx, ag *Agency, p *PaymentRecord) ([]Event, error) {
	amount, _ := checkAmount("payload.amount", p.Amount)
	if existing, err := b.kv.Get(StorePayments, RecordKey(p.ID)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStorage, err)
	} else if existing != nil {
		return nil, fieldErr(ErrAlreadyExists, "payload.id", "payment %q", p.ID)
	}
	if err := b.fourEyes(tx, amount, p.Currency); err != nil {
		return nil, err
	}
	var g *Grant
	if p.Grant != "" {
		var gr Grant
		ok, err := getJSON(b.kv, StoreGrants, RecordKey(p.Grant), &gr)
		if err != nil {
			return nil, err
		}
		switch {
		case !ok:
			return nil, fieldErr(ErrNotFound, "payload.grant", "grant %q", p.Grant)
		case gr.Agency != ag.ID:
			return nil, fieldErr(ErrWrongAgency, "payload.grant", "grant %q belongs to %s", p.Grant, gr.Agency)
		case gr.Status != GrantAwarded && gr.Status != GrantAmended:
			return nil, fieldErr(ErrGrantNotPayable, "payload.grant", "grant %q is %s", p.Grant, gr.Status)
		case gr.Currency != p.Currency:
			return nil, fieldErr(ErrCurrencyMismatch, "payload.currency", "grant %q is in %s, payment in %s", p.Grant, gr.Currency, p.Currency)
		case !gr.Recipient.SameEntity(p.Payee):
			return nil, fieldErr(ErrPayeeMismatch, "payload.payee", "grant %q recipient is %s:%s", p.Grant, gr.Recipient.Scheme, gr.Recipient.ID)
		}
		if err := checkPaymentDate(p.Date, &gr); err != nil {
			return nil, err
		}
		if amount > int64(gr.Awarded-gr.Disbursed) {
			c := gr.Currency
			return nil, fieldErr(ErrOverpayment, "payload.amount", "%s exceeds the %s remaining of grant %q (awarded %s, disbursed %s)",
				MoneyWithMinor(amount, c), MoneyWithMinor(int64(gr.Awarded-gr.Disbursed), c), gr.ID, FormatMoney(int64(gr.Awarded), c), FormatMoney(int64(gr.Disbursed), c))
		}
		g = &gr
	}
	t, err := b.total(ag.ID, p.Currency)
	if err != nil {
		return nil, err
	}
	if int64(t.Paid) > maxInt64-amount {
		return nil, fieldErr(ErrAmountOverflow, "payload.amount", "agency total paid in %s would overflow", p.Currency)
	}
	pay := &Payment{
		ID: p.ID, Agency: ag.ID, Payee: p.Payee, Amount: Amount(amount), Currency: p.Currency, Date: p.Date,
		Purpose: p.Purpose, Grant: p.Grant, Status: PaymentRecorded, Approved: signerKeys(tx),
		Created: b.info.Height, Updated: b.info.Height,
	}
	if err := b.putPayment(pay); err != nil {
		return nil, err
	}
	evs := []Event{paymentEvent(pay, "record")}
	t.Paid += Amount(amount)
	t.Payments++
	if g != nil {
		g.Disbursed += Amount(amount)
		g.Payments++
		g.Updated = b.info.Height
		if err := b.put(StoreGrants, RecordKey(g.ID), g); err != nil {
			return nil, err
		}
		t.PaidAgainstGrant += Amount(amount)
		evs = append(evs, grantEvent(g, "disburse"))
	}
	return evs, nil
}

func (b *Block) paymentReverse(tx *Tx, ag *Agency, p *PaymentReverse) ([]Event, error) {
	var pay Payment
	ok, err := getJSON(b.kv, StorePayments, RecordKey(p.ID), &pay)
	if err != nil {
		return nil, err
	}
	switch {
	case !ok:
		return nil, fieldErr(ErrNotFound, "payload.id", "payment %q", p.ID)
	case pay.Agency != ag.ID:
		return nil, fieldErr(ErrWrongAgency, "payload.id", "payment %q belongs to %s", p.ID, pay.Agency)
	case pay.Status != PaymentRecorded:
		return nil, fieldErr(ErrIllegalTransition, "payload.id", "payment %q is %s; cannot reverse", p.ID, pay.Status)
	}
	if err := b.fourEyes(tx, int64(pay.Amount), pay.Currency); err != nil {
		return nil, err
	}
	var g Grant
	if pay.Grant != "" {
		ok, err := getJSON(b.kv, StoreGrants, RecordKey(pay.Grant), &g)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("%w: payment %s references missing grant %s", ErrStorage, pay.ID, pay.Grant)
		}
	}
	t, err := b.total(ag.ID, pay.Currency)
	if err != nil {
		return nil, err
	}
	if int64(t.Reversed) > maxInt64-int64(pay.Amount) {
		return nil, fieldErr(ErrAmountOverflow, "payload.id", "agency total reversed in %s would overflow", pay.Currency)
	}
	pay.Status = PaymentReversed
	pay.Updated = b.info.Height
	if err := b.putPayment(&pay); err != nil {
		return nil, err
	}
	evs := []Event{paymentEvent(&pay, "reverse")}
	t.Paid -= pay.Amount
	t.Payments--
	t.Reversed += pay.Amount
	t.Reversals++
	if pay.Grant != "" {
		g.Disbursed -= pay.Amount
		g.Payments--
		g.Updated = b.info.Height
		if err := b.put(StoreGrants, RecordKey(g.ID), &g); err != nil {
			return nil, err
		}
		t.PaidAgainstGrant -= pay.Amount
		evs = append(evs, grantEvent(&g, "reverse-payment"))
	}
	return evs, nil
}

// ---- officers ----

func officerEvent(ag *Agency, o *Officer, action string) Event {
	roles := make([]byte, 0, 32)
	for i, r := range o.Roles {
		if i > 0 {
			roles = append(roles, ',')
		}
		roles = append(roles, r...)
	}
	return event("officer", "agency", ag.ID, "key", hex.EncodeToString(o.Key), "name", o.Name, "action", action, "roles", string(roles))
}

func adminCount(ag *Agency) int {
	n := 0
	for i := range ag.Officers {
		if ag.Officers[i].HasRole(RoleAdmin) {
			n++
		}
	}
	return n
}

func (b *Block) putAgency(ag *Agency) error {
	slices.SortFunc(ag.Officers, func(x, y Officer) int { return bytes.Compare(x.Key, y.Key) })
	return b.put(StoreAgencies, RecordKey(ag.ID), ag)
}

func (b *Block) officerAdd(ag *Agency, p *OfficerAdd) ([]Event, error) {
	if ag.Officer(p.Key) != nil {
		return nil, fieldErr(ErrOfficerExists, "payload.key", "%s is already an officer of %s", shortKey(p.Key), ag.ID)
	}
	other, err := b.kv.Get(StoreIndex, IndexOfficer(p.Key))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStorage, err)
	}
	if other != nil {
		return nil, fieldErr(ErrOfficerExists, "payload.key", "%s is already an officer of %s", shortKey(p.Key), other)
	}
	if r, err := b.reservation(p.Key); err != nil {
		return nil, err
	} else if r != 0 {
		return nil, fieldErr(ErrKeyInUse, "payload.key", "%s is reserved as the admin key of the agency proposed in proposal %d", shortKey(p.Key), r)
	}
	o := Officer{Key: p.Key, Name: p.Name, Roles: p.Roles}
	ag.Officers = append(ag.Officers, o)
	if err := b.putAgency(ag); err != nil {
		return nil, err
	}
	if err := b.set(StoreIndex, IndexOfficer(p.Key), []byte(ag.ID)); err != nil {
		return nil, err
	}
	return []Event{officerEvent(ag, &o, "add")}, nil
}

func (b *Block) officerRemove(ag *Agency, p *OfficerRemove) ([]Event, error) {
	o := ag.Officer(p.Key)
	if o == nil {
		return nil, fieldErr(ErrOfficerNotFound, "payload.key", "%s is not an officer of %s", shortKey(p.Key), ag.ID)
	}
	if o.HasRole(RoleAdmin) && adminCount(ag) == 1 {
		return nil, fieldErr(ErrLastAdmin, "payload.key", "cannot remove the last admin of %s", ag.ID)
	}
	removed := *o
	ag.Officers = slices.DeleteFunc(ag.Officers, func(x Officer) bool { return bytes.Equal(x.Key, p.Key) })
	if err := b.putAgency(ag); err != nil {
		return nil, err
	}
	if err := b.kv.Delete(StoreIndex, IndexOfficer(p.Key)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStorage, err)
	}
	return []Event{officerEvent(ag, &removed, "remove")}, nil
}

func (b *Block) officerSetRoles(ag *Agency, p *OfficerSetRoles) ([]Event, error) {
	o := ag.Officer(p.Key)
	if o == nil {
		return nil, fieldErr(ErrOfficerNotFound, "payload.key", "%s is not an officer of %s", shortKey(p.Key), ag.ID)
	}
	if o.HasRole(RoleAdmin) && !slices.Contains(p.Roles, RoleAdmin) && adminCount(ag) == 1 {
		return nil, fieldErr(ErrLastAdmin, "payload.roles", "cannot drop the admin role of the last admin of %s", ag.ID)
	}
	o.Roles = slices.Clone(p.Roles)
	if err := b.putAgency(ag); err != nil {
		return nil, err
	}
	return []Event{officerEvent(ag, o, "set-roles")}, nil
}
