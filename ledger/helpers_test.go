package ledger_test

// Test harness: a genesis with three agencies and deterministic officer keys,
// a chain that runs blocks on an in-memory IAVL multistore exactly as a node
// does (BeginBlock, DecodeTx, VerifySignatures, Deliver, End, Commit) and
// checks the ledger's invariants on the committed state after every block,
// and builders for signed transactions and payloads.

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/store"
)

const testChainID = "civic-test-1"

// genesisTime is the time of block 1. Blocks are 5 s apart unless a test
// moves chain.now, so the block date stays 2025-03-10 for a long time.
var genesisTime = time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)

// officer is a test key. Keys are derived from a fixed seed so that every run
// (and every fuzz corpus file) sees the same bytes.
type officer struct {
	name   string
	agency string
	priv   ed25519.PrivateKey
	pub    ed25519.PublicKey
}

func newOfficer(agency, name string) *officer {
	seed := sha256.Sum256([]byte("civic-ledger-test/" + agency + "/" + name))
	priv := ed25519.NewKeyFromSeed(seed[:])
	return &officer{name: name, agency: agency, priv: priv, pub: priv.Public().(ed25519.PublicKey)}
}

func (o *officer) hex() string { return hex.EncodeToString(o.pub) }

// Agencies of the test genesis.
const (
	agCulture = "ministry-culture"
	agWorks   = "city-works"
	agTax     = "tax-office"
)

// Officers. Roles are given in testGenesis.
var (
	cultAdmin  = newOfficer(agCulture, "admin")     // admin
	cultGrants = newOfficer(agCulture, "grants")    // grants
	cultLic    = newOfficer(agCulture, "licensing") // licensing
	cultFin1   = newOfficer(agCulture, "finance-1") // finance
	cultFin2   = newOfficer(agCulture, "finance-2") // finance: the four-eyes partner
	worksAdmin = newOfficer(agWorks, "admin")       // admin, grants
	worksFin   = newOfficer(agWorks, "finance")     // finance
	worksLic   = newOfficer(agWorks, "licensing")   // licensing
	taxAdmin   = newOfficer(agTax, "admin")         // every role
	newcomer   = newOfficer(agCulture, "newcomer")  // not in genesis; added by tests
	outsider   = newOfficer("nowhere", "outsider")  // never an officer
)

func validatorKey(agency string) []byte {
	return newOfficer(agency, "validator").pub
}

func off(o *officer, roles ...ledger.Role) ledger.Officer {
	return ledger.Officer{Key: o.pub, Name: strings.ToUpper(o.name[:1]) + o.name[1:], Roles: roles}
}

func testGenesis() *ledger.GenesisState {
	return &ledger.GenesisState{
		Params: ledger.DefaultParams(),
		Agencies: []ledger.Agency{
			{
				ID: agCulture, Name: "Ministry of Culture", Jurisdiction: "National",
				ValidatorKey: validatorKey(agCulture), Power: 10,
				Officers: []ledger.Officer{
					off(cultAdmin, ledger.RoleAdmin),
					off(cultGrants, ledger.RoleGrants),
					off(cultLic, ledger.RoleLicensing),
					off(cultFin1, ledger.RoleFinance),
					off(cultFin2, ledger.RoleFinance),
				},
			},
			{
				ID: agWorks, Name: "City Works Department", Jurisdiction: "Rivertown",
				ValidatorKey: validatorKey(agWorks), Power: 10,
				Officers: []ledger.Officer{
					off(worksAdmin, ledger.RoleAdmin, ledger.RoleGrants),
					off(worksFin, ledger.RoleFinance),
					off(worksLic, ledger.RoleLicensing),
				},
			},
			{
				ID: agTax, Name: "Tax Office", Jurisdiction: "National",
				ValidatorKey: validatorKey(agTax), Power: 5,
				Officers: []ledger.Officer{
					off(taxAdmin, ledger.RoleAdmin, ledger.RoleFinance, ledger.RoleGrants, ledger.RoleLicensing),
				},
			},
		},
	}
}

