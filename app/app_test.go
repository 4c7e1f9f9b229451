package app_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/crypto/merkle"
	ics23 "github.com/cosmos/ics23/go"

	"github.com/civicledger/civicledger/app"
	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/store"
)

const chainID = "civic-app-test"

var genesisTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type fixture struct {
	gs       ledger.GenesisState
	officers map[string]ed25519.PrivateKey // "agency-1/grants" → key
}

func key(seed string) ed25519.PrivateKey {
	s := sha256.Sum256([]byte(seed))
	return ed25519.NewKeyFromSeed(s[:])
}

func newFixture() *fixture {
	f := &fixture{gs: ledger.GenesisState{Params: ledger.DefaultParams()}, officers: map[string]ed25519.PrivateKey{}}
	for i := 1; i <= 2; i++ {
		id := fmt.Sprintf("agency-%d", i)
		ag := ledger.Agency{ID: id, Name: "Agency " + id, Jurisdiction: "Testland", ValidatorKey: key("val/" + id).Public().(ed25519.PublicKey), Power: 10}
		for _, o := range []struct {
			name string
			role ledger.Role
		}{{"admin", ledger.RoleAdmin}, {"grants", ledger.RoleGrants}, {"licensing", ledger.RoleLicensing}, {"finance", ledger.RoleFinance}, {"finance2", ledger.RoleFinance}} {
			k := key(id + "/" + o.name)
			f.officers[id+"/"+o.name] = k
			ag.Officers = append(ag.Officers, ledger.Officer{Key: k.Public().(ed25519.PublicKey), Name: o.name, Roles: []ledger.Role{o.role}})
		}
		f.gs.Agencies = append(f.gs.Agencies, ag)
	}
	return f
}

