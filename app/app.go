package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/libs/log"

	"github.com/civicledger/civicledger/internal/crashpoint"
	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/store"
	"github.com/civicledger/civicledger/version"
)

// Version is the application's release and AppVersion its state machine's
// version, both reported in Info (see package version).
const (
	Version    = version.Release
	AppVersion = version.AppVersion
	Codespace  = "civicledger"
)

var _ abci.Application = (*App)(nil)

// App is the Civic Ledger ABCI application.
type App struct {
	abci.BaseApplication

	mu    sync.Mutex
	store *store.MultiStore
	// reader serves Query from committed versions without a.mu: queries
	// run on their own ABCI connection (ClientCreator), beside blocks.
	reader *store.Reader
	logger log.Logger
	sigs   *sigCache
	// batcher verifies concurrent CheckTx calls' signatures as one batch.
	batcher sigBatcher

	chainID string

	// Check state: a throwaway overlay over the last committed version,
	// reset at every Commit.
	check    *ledger.Block
	lastTime time.Time
	// checkMaxBytes is the size limit of the last check state, read by
	// CheckTx without a.mu for its stateless part.
	checkMaxBytes atomic.Int64

	// Set by FinalizeBlock, checked by Commit.
	pendingHash   []byte
	pendingHeight int64

	// Set once by New from its Options.
	onBlock   func(height int64, r ledger.Reader)
	onQuery   func(path string)
	onFatal   func(error)
	snapshots *Snapshots
	// observer keeps the metrics; its block bookkeeping is guarded by mu.
	observer *observer
	indexAll bool

	readerOnce sync.Once
}

// fatal reports a consensus-stopping failure, then panics with it.
func (a *App) fatal(r any) {
	err, ok := r.(error)
	if !ok {
		err = fmt.Errorf("%v", r)
	}
	a.logger.Error("CONSENSUS HALTED by the ledger app", "err", err)
	if a.onFatal != nil {
		a.onFatal(err)
	}
	panic(r)
}

// New returns an App over an opened store, configured by opts (see
// Options); it fails, naming the field, when opts are not valid.
func New(st *store.MultiStore, opts Options) (*App, error) {
	if st == nil {
		return nil, fmt.Errorf("app: no store")
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = log.NewNopLogger()
	}
	m := opts.Metrics
	if m == nil {
		m = NopMetrics()
	}
	return &App{
		store: st, reader: st.NewReader(queryCacheSize), logger: logger, sigs: newSigCache(20_000),
		indexAll: opts.IndexAllEvents, onBlock: opts.OnBlock, onQuery: opts.OnQuery, onFatal: opts.OnFatal, snapshots: opts.Snapshots,
		observer: newObserver(m, st, logger, opts.LiveWindow, opts.InvariantEvery),
	}, nil
}

// queryCacheSize is the IAVL node cache of the query reader, per store.
const queryCacheSize = 100_000

// Store returns the app's multistore.
func (a *App) Store() *store.MultiStore { return a.store }

// Info runs when CometBFT starts (handshake) to learn the last committed
// height and AppHash, and replays blocks the app has not committed.
func (a *App) Info(_ context.Context, _ *abci.RequestInfo) (*abci.ResponseInfo, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	h, err := a.store.LastHash()
	if err != nil {
		return nil, err
	}
	if v := a.store.Version(); v > 0 {
		a.observer.startup(v)
	}
	return &abci.ResponseInfo{
		Data:             "civic-ledger",
		Version:          Version,
		AppVersion:       AppVersion,
		LastBlockHeight:  a.store.Version(),
		LastBlockAppHash: h,
	}, nil
}