// chain runs blocks on an in-memory multistore.
type chain struct {
	t      testing.TB
	kv     *store.MultiStore
	params ledger.Params
	height int64     // last committed height
	now    time.Time // time of the next block
	nonces map[string]uint64
}

func newChain(t testing.TB) *chain { return newChainWith(t, testGenesis()) }

func newChainWith(t testing.TB, gs *ledger.GenesisState) *chain {
	t.Helper()
	kv, err := store.OpenMem(ledger.StoreNames, store.DefaultOptions())
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = kv.Close() })
	if err := ledger.InitGenesis(kv, testChainID, gs); err != nil {
		t.Fatalf("InitGenesis: %v", err)
	}
	return &chain{t: t, kv: kv, params: gs.Params, now: genesisTime, nonces: map[string]uint64{}}
}

// blockResult is what one block produced.
type blockResult struct {
	height  int64
	begin   []ledger.Event // BeginBlock events (licence expirations)
	results []ledger.Result
	appHash []byte
	updates []ledger.ValidatorUpdate // validator set changes returned by the block
}

// deliverRaw processes one raw transaction as FinalizeBlock does: decode,
// verify signatures, deliver. Decoding and signature errors become results.
func deliverRaw(blk *ledger.Block, raw []byte) ledger.Result {
	tx, err := ledger.DecodeTx(raw, blk.Params().MaxTxBytes)
	if err == nil {
		err = tx.VerifySignatures()
	}
	if err != nil {
		return ledger.Result{Code: ledger.CodeOf(err), Log: err.Error(), Err: err}
	}
	return blk.Deliver(tx)
}

// block runs one block with the given raw transactions, commits it and
// checks the invariants on the committed state.
func (c *chain) block(raws ...[]byte) *blockResult {
	c.t.Helper()
	return c.blockWith(func(blk *ledger.Block) []ledger.Result {
		out := make([]ledger.Result, 0, len(raws))
		for _, raw := range raws {
			out = append(out, deliverRaw(blk, raw))
		}
		return out
	})
}

// blockWith runs one block whose transactions fn delivers itself.
func (c *chain) blockWith(fn func(blk *ledger.Block) []ledger.Result) *blockResult {
	c.t.Helper()
	h := c.height + 1
	info := ledger.BlockInfo{ChainID: testChainID, Height: h, Time: c.now}
	blk, evs, err := ledger.BeginBlock(c.kv, info)
	if err != nil {
		c.t.Fatalf("BeginBlock(%d): %v", h, err)
	}
	results := fn(blk)
	for i, r := range results {
		if r.Code == ledger.CodeInternal {
			c.t.Fatalf("block %d tx %d: internal error: %s", h, i, r.Log)
		}
		if (r.Code == ledger.CodeOK) != (r.Err == nil) {
			c.t.Fatalf("block %d tx %d: code %d with err %v", h, i, r.Code, r.Err)
		}
	}
	if err := blk.End(); err != nil {
		c.t.Fatalf("End(%d): %v", h, err)
	}
	updates := blk.ValidatorUpdates()
	working := c.kv.WorkingHash()
	hash, version, err := c.kv.Commit()
	if err != nil {
		c.t.Fatalf("Commit(%d): %v", h, err)
	}
	if version != h {
		c.t.Fatalf("committed version %d, want %d", version, h)
	}
	if !bytes.Equal(working, hash) {
		c.t.Fatalf("height %d: WorkingHash %X differs from Commit hash %X", h, working, hash)
	}
	c.height = h
	c.now = c.now.Add(5 * time.Second)
	checkAllInvariants(c.t, c.view())
	return &blockResult{height: h, begin: evs, results: results, appHash: hash, updates: updates}
}

// checkAllInvariants runs ledger.CheckInvariants and the index checks below
// on a committed view and fails the test on any broken rule.
func checkAllInvariants(t testing.TB, view ledger.Reader) {
	t.Helper()
	violations, err := ledger.CheckInvariants(view)
	if err != nil {
		t.Fatalf("CheckInvariants: %v", err)
	}
	var broken []string
	for _, v := range violations {
		broken = append(broken, v.String())
	}
	broken = append(broken, indexInvariants(t, view)...)
	if len(broken) > 0 {
		t.Fatalf("invariants broken:\n  %s", strings.Join(broken, "\n  "))
	}
}