func (f *fixture) initChain(t testing.TB, a *app.App) []byte {
	t.Helper()
	appState, err := json.Marshal(f.gs)
	if err != nil {
		t.Fatal(err)
	}
	var vals []abci.ValidatorUpdate
	for _, ag := range f.gs.Agencies {
		vals = append(vals, abci.Ed25519ValidatorUpdate(ag.ValidatorKey, ag.Power))
	}
	res, err := a.InitChain(context.Background(), &abci.RequestInitChain{
		Time: genesisTime, ChainId: chainID, InitialHeight: 1, Validators: vals, AppStateBytes: appState,
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.AppHash
}

func (f *fixture) tx(t testing.TB, agency string, nonce uint64, expires int64, p ledger.Payload, officers ...string) []byte {
	t.Helper()
	var keys []ed25519.PrivateKey
	for _, o := range officers {
		keys = append(keys, f.officers[agency+"/"+o])
	}
	body, err := ledger.NewBody(chainID, agency, keys[0].Public().(ed25519.PublicKey), nonce, expires, p)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ledger.SignTx(body, keys...)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

const doc = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

var acme = ledger.Party{Name: "Acme Ltd", Scheme: "GB-COH", ID: "0001"}

func award(id, amount string) *ledger.GrantAward {
	return &ledger.GrantAward{ID: id, Recipient: acme, Programme: "P", Purpose: "Purpose", Amount: amount, Currency: "EUR",
		PeriodStart: "2026-01-01", PeriodEnd: "2026-12-31", DecisionDate: "2026-01-01", DocumentHash: doc}
}

func payment(id, grant, amount string) *ledger.PaymentRecord {
	return &ledger.PaymentRecord{ID: id, Payee: acme, Amount: amount, Currency: "EUR", Date: "2026-02-01", Purpose: "Instalment", Grant: grant}
}

// openApp opens an app over a store in dir (in memory when dir is empty)
// with the default options, changed by each of opts, and invariants checked
// after every block.
func openApp(t testing.TB, dir string, opts ...func(*app.Options)) *app.App {
	t.Helper()
	var st *store.MultiStore
	var err error
	if dir == "" {
		st, err = store.OpenMem(ledger.StoreNames, store.DefaultOptions())
	} else {
		st, err = store.Open(dir, ledger.StoreNames, store.DefaultOptions())
	}
	if err != nil {
		t.Fatal(err)
	}
	o := app.DefaultOptions()
	o.OnBlock = func(h int64, r ledger.Reader) {
		broken, err := ledger.CheckInvariants(r)
		if err != nil {
			t.Errorf("invariants at %d: %v", h, err)
		}
		for _, b := range broken {
			t.Errorf("invariant broken at height %d: %s", h, b)
		}
	}
	for _, f := range opts {
		f(&o)
	}
	a, err := app.New(st, o)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// finalize runs one block through FinalizeBlock and Commit.
func finalize(t testing.TB, a *app.App, height int64, txs ...[]byte) *abci.ResponseFinalizeBlock {
	t.Helper()
	ctx := context.Background()
	res, err := a.FinalizeBlock(ctx, &abci.RequestFinalizeBlock{Height: height, Time: genesisTime.Add(time.Duration(height) * time.Second), Txs: txs})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Commit(ctx, &abci.RequestCommit{}); err != nil {
		t.Fatal(err)
	}
	return res
}

// TestLifecycle drives the ABCI calls in the order CometBFT makes them and
// checks each answer, ending with a proved query verified by ics23 alone.
func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	f := newFixture()
	a := openApp(t, "")
	info, err := a.Info(ctx, &abci.RequestInfo{})
	if err != nil || info.LastBlockHeight != 0 || len(info.LastBlockAppHash) != 0 {
		t.Fatalf("fresh Info = %+v, %v", info, err)
	}
	genesisHash := f.initChain(t, a)
	if len(genesisHash) != 32 {
		t.Fatalf("InitChain AppHash %X", genesisHash)
	}

	good := f.tx(t, "agency-1", 1, 50, award("G-1", "100000"), "grants")
	bad := f.tx(t, "agency-1", 2, 50, award("G-2", "100000"), "finance") // wrong role
	for _, c := range []struct {
		raw  []byte
		code ledger.Code
	}{{good, 0}, {bad, ledger.ErrMissingRole.Code}, {[]byte("{not json"), ledger.ErrMalformed.Code}} {
		res, err := a.CheckTx(ctx, &abci.RequestCheckTx{Tx: c.raw, Type: abci.CheckTxType_New})
		if err != nil {
			t.Fatal(err)
		}
		if res.Code != uint32(c.code) {
			t.Fatalf("CheckTx code %d (%s), want %d", res.Code, res.Log, c.code)
		}
	}
	// The same tx again in CheckTx is a replay of a nonce pending in the mempool.
	res, _ := a.CheckTx(ctx, &abci.RequestCheckTx{Tx: good})
	if res.Code != uint32(ledger.ErrNonceReplayed.Code) {
		t.Fatalf("second CheckTx of the same tx: code %d, want replay", res.Code)
	}

	prep, err := a.PrepareProposal(ctx, &abci.RequestPrepareProposal{Txs: [][]byte{good, bad}, MaxTxBytes: 1 << 20, Height: 1})
	if err != nil || len(prep.Txs) != 2 {
		t.Fatalf("PrepareProposal: %v %d", err, len(prep.Txs))
	}
	proc, err := a.ProcessProposal(ctx, &abci.RequestProcessProposal{Txs: prep.Txs, Height: 1})
	if err != nil || proc.Status != abci.ResponseProcessProposal_ACCEPT {
		t.Fatalf("ProcessProposal: %v %v", err, proc.Status)
	}
	fin, err := a.FinalizeBlock(ctx, &abci.RequestFinalizeBlock{Height: 1, Time: genesisTime, Txs: prep.Txs})
	if err != nil {
		t.Fatal(err)
	}
	if len(fin.TxResults) != 2 || fin.TxResults[0].Code != 0 || fin.TxResults[1].Code != uint32(ledger.ErrMissingRole.Code) {
		t.Fatalf("FinalizeBlock results: %+v", fin.TxResults)
	}
	if fin.TxResults[1].Log == "" || fin.TxResults[1].Codespace != app.Codespace {
		t.Fatalf("rejected tx needs a log and codespace: %+v", fin.TxResults[1])
	}
	if !hasEvent(fin.TxResults[0].Events, "grant", "id", "G-1") {
		t.Fatalf("no grant.id event: %+v", fin.TxResults[0].Events)
	}
	if bytes.Equal(fin.AppHash, genesisHash) {
		t.Fatal("AppHash did not change")
	}
	if _, err := a.Commit(ctx, &abci.RequestCommit{}); err != nil {
		t.Fatal(err)
	}
	info, err = a.Info(ctx, &abci.RequestInfo{})
	if err != nil || info.LastBlockHeight != 1 || !bytes.Equal(info.LastBlockAppHash, fin.AppHash) {
		t.Fatalf("Info after commit = %d %X, want 1 %X (%v)", info.LastBlockHeight, info.LastBlockAppHash, fin.AppHash, err)
	}

	// Query with proof: verified with github.com/cosmos/ics23/go only.
	q, err := a.Query(ctx, &abci.RequestQuery{Path: "/store/grants/key", Data: []byte("G-1"), Prove: true})
	if err != nil || q.Code != 0 {
		t.Fatalf("query: %v %+v", err, q)
	}
	if q.Height != 1 || len(q.ProofOps.Ops) != 2 || q.ProofOps.Ops[0].Type != "ics23:iavl" || q.ProofOps.Ops[1].Type != "ics23:simple" {
		t.Fatalf("proof shape: height %d ops %+v", q.Height, q.ProofOps)
	}
	verifyWithICS23(t, fin.AppHash, "grants", []byte("G-1"), q.Value, q.ProofOps.Ops[0].Data, q.ProofOps.Ops[1].Data)

	// Absent key: non-membership proof.
	q, err = a.Query(ctx, &abci.RequestQuery{Path: "/store/grants/key", Data: []byte("G-2"), Prove: true})
	if err != nil || q.Code != 0 || q.Value != nil {
		t.Fatalf("absent query: %v %+v", err, q)
	}
	verifyWithICS23(t, fin.AppHash, "grants", []byte("G-2"), nil, q.ProofOps.Ops[0].Data, q.ProofOps.Ops[1].Data)

	// Record path and listing.
	q, _ = a.Query(ctx, &abci.RequestQuery{Path: "/grant/G-1"})
	var g ledger.Grant
	if err := json.Unmarshal(q.Value, &g); err != nil || g.ID != "G-1" || g.Status != ledger.GrantAwarded {
		t.Fatalf("record query: %s %v", q.Value, err)
	}
	q, _ = a.Query(ctx, &abci.RequestQuery{Path: "/grant/G-404"})
	if q.Code == 0 {
		t.Fatal("missing record must not answer code 0")
	}
	q, _ = a.Query(ctx, &abci.RequestQuery{Path: "/nope"})
	if q.Code == 0 || q.Log == "" {
		t.Fatal("unknown path must fail with a log")
	}
}

func hasEvent(evs []abci.Event, typ, k, v string) bool {
	for _, e := range evs {
		if e.Type != typ {
			continue
		}
		for _, a := range e.Attributes {
			if a.Key == k && a.Value == v && a.Index {
				return true
			}
		}
	}
	return false
}

// verifyWithICS23 checks the two proof ops with the ics23 library directly:
// IavlSpec up to the store root, TendermintSpec up to the AppHash.
func verifyWithICS23(t *testing.T, appHash []byte, storeName string, key, value, op0, op1 []byte) {
	t.Helper()
	var p0, p1 ics23.CommitmentProof
	if err := p0.Unmarshal(op0); err != nil {
		t.Fatal(err)
	}
	if err := p1.Unmarshal(op1); err != nil {
		t.Fatal(err)
	}
	root, err := p0.Calculate()
	if err != nil {
		t.Fatal(err)
	}
	if value != nil {
		if !ics23.VerifyMembership(ics23.IavlSpec, root, &p0, key, value) {
			t.Fatal("iavl membership proof does not verify")
		}
		if ics23.VerifyNonMembership(ics23.IavlSpec, root, &p0, key) {
			t.Fatal("present key verified as absent")
		}
	} else if !ics23.VerifyNonMembership(ics23.IavlSpec, root, &p0, key) {
		t.Fatal("iavl non-membership proof does not verify")
	}
	if !ics23.VerifyMembership(ics23.TendermintSpec, appHash, &p1, []byte(storeName), root) {
		t.Fatal("store proof does not verify against AppHash")
	}
	// Tampering with the AppHash must fail.
	bad := bytes.Clone(appHash)
	bad[0] ^= 1
	if ics23.VerifyMembership(ics23.TendermintSpec, bad, &p1, []byte(storeName), root) {
		t.Fatal("store proof verified against a wrong AppHash")
	}
}

// TestAppHashIsSDKMultistoreRoot recomputes the AppHash from the stores'
// roots with CometBFT's merkle package, independently of the store code.
func TestAppHashIsSDKMultistoreRoot(t *testing.T) {
	f := newFixture()
	a := openApp(t, "")
	f.initChain(t, a)
	fin := finalize(t, a, 1, f.tx(t, "agency-1", 1, 50, award("G-1", "100"), "grants"))
	view, err := a.Store().At(1)
	if err != nil {
		t.Fatal(err)
	}
	var leaves [][]byte
	for _, n := range ledger.StoreNames { // sorted
		root, err := view.StoreRoot(n)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(root)
		leaf := append([]byte{byte(len(n))}, n...)
		leaf = append(leaf, 32)
		leaves = append(leaves, append(leaf, h[:]...))
	}
	if got := merkle.HashFromByteSlices(leaves); !bytes.Equal(got, fin.AppHash) {
		t.Fatalf("multistore root %X != AppHash %X", got, fin.AppHash)
	}
}

// TestRestart reopens the same directory: same height, same AppHash, the
// same records, and blocks continue.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	f := newFixture()
	a := openApp(t, dir)
	f.initChain(t, a)
	var last *abci.ResponseFinalizeBlock
	for h := int64(1); h <= 5; h++ {
		last = finalize(t, a, h, f.tx(t, "agency-1", uint64(h), h+10, award(fmt.Sprintf("G-%d", h), "1000"), "grants"))
	}
	if err := a.Store().Close(); err != nil {
		t.Fatal(err)
	}
	b := openApp(t, dir)
	defer b.Store().Close()
	info, err := b.Info(context.Background(), &abci.RequestInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if info.LastBlockHeight != 5 || !bytes.Equal(info.LastBlockAppHash, last.AppHash) {
		t.Fatalf("after restart: height %d hash %X, want 5 %X", info.LastBlockHeight, info.LastBlockAppHash, last.AppHash)
	}
	q, _ := b.Query(context.Background(), &abci.RequestQuery{Path: "/grant/G-3"})
	if q.Code != 0 || len(q.Value) == 0 {
		t.Fatalf("record lost after restart: %+v", q)
	}
	// The restarted app knows the chain id without InitChain and rejects replays.
	res := finalize(t, b, 6, f.tx(t, "agency-1", 5, 15, award("G-5b", "1000"), "grants"), f.tx(t, "agency-1", 6, 16, award("G-6", "1000"), "grants"))
	if res.TxResults[0].Code != uint32(ledger.ErrNonceReplayed.Code) || res.TxResults[1].Code != 0 {
		t.Fatalf("after restart: %+v", res.TxResults)
	}
}

// TestDeterminism feeds the same blocks to two apps (one on goleveldb, one
// in memory) and compares the AppHash at every height.
func TestDeterminism(t *testing.T) {
	f := newFixture()
	a, b := openApp(t, t.TempDir()), openApp(t, "")
	defer a.Store().Close()
	if ha, hb := f.initChain(t, a), f.initChain(t, b); !bytes.Equal(ha, hb) {
		t.Fatalf("genesis hashes differ: %X %X", ha, hb)
	}
	nonce := uint64(0)
	next := func() uint64 { nonce++; return nonce }
	for h := int64(1); h <= 20; h++ {
		var txs [][]byte
		for i := 0; i < 10; i++ {
			ag := fmt.Sprintf("agency-%d", 1+i%2)
			gid := fmt.Sprintf("G-%s-%d-%d", ag, h, i)
			txs = append(txs, f.tx(t, ag, next(), h+5, award(gid, "5000000"), "grants"))
			txs = append(txs, f.tx(t, ag, next(), h+5, payment("P-"+gid, gid, fmt.Sprint(100+i)), "finance"))
			if h > 1 {
				txs = append(txs, f.tx(t, ag, next(), h+5, &ledger.PaymentReverse{ID: fmt.Sprintf("P-G-%s-%d-%d", ag, h-1, i), Reason: "error"}, "finance"))
			}
		}
		// Node a sees the txs first in its mempool (CheckTx caches them
		// decoded and verified); node b meets them only in the block.
		for _, tx := range txs {
			if res, err := a.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: tx}); err != nil || res.Code != 0 {
				t.Fatalf("CheckTx: %v %+v", err, res)
			}
		}
		ra, rb := finalize(t, a, h, txs...), finalize(t, b, h, txs...)
		if !bytes.Equal(ra.AppHash, rb.AppHash) {
			t.Fatalf("height %d: AppHash %X vs %X", h, ra.AppHash, rb.AppHash)
		}
		for i := range ra.TxResults {
			if ra.TxResults[i].Code != 0 {
				t.Fatalf("height %d tx %d failed: %s", h, i, ra.TxResults[i].Log)
			}
			x, _ := ra.TxResults[i].Marshal()
			y, _ := rb.TxResults[i].Marshal()
			if !bytes.Equal(x, y) {
				t.Fatalf("height %d tx %d: results differ", h, i)
			}
		}
	}
}

// TestBadSignatureInBlock: a tx with a forged signature that reaches a block
// (skipping CheckTx) is included with code ErrBadSignature and writes nothing.
func TestBadSignatureInBlock(t *testing.T) {
	f := newFixture()
	a := openApp(t, "")
	f.initChain(t, a)
	raw := f.tx(t, "agency-1", 1, 50, award("G-1", "100"), "grants")
	var env ledger.Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	env.Signatures[0].Signature[5] ^= 0x40
	forged, err := ledger.Canonical(env)
	if err != nil {
		t.Fatal(err)
	}
	good := f.tx(t, "agency-2", 1, 50, award("G-2", "100"), "grants")
	res := finalize(t, a, 1, forged, good)
	if res.TxResults[0].Code != uint32(ledger.ErrBadSignature.Code) || res.TxResults[1].Code != 0 {
		t.Fatalf("results: %+v", res.TxResults)
	}
	q, _ := a.Query(context.Background(), &abci.RequestQuery{Path: "/grant/G-1"})
	if q.Value != nil {
		t.Fatal("forged tx wrote a record")
	}
}

// TestFatalIsReported: a block the app cannot apply (here: a state without
// genesis) is reported through OnFatal, so ledgerd exits instead of
// serving RPC with consensus halted.
func TestFatalIsReported(t *testing.T) {
	var got error
	a := openApp(t, "", func(o *app.Options) { o.OnFatal = func(err error) { got = err } })
	_, err := a.FinalizeBlock(context.Background(), &abci.RequestFinalizeBlock{Height: 1, Time: genesisTime})
	if err == nil || got == nil {
		t.Fatalf("FinalizeBlock err %v, OnFatal %v: both must report the failure", err, got)
	}
}