// InitChain runs once, at genesis: it writes the agencies and parameters
// from app_state and returns the genesis AppHash. The validator set is the
// genesis file's (the agencies' keys); InitChain returns no changes to it.
func (a *App) InitChain(_ context.Context, req *abci.RequestInitChain) (*abci.ResponseInitChain, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var gs ledger.GenesisState
	dec := json.NewDecoder(bytes.NewReader(req.AppStateBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&gs); err != nil {
		return nil, fmt.Errorf("genesis app_state: %w", err)
	}
	if err := checkValidators(&gs, req.Validators); err != nil {
		return nil, err
	}
	if req.InitialHeight > 1 {
		a.store.SetInitialVersion(req.InitialHeight)
	}
	if err := ledger.InitGenesis(a.store, req.ChainId, &gs); err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	a.chainID = req.ChainId
	a.observer.forgetValidators() // reload from the genesis agencies
	return &abci.ResponseInitChain{AppHash: a.store.WorkingHash()}, nil
}

// checkValidators insists that the genesis validator set is exactly the
// agencies' validator keys and powers.
func checkValidators(gs *ledger.GenesisState, vals []abci.ValidatorUpdate) error {
	want := map[string]int64{}
	for _, ag := range gs.Agencies {
		want[string(ag.ValidatorKey)] = ag.Power
	}
	if len(vals) != len(want) {
		return fmt.Errorf("genesis has %d validators but %d agencies", len(vals), len(want))
	}
	for _, v := range vals {
		key := v.PubKey.GetEd25519()
		p, ok := want[string(key)]
		if !ok || p != v.Power {
			return fmt.Errorf("genesis validator %X (power %d) is not an agency's validator key and power", key, v.Power)
		}
	}
	return nil
}

// refused answers CheckTx for a tx that fails, counting a new one (not a
// recheck) in civicledger_checktx_refused_total.
func (a *App) refused(req *abci.RequestCheckTx, tx *ledger.Tx, code uint32, err error) *abci.ResponseCheckTx {
	if req.Type == abci.CheckTxType_New {
		a.observer.checkTxRefused(tx, code)
	}
	return &abci.ResponseCheckTx{Code: code, Log: logOf(err), Codespace: Codespace}
}

// CheckTx runs for every tx entering the mempool (and again, as a recheck,
// after each Commit): strict decoding, signatures, then the full rules
// against the check state, so that a tx that would fail is not gossiped.
// Decoding and signatures depend on the tx's bytes and the size limit
// alone, so they run before a.mu is taken, in parallel across the callers
// (see ClientCreator); the rules of the state run under a.mu, one tx at a
// time. If the size limit in force changed in between (a params-change
// committed meanwhile), the tx is decoded again under the new limit, so the
// answer is the one a serial CheckTx would give.
func (a *App) CheckTx(_ context.Context, req *abci.RequestCheckTx) (*abci.ResponseCheckTx, error) {
	maxBytes := a.checkMaxBytes.Load()
	tx, decErr := a.decodeVerified(req.Tx, maxBytes)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.ensureCheckState(); err != nil {
		return nil, err
	}
	if limit := a.check.Params().MaxTxBytes; limit != maxBytes {
		tx, decErr = a.decodeVerified(req.Tx, limit)
	}
	if decErr != nil {
		return a.refused(req, nil, uint32(ledger.CodeOf(decErr)), decErr), nil
	}
	res := a.check.Deliver(tx)
	if res.Code != ledger.CodeOK {
		return a.refused(req, tx, uint32(res.Code), res.Err), nil
	}
	return &abci.ResponseCheckTx{Code: 0, GasWanted: 1}, nil
}

func (a *App) ensureCheckState() error {
	if a.check != nil {
		return nil
	}
	v := a.store.Version()
	// Before the first block, the genesis state is only in the working
	// trees; the overlay never writes through, so reading them is safe.
	var base ledger.Reader = a.store
	if v > 0 {
		view, err := a.store.At(v)
		if err != nil {
			return err
		}
		base = view
	}
	if a.chainID == "" {
		var err error
		if a.chainID, err = loadChainID(base); err != nil {
			return err
		}
	}
	t := a.lastTime
	if t.IsZero() {
		t = time.Now().UTC() // check state only: never reaches consensus
	}
	blk, _, err := ledger.BeginBlock(ledger.NewOverlay(base), ledger.BlockInfo{ChainID: a.chainID, Height: v + 1, Time: t})
	if err != nil {
		return err
	}
	a.check = blk
	a.checkMaxBytes.Store(blk.Params().MaxTxBytes)
	return nil
}

// loadChainID reads the chain id from the seed record of the meta store.
func loadChainID(r ledger.Reader) (string, error) {
	bz, err := r.Get(ledger.StoreMeta, ledger.SeedKey)
	if err != nil {
		return "", err
	}
	var seed struct {
		ChainID string `json:"chain_id"`
	}
	if err := json.Unmarshal(bz, &seed); err != nil || seed.ChainID == "" {
		return "", fmt.Errorf("state has no chain id seed")
	}
	return seed.ChainID, nil
}

// decodeVerified decodes raw and checks its signatures, or returns the tx
// already decoded and verified by an earlier CheckTx (decoded txs are
// immutable, so sharing them is safe).
func (a *App) decodeVerified(raw []byte, maxBytes int64) (*ledger.Tx, error) {
	h := sha256.Sum256(raw)
	if tx := a.cached(h, raw, maxBytes); tx != nil {
		return tx, nil
	}
	tx, err := ledger.DecodeTx(raw, maxBytes)
	if err != nil {
		return nil, err
	}
	if err := a.batcher.verify(tx); err != nil {
		return nil, err
	}
	a.sigs.add(tx)
	return tx, nil
}

// cached returns the decoded, verified tx from the cache, unless raw is over
// the size limit now in force: the limit is a chain parameter that
// governance may lower after the tx was cached, and a node must then answer
// exactly as a node that never saw the tx (DecodeTx's ErrTxTooLarge), or the
// result codes in LastResultsHash would differ between nodes.
func (a *App) cached(h [32]byte, raw []byte, maxBytes int64) *ledger.Tx {
	if maxBytes > 0 && int64(len(raw)) > maxBytes {
		return nil
	}
	return a.sigs.get(h)
}

// PrepareProposal runs on the block proposer: it keeps the mempool's order,
// drops txs that ProcessProposal would refuse (see proposalTxErrors: a tx
// that became too large after a params-change, or any tx that does not decode
// or whose signatures do not verify) and stops before a tx that would
// overflow the block.
func (a *App) PrepareProposal(_ context.Context, req *abci.RequestPrepareProposal) (*abci.ResponsePrepareProposal, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	errs, err := a.proposalTxErrors(req.Height, req.Txs)
	if err != nil {
		return nil, err
	}
	var total int64
	txs := make([][]byte, 0, len(req.Txs))
	for i, tx := range req.Txs {
		if errs[i] != nil {
			a.logger.Info("dropped tx from proposal", "height", req.Height, "err", errs[i])
			continue
		}
		if total+int64(len(tx)) > req.MaxTxBytes {
			break
		}
		total += int64(len(tx))
		txs = append(txs, tx)
	}
	return &abci.ResponsePrepareProposal{Txs: txs}, nil
}

// ProcessProposal runs on every validator for a proposed block. It rejects a
// proposal holding a tx that no honest proposer would include: one over
// params.max_tx_bytes, one that does not decode (encoding or stateless field
// rules) or one whose signatures do not verify. These checks depend only on
// the tx's bytes and the parameters in force for the block, so every correct
// validator decides alike. A tx that decodes and verifies but breaks a rule
// of the state is included with its failure code, as before.
func (a *App) ProcessProposal(_ context.Context, req *abci.RequestProcessProposal) (*abci.ResponseProcessProposal, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	errs, err := a.proposalTxErrors(req.Height, req.Txs)
	if err != nil {
		return nil, err
	}
	for i, e := range errs {
		if e != nil {
			a.logger.Info("rejected proposal", "height", req.Height, "tx", i, "err", e)
			return &abci.ResponseProcessProposal{Status: abci.ResponseProcessProposal_REJECT}, nil
		}
	}
	return &abci.ResponseProcessProposal{Status: abci.ResponseProcessProposal_ACCEPT}, nil
}

// proposalTxErrors decodes and verifies the txs of a proposal for the next
// height and returns, per tx, why it may not be in a block (nil if it may).
// The size limit is the one in force for that block: the check state has run
// BeginBlock for the next height, governance included, so a params-change
// that takes effect in the block is already applied (and txs never change
// the parameters). Verified txs enter the signature cache, so FinalizeBlock
// does not check them again. A tx whose expires_at lies beyond the replay
// window of that height is refused too: its nonce would otherwise have to be
// kept until an expiry of the proposer's choosing (FinalizeBlock writes
// nothing for it, but no honest proposer includes it: CheckTx refuses it).
// Call with a.mu held.
func (a *App) proposalTxErrors(height int64, raws [][]byte) ([]error, error) {
	if err := a.ensureCheckState(); err != nil {
		return nil, err
	}
	params := a.check.Params()
	maxBytes := params.MaxTxBytes
	txs := make([]*ledger.Tx, len(raws))
	errs := make([]error, len(raws))
	for i, raw := range raws {
		if tx := a.cached(sha256.Sum256(raw), raw, maxBytes); tx != nil {
			txs[i] = tx
			continue
		}
		txs[i], errs[i] = ledger.DecodeTx(raw, maxBytes)
	}
	for i, tx := range txs {
		if errs[i] == nil && tx != nil && tx.Body.ExpiresAt > height+params.ReplayWindow {
			errs[i] = fmt.Errorf("%w: body.expires_at %d is more than %d blocks past height %d",
				ledger.ErrExpiryTooFar, tx.Body.ExpiresAt, params.ReplayWindow, height)
		}
	}
	a.verifyBatch(txs, errs)
	return errs, nil
}

// FinalizeBlock runs once per decided block: it applies every tx in order to
// the working state and returns the results and the new AppHash (saved by
// Commit).
func (a *App) FinalizeBlock(_ context.Context, req *abci.RequestFinalizeBlock) (res *abci.ResponseFinalizeBlock, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	start := time.Now()
	defer func() { a.observer.finalizeTook(time.Since(start)) }()
	defer func() {
		if r := recover(); r != nil {
			a.fatal(r)
		}
		if err != nil && a.onFatal != nil {
			a.onFatal(err)
		}
	}()
	if a.chainID == "" {
		var err error
		if a.chainID, err = loadChainID(a.store); err != nil {
			return nil, err
		}
	}
	info := ledger.BlockInfo{ChainID: a.chainID, Height: req.Height, Time: req.Time}
	blk, beginEvents, err := ledger.BeginBlock(a.store, info)
	if err != nil {
		return nil, fmt.Errorf("begin block %d: %w", req.Height, err)
	}
	a.observer.commitInfo(req)
	a.observer.noteEvents(beginEvents)
	maxBytes := blk.Params().MaxTxBytes
	txs := make([]*ledger.Tx, len(req.Txs))
	errs := make([]error, len(req.Txs))
	for i, raw := range req.Txs {
		if tx := a.cached(sha256.Sum256(raw), raw, maxBytes); tx != nil {
			txs[i] = tx
			continue
		}
		txs[i], errs[i] = ledger.DecodeTx(raw, maxBytes)
	}
	a.verifyBatch(txs, errs)
	results := make([]*abci.ExecTxResult, len(req.Txs))
	for i, tx := range txs {
		if errs[i] != nil {
			results[i] = &abci.ExecTxResult{Code: uint32(ledger.CodeOf(errs[i])), Log: logOf(errs[i]), Codespace: Codespace}
			a.observer.tx(tx, results[i].Code, nil, req.Time)
			continue
		}
		res := blk.Deliver(tx)
		a.observer.tx(tx, uint32(res.Code), res.Events, req.Time)
		r := &abci.ExecTxResult{Code: uint32(res.Code), Data: res.Data, Events: a.toABCIEvents(res.Events)}
		if res.Code != ledger.CodeOK {
			r.Log = logOf(res.Err)
			r.Codespace = Codespace
		}
		results[i] = r
	}
	if err := blk.End(); err != nil {
		return nil, fmt.Errorf("end block %d: %w", req.Height, err)
	}
	crashpoint.Hit(crashpoint.FinalizeBlock)
	a.pendingHash = a.store.WorkingHash()
	a.pendingHeight = req.Height
	a.lastTime = req.Time
	return &abci.ResponseFinalizeBlock{
		Events:           a.toABCIEvents(beginEvents),
		TxResults:        results,
		ValidatorUpdates: validatorUpdates(blk.ValidatorUpdates()),
		AppHash:          a.pendingHash,
	}, nil
}

// validatorUpdates converts the ledger's validator set changes (from
// executed governance proposals) for CometBFT, which applies them at
// height+2.
func validatorUpdates(us []ledger.ValidatorUpdate) []abci.ValidatorUpdate {
	if len(us) == 0 {
		return nil
	}
	out := make([]abci.ValidatorUpdate, len(us))
	for i, u := range us {
		out[i] = abci.Ed25519ValidatorUpdate(u.PubKey, u.Power)
	}
	return out
}

// verifyBatch checks the signatures of every decoded tx not already in the
// cache with CometBFT's batch verifier; on a batch failure it falls back to
// per-signature results. errs[i] is set for txs with a bad signature.
func (a *App) verifyBatch(txs []*ledger.Tx, errs []error) {
	type item struct{ tx, sig int }
	bv := cmted25519.NewBatchVerifier()
	var items []item
	for i, tx := range txs {
		if errs[i] != nil || a.sigs.get(tx.Hash) != nil {
			continue
		}
		msg := ledger.SignBytes(tx.BodyBytes)
		for j, s := range tx.Signatures {
			if err := bv.Add(cmted25519.PubKey(s.PubKey), msg, s.Signature); err != nil {
				errs[i] = fmt.Errorf("signatures[%d]: %v: %w", j, err, ledger.ErrBadSignature)
				break
			}
			items = append(items, item{i, j})
		}
	}
	if len(items) == 0 {
		return
	}
	ok, each := bv.Verify()
	bad := map[int]int{}
	if !ok {
		for k, good := range each {
			if !good {
				if _, seen := bad[items[k].tx]; !seen {
					bad[items[k].tx] = items[k].sig
				}
			}
		}
	}
	for _, it := range items {
		if errs[it.tx] != nil {
			continue
		}
		if j, isBad := bad[it.tx]; isBad {
			errs[it.tx] = fmt.Errorf("signatures[%d]: %w", j, ledger.ErrBadSignature)
			continue
		}
		a.sigs.add(txs[it.tx])
	}
}

// Commit runs after FinalizeBlock: it saves every store at the block's
// height. A hash different from the one FinalizeBlock returned means the
// node's state is broken, and it must stop.
func (a *App) Commit(_ context.Context, _ *abci.RequestCommit) (*abci.ResponseCommit, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	start := time.Now()
	hash, version, err := a.store.Commit()
	if err != nil {
		a.fatal(fmt.Errorf("commit: %w", err))
	}
	if a.pendingHash != nil && (!bytes.Equal(hash, a.pendingHash) || version != a.pendingHeight) {
		a.fatal(fmt.Errorf("commit: saved version %d hash %X, but FinalizeBlock(%d) returned %X", version, hash, a.pendingHeight, a.pendingHash))
	}
	a.pendingHash = nil
	a.check = nil
	a.observer.committed(version, time.Since(start))
	if a.onBlock != nil {
		view, err := a.store.At(version)
		if err == nil {
			a.onBlock(version, view)
		}
	}
	a.snapshots.afterCommit(a.store, version, hash)
	crashpoint.Hit(crashpoint.AfterAppCommit)
	return &abci.ResponseCommit{}, nil
}

// logOf is the log of a failed tx: the ledger error's message (it names the
// field or rule) or a fixed text for internal errors.
func logOf(err error) string {
	if ledger.CodeOf(err) == ledger.CodeInternal {
		return "internal error"
	}
	return err.Error()
}

// toABCIEvents converts events for CometBFT, marking for its indexer only
// the attributes that queries search (ledger.Searched), or all of them on
// a node with Options.IndexAllEvents.
func (a *App) toABCIEvents(evs []ledger.Event) []abci.Event {
	if len(evs) == 0 {
		return nil
	}
	out := make([]abci.Event, len(evs))
	for i, e := range evs {
		attrs := make([]abci.EventAttribute, len(e.Attrs))
		for j, at := range e.Attrs {
			attrs[j] = abci.EventAttribute{Key: at.Key, Value: at.Value, Index: at.Index && (a.indexAll || ledger.Searched(e.Type, at.Key))}
		}
		out[i] = abci.Event{Type: e.Type, Attributes: attrs}
	}
	return out
}

// sigCache remembers txs whose signatures verified, decoded, keyed by the
// sha256 of their bytes; bounded in size (oldest evicted first). A tx that
// passed CheckTx on this node is neither decoded nor verified again in
// FinalizeBlock.
type sigCache struct {
	mu   sync.Mutex
	m    map[[32]byte]*ledger.Tx
	ring [][32]byte
	next int
}

func newSigCache(n int) *sigCache {
	return &sigCache{m: make(map[[32]byte]*ledger.Tx, n), ring: make([][32]byte, n)}
}

func (c *sigCache) get(h [32]byte) *ledger.Tx {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[h]
}

func (c *sigCache) add(tx *ledger.Tx) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[tx.Hash]; ok {
		return
	}
	old := c.ring[c.next]
	if old != ([32]byte{}) {
		delete(c.m, old)
	}
	c.ring[c.next] = tx.Hash
	c.m[tx.Hash] = tx
	c.next = (c.next + 1) % len(c.ring)
}