// indexInvariants checks what CheckInvariants does not: the licence and
// payment indexes match their records, and a licence has exactly one expiry
// index entry (at its valid_until) while it can still expire.
func indexInvariants(t testing.TB, r ledger.Reader) []string {
	t.Helper()
	var broken []string
	fail := func(format string, args ...any) { broken = append(broken, fmt.Sprintf(format, args...)) }
	get := func(s string, k []byte) string {
		v, err := r.Get(s, k)
		if err != nil {
			t.Fatalf("get %s/%s: %v", s, k, err)
		}
		return string(v)
	}
	expiry := map[string]string{} // licence id → date of its expiry index entry
	iterate(t, r, ledger.StoreIndex, "licence/expiry/", func(k, v string) {
		rest := strings.TrimPrefix(k, "licence/expiry/")
		date, id, _ := strings.Cut(rest, "/")
		if prev, dup := expiry[id]; dup {
			fail("licence %s has two expiry entries: %s and %s", id, prev, date)
		}
		expiry[id] = date
	})
	iterate(t, r, ledger.StoreLicences, "", func(k, v string) {
		if k == string(ledger.SeedKey) {
			return
		}
		var l ledger.Licence
		if err := json.Unmarshal([]byte(v), &l); err != nil {
			fail("licence %s undecodable: %v", k, err)
			return
		}
		if st := get(ledger.StoreIndex, ledger.IndexLicenceByAgency(l.Agency, l.ID)); st != string(l.Status) {
			fail("licence %s: index status %q, record %q", l.ID, st, l.Status)
		}
		live := l.Status != ledger.LicenceRevoked && l.Status != ledger.LicenceExpired
		date, has := expiry[l.ID]
		switch {
		case live && !has:
			fail("licence %s (%s) has no expiry index entry", l.ID, l.Status)
		case live && date != l.ValidUntil:
			fail("licence %s expiry entry at %s, valid_until %s", l.ID, date, l.ValidUntil)
		case !live && has:
			fail("licence %s is %s but still has an expiry entry at %s", l.ID, l.Status, date)
		}
		delete(expiry, l.ID)
	})
	for id := range expiry {
		fail("expiry index entry for missing licence %s", id)
	}
	iterate(t, r, ledger.StorePayments, "", func(k, v string) {
		if k == string(ledger.SeedKey) {
			return
		}
		var p ledger.Payment
		if err := json.Unmarshal([]byte(v), &p); err != nil {
			fail("payment %s undecodable: %v", k, err)
			return
		}
		if st := get(ledger.StoreIndex, ledger.IndexPaymentByAgency(p.Agency, p.ID)); st != string(p.Status) {
			fail("payment %s: agency index status %q, record %q", p.ID, st, p.Status)
		}
		if p.Grant != "" {
			if st := get(ledger.StoreIndex, ledger.IndexPaymentByGrant(p.Grant, p.ID)); st != string(p.Status) {
				fail("payment %s: grant index status %q, record %q", p.ID, st, p.Status)
			}
		}
	})
	return broken
}

func iterate(t testing.TB, r ledger.Reader, storeName, prefix string, fn func(k, v string)) {
	t.Helper()
	var start, end []byte
	if prefix != "" {
		start, end = []byte(prefix), ledger.PrefixEnd([]byte(prefix))
	}
	if err := r.Iterate(storeName, start, end, func(k, v []byte) bool {
		fn(string(k), string(v))
		return true
	}); err != nil {
		t.Fatalf("iterate %s: %v", storeName, err)
	}
}

// view is the last committed state.
func (c *chain) view() *store.View {
	c.t.Helper()
	v, err := c.kv.At(c.height)
	if err != nil {
		c.t.Fatalf("At(%d): %v", c.height, err)
	}
	return v
}

// ---- transactions ----

// body builds a body for p signed by o for o's agency, with the next nonce
// of o and an expiry 100 blocks after the next block.
func (c *chain) body(o *officer, p ledger.Payload) ledger.Body {
	return c.bodyFor(o.agency, o, p)
}

func (c *chain) bodyFor(agency string, o *officer, p ledger.Payload) ledger.Body {
	c.t.Helper()
	c.nonces[string(o.pub)]++
	b, err := ledger.NewBody(testChainID, agency, o.pub, c.nonces[string(o.pub)], c.height+1+100, p)
	if err != nil {
		c.t.Fatalf("NewBody: %v", err)
	}
	return b
}

// tx is a signed transaction of o for o's agency, co-signed by cosigners.
func (c *chain) tx(o *officer, p ledger.Payload, cosigners ...*officer) []byte {
	c.t.Helper()
	return sign(c.t, c.body(o, p), append([]*officer{o}, cosigners...)...)
}

// txFor is tx for another agency than the signer's own.
func (c *chain) txFor(agency string, o *officer, p ledger.Payload, cosigners ...*officer) []byte {
	c.t.Helper()
	return sign(c.t, c.bodyFor(agency, o, p), append([]*officer{o}, cosigners...)...)
}

func sign(t testing.TB, b ledger.Body, signers ...*officer) []byte {
	t.Helper()
	keys := make([]ed25519.PrivateKey, len(signers))
	for i, s := range signers {
		keys[i] = s.priv
	}
	raw, err := ledger.SignTx(b, keys...)
	if err != nil {
		t.Fatalf("SignTx: %v", err)
	}
	return raw
}

// run runs a block of one transaction and returns its result.
func (c *chain) run(raw []byte) ledger.Result {
	c.t.Helper()
	return c.block(raw).results[0]
}

// mustOK runs a block and fails the test unless every transaction succeeds.
func (c *chain) mustOK(raws ...[]byte) *blockResult {
	c.t.Helper()
	br := c.block(raws...)
	for i, r := range br.results {
		if r.Code != ledger.CodeOK {
			c.t.Fatalf("block %d tx %d: code %d: %s", br.height, i, r.Code, r.Log)
		}
	}
	return br
}

// expectResult checks a result against a sentinel error (nil: success): the
// error wraps the sentinel and the code is the sentinel's.
func expectResult(t testing.TB, res ledger.Result, want *ledger.Error) {
	t.Helper()
	if want == nil {
		if res.Code != ledger.CodeOK || res.Err != nil {
			t.Fatalf("want success, got code %d: %s", res.Code, res.Log)
		}
		return
	}
	if !errors.Is(res.Err, want) {
		t.Fatalf("want error %q (code %d), got code %d: %v", want.Msg, want.Code, res.Code, res.Err)
	}
	if res.Code != want.Code {
		t.Fatalf("error %q: result code %d, want %d", want.Msg, res.Code, want.Code)
	}
	if res.Log == "" {
		t.Fatalf("rejected tx has an empty log")
	}
	if len(res.Events) != 0 {
		t.Fatalf("rejected tx has events: %+v", res.Events)
	}
}

// expectErr checks an error against a sentinel error, with CodeOf.
func expectErr(t testing.TB, err error, want *ledger.Error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("want no error, got %v", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("want error %q (code %d), got %v (code %d)", want.Msg, want.Code, err, ledger.CodeOf(err))
	}
	if got := ledger.CodeOf(err); got != want.Code {
		t.Fatalf("CodeOf = %d, want %d", got, want.Code)
	}
}

// ---- payloads ----

const (
	docHash  = "5a8e0f6b7c2d4e9f1a3b5c7d9e0f2a4b6c8d0e1f3a5b7c9d1e2f4a6b8c0d2e4f"
	docHash2 = "0000000000000000000000000000000000000000000000000000000000000001"
)

var (
	acme     = ledger.Party{Name: "Acme Theatre Ltd", Scheme: "companies-house", ID: "01234567"}
	acmeAlt  = ledger.Party{Name: "ACME THEATRE LIMITED", Scheme: "companies-house", ID: "01234567"} // same entity
	bolt     = ledger.Party{Name: "Bolt Works", Scheme: "companies-house", ID: "07654321"}
	acmeVAT  = ledger.Party{Name: "Acme Theatre Ltd", Scheme: "vat", ID: "01234567"} // same id, other scheme
	someCafe = ledger.Party{Name: "Corner Café", Scheme: "business-register", ID: "BR-99812"}
)

func award(id, amount string) *ledger.GrantAward {
	return &ledger.GrantAward{
		ID: id, Recipient: acme, Programme: "Arts Council 2025", Purpose: "Touring production of community theatre",
		Amount: amount, Currency: "EUR", PeriodStart: "2025-01-01", PeriodEnd: "2025-12-31",
		DecisionDate: "2025-03-01", DocumentHash: docHash,
	}
}

func awardIn(id, amount, currency string) *ledger.GrantAward {
	p := award(id, amount)
	p.Currency = currency
	return p
}

func amend(id, amount string) *ledger.GrantAmend {
	return &ledger.GrantAmend{ID: id, Amount: amount, PeriodEnd: "2026-06-30", DocumentHash: docHash2, Reason: "Budget revision"}
}

func closeGrant(id string) *ledger.GrantClose {
	return &ledger.GrantClose{ID: id, DocumentHash: docHash2, Reason: "Project completed"}
}

func revokeGrant(id string) *ledger.GrantRevoke {
	return &ledger.GrantRevoke{ID: id, DocumentHash: docHash2, Reason: "Conditions breached"}
}

func issue(id, validUntil string) *ledger.LicenceIssue {
	return &ledger.LicenceIssue{
		ID: id, Holder: someCafe, LicenceType: "Street trading", Scope: "Outdoor seating on Market Square",
		ValidFrom: "2025-03-01", ValidUntil: validUntil, DecisionDate: "2025-02-20", ConditionsHash: docHash,
	}
}

func renew(id, validUntil string) *ledger.LicenceRenew {
	return &ledger.LicenceRenew{ID: id, ValidUntil: validUntil, DocumentHash: docHash2}
}

func suspend(id string) *ledger.LicenceSuspend {
	return &ledger.LicenceSuspend{ID: id, DocumentHash: docHash2, Reason: "Inspection pending"}
}

func reinstate(id string) *ledger.LicenceReinstate {
	return &ledger.LicenceReinstate{ID: id, DocumentHash: docHash2, Reason: "Inspection passed"}
}

func revokeLicence(id string) *ledger.LicenceRevoke {
	return &ledger.LicenceRevoke{ID: id, DocumentHash: docHash2, Reason: "Repeated violations"}
}

// payOn is a small payment dated date.
func payOn(id, grant, date string) *ledger.PaymentRecord {
	p := pay(id, grant, "1000")
	p.Date = date
	return p
}

func pay(id, grant, amount string) *ledger.PaymentRecord {
	return &ledger.PaymentRecord{
		ID: id, Payee: acme, Amount: amount, Currency: "EUR", Date: "2025-03-10",
		Purpose: "Instalment & travel costs <Q1>", Grant: grant,
	}
}

func reverse(id string) *ledger.PaymentReverse {
	return &ledger.PaymentReverse{ID: id, Reason: "Paid to wrong account"}
}

func addOfficer(o *officer, roles ...ledger.Role) *ledger.OfficerAdd {
	return &ledger.OfficerAdd{Key: o.pub, Name: "Officer " + o.name, Roles: roles}
}

func removeOfficer(o *officer) *ledger.OfficerRemove { return &ledger.OfficerRemove{Key: o.pub} }

func setRoles(o *officer, roles ...ledger.Role) *ledger.OfficerSetRoles {
	return &ledger.OfficerSetRoles{Key: o.pub, Roles: roles}
}

// ---- state readers ----

func readJSON[T any](c *chain, storeName string, key []byte) *T {
	c.t.Helper()
	bz, err := c.view().Get(storeName, key)
	if err != nil {
		c.t.Fatalf("get %s/%s: %v", storeName, key, err)
	}
	if bz == nil {
		return nil
	}
	v := new(T)
	if err := json.Unmarshal(bz, v); err != nil {
		c.t.Fatalf("decode %s/%s: %v", storeName, key, err)
	}
	return v
}

func (c *chain) grant(id string) *ledger.Grant {
	return readJSON[ledger.Grant](c, ledger.StoreGrants, ledger.RecordKey(id))
}

func (c *chain) licence(id string) *ledger.Licence {
	return readJSON[ledger.Licence](c, ledger.StoreLicences, ledger.RecordKey(id))
}

func (c *chain) payment(id string) *ledger.Payment {
	return readJSON[ledger.Payment](c, ledger.StorePayments, ledger.RecordKey(id))
}

func (c *chain) agency(id string) *ledger.Agency {
	return readJSON[ledger.Agency](c, ledger.StoreAgencies, ledger.RecordKey(id))
}

// totals returns an agency's totals in a currency (zero if none stored).
func (c *chain) totals(agency, currency string) ledger.Totals {
	c.t.Helper()
	if t := readJSON[ledger.Totals](c, ledger.StoreMeta, ledger.TotalsKey(agency, currency)); t != nil {
		return *t
	}
	return ledger.Totals{Agency: agency, Currency: currency}
}

func (c *chain) has(storeName, key string) bool {
	c.t.Helper()
	v, err := c.view().Get(storeName, []byte(key))
	if err != nil {
		c.t.Fatalf("get %s/%s: %v", storeName, key, err)
	}
	return v != nil
}

// snapshot dumps every store of the committed state except the replay
// protection keys (nonce/…, nonce-exp/…), which a rejected transaction may
// legitimately write.
func (c *chain) snapshot() map[string]string {
	c.t.Helper()
	out := map[string]string{}
	v := c.view()
	for _, s := range ledger.StoreNames {
		iterate(c.t, v, s, "", func(k, val string) {
			if s == ledger.StoreMeta && strings.HasPrefix(k, "nonce") {
				return
			}
			out[s+"|"+k] = val
		})
	}
	return out
}

// noChanges fails if two snapshots differ.
func noChanges(t testing.TB, before, after map[string]string) {
	t.Helper()
	var diffs []string
	for k, v := range before {
		if w, ok := after[k]; !ok {
			diffs = append(diffs, "deleted "+k)
		} else if w != v {
			diffs = append(diffs, fmt.Sprintf("changed %s: %s → %s", k, v, w))
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			diffs = append(diffs, "added "+k+" = "+after[k])
		}
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		t.Fatalf("rejected transaction changed the state:\n  %s", strings.Join(diffs, "\n  "))
	}
}

// nonceKeys returns the meta keys that replay protection keeps for a signer
// and nonce (the layout documented in keys.go).
func nonceKeys(o *officer, nonce uint64, expiresAt int64) (nonceKey, expKey string) {
	return fmt.Sprintf("nonce/%s/%020d", o.hex(), nonce),
		fmt.Sprintf("nonce-exp/%020d/%s/%020d", expiresAt, o.hex(), nonce)
}

// findEvent returns the first event of a type (an event type or a record
// kind) with the given attribute (a string, or a status).
func findEvent[T, V ~string](evs []ledger.Event, typ T, key string, value V) *ledger.Event {
	for i := range evs {
		if evs[i].Type != string(typ) {
			continue
		}
		for _, a := range evs[i].Attrs {
			if a.Key == key && a.Value == string(value) {
				return &evs[i]
			}
		}
	}
	return nil
}

func attr(e *ledger.Event, key string) string {
	for _, a := range e.Attrs {
		if a.Key == key {
			return a.Value
		}
	}
	return ""
}

// ed25519Sign signs msg as is (no domain prefix).
func ed25519Sign(o *officer, msg []byte) []byte { return ed25519.Sign(o.priv, msg) }
