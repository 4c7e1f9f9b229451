package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	abci "github.com/cometbft/cometbft/abci/types"
	cmtcfg "github.com/cometbft/cometbft/config"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	cmtnode "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"
	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/civicledger/civicledger/app"
	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/store"
	"github.com/civicledger/civicledger/ledger/verify"
)

// Node is a running agency node: CometBFT plus the ledger app.
type Node struct {
	cfg     *Config
	logger  cmtlog.Logger
	onFatal func(error)
	stopped chan struct{}
	watch   sync.Once
	dbs     *dbTracker
	cmt     *cmtnode.Node
	app     *app.App
	store   *store.MultiStore
	snaps   *app.Snapshots
}

// Options tune New.
type Options struct {
	// NoMetrics turns Prometheus off whatever the config says (several nodes
	// in one process cannot share CometBFT's global registry).
	NoMetrics bool
	// OnFatal is called when the app halts consensus on this node (see
	// app.App.OnFatal).
	OnFatal func(error)
	// App, when set, runs this ABCI application instead of the ledger, under
	// the same CometBFT config, genesis and keys (benchmarks against
	// CometBFT's example apps): the ledger state is not opened, App()
	// returns nil, and the caller closes App after Stop.
	App abci.Application
	// AppConnSync calls App through one mutex per ABCI connection, as the
	// ledger app is called (queries run while a block commits); otherwise
	// through one mutex for all (CometBFT's example apps need that).
	AppConnSync bool
}

// genesisProvider reads the home's genesis file as CometBFT's default
// provider does, but a file CometBFT's decoder would panic on (a validator
// key of the wrong length) is an error naming the file.
func genesisProvider(cfg *Config) cmtnode.GenesisDocProvider {
	return func() (*cmttypes.GenesisDoc, error) {
		bz, err := os.ReadFile(cfg.GenesisFile())
		if err != nil {
			return nil, fmt.Errorf("couldn't read GenesisDoc file: %w", err)
		}
		doc, err := verify.ParseGenesis(bz)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cfg.GenesisFile(), err)
		}
		return doc, nil
	}
}

// New opens the state in the home's data directory and builds the node; call
// Start to run it.
func New(cfg *Config, logger cmtlog.Logger, opts Options) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.NoMetrics {
		cfg.Instrumentation.Prometheus = false
	}
	if logger == nil {
		logger = cmtlog.NewNopLogger()
	}
	if cfg.App.MinFreeDiskMB > 0 {
		dir := cfg.DBDir()
		if _, err := os.Stat(dir); err != nil {
			dir = cfg.RootDir // a new home: data/ is made by CometBFT
		}
		if err := app.CheckDiskFree(dir, uint64(cfg.App.MinFreeDiskMB)<<20); err != nil {
			return nil, err
		}
	}
	nodeKey, err := p2p.LoadNodeKey(cfg.NodeKeyFile())
	if err != nil {
		return nil, fmt.Errorf("node key: %w", err)
	}
	if _, err := os.Stat(cfg.PrivValidatorKeyFile()); err != nil {
		return nil, fmt.Errorf("validator key: %w", err)
	}
	pv := privval.LoadOrGenFilePV(cfg.PrivValidatorKeyFile(), cfg.PrivValidatorStateFile())
	if err := reindexTail(cfg, logger); err != nil {
		return nil, err
	}
	if opts.App != nil {
		dbs := &dbTracker{}
		cc := proxy.NewLocalClientCreator(opts.App)
		if opts.AppConnSync {
			cc = proxy.NewConnSyncLocalClientCreator(opts.App)
		}
		n, err := cmtnode.NewNode(cfg.Config, pv, nodeKey, cc,
			genesisProvider(cfg), dbs.provide,
			cmtnode.DefaultMetricsProvider(cfg.Instrumentation), logger)
		if err != nil {
			dbs.closeAll()
			return nil, err
		}
		return &Node{cfg: cfg, logger: logger, onFatal: opts.OnFatal, stopped: make(chan struct{}), dbs: dbs, cmt: n}, nil
	}
	snaps, err := app.OpenSnapshots(filepath.Join(cfg.DBDir(), "snapshots"), logger.With("module", "snapshots"))
	if err != nil {
		return nil, err
	}
	snaps.Interval, snaps.KeepRecent = cfg.App.SnapshotInterval, cfg.App.SnapshotKeepRecent
	snaps.MaxRestoreBytes = cfg.App.SnapshotRestoreMaxBytes
	if cfg.App.SnapshotChunkSize > 0 {
		snaps.ChunkSize = cfg.App.SnapshotChunkSize
	}
	if err := snaps.RecoverRestore(func() error { return store.RemoveDatabase(cfg.DBDir()) }); err != nil {
		return nil, err
	}
	st, err := store.Open(filepath.Join(cfg.DBDir()), ledger.StoreNames, store.Options{CacheSize: cfg.App.StateCacheSize})
	if err != nil {
		return nil, err
	}
	ao := app.DefaultOptions()
	ao.Logger = logger.With("module", "ledger")
	ao.Snapshots = snaps
	ao.LiveWindow = 10 * time.Minute
	ao.OnFatal = opts.OnFatal
	ao.IndexAllEvents = cfg.TxIndex.Indexer == "psql" // an auditor node's SQL tables
	if cfg.Instrumentation.Prometheus {
		// CometBFT registers its metrics on the default registerer and
		// serves it on prometheus_listen_addr: ours join them there.
		ao.Metrics = app.NewMetrics(prometheus.DefaultRegisterer)
	}
	a, err := app.New(st, ao)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	dbs := &dbTracker{}
	n, err := cmtnode.NewNode(cfg.Config, pv, nodeKey, app.ClientCreator(a),
		genesisProvider(cfg), dbs.provide,
		cmtnode.DefaultMetricsProvider(cfg.Instrumentation), logger)
	if err != nil {
		a.Close()
		dbs.closeAll()
		_ = st.Close()
		return nil, err
	}
	return &Node{cfg: cfg, logger: logger, onFatal: opts.OnFatal, stopped: make(chan struct{}), dbs: dbs, cmt: n, app: a, store: st, snaps: snaps}, nil
}

// Start starts consensus, p2p and RPC, and the free disk space watch (see
// AppConfig.MinFreeDiskMB).
func (n *Node) Start() error {
	if err := n.cmt.Start(); err != nil {
		return err
	}
	if n.cfg.App.MinFreeDiskMB > 0 {
		go n.watchDisk(uint64(n.cfg.App.MinFreeDiskMB) << 20)
	}
	return nil
}

// diskWatchEvery is how often a running node checks its free disk space.
const diskWatchEvery = time.Second

// watchDisk checks the data directory's free space until Stop; below
// minFree it logs why and reports ErrDiskLow through Options.OnFatal, once:
// the node's owner stops it before a write fails for want of space.
func (n *Node) watchDisk(minFree uint64) {
	t := time.NewTicker(diskWatchEvery)
	defer t.Stop()
	for {
		select {
		case <-n.stopped:
			return
		case <-t.C:
		}
		if err := app.CheckDiskFree(n.cfg.DBDir(), minFree); err != nil && errors.Is(err, app.ErrDiskLow) {
			n.logger.Error("DISK ALMOST FULL: stopping the node", "err", err)
			if n.onFatal != nil {
				n.onFatal(err)
			}
			return
		}
	}
}

// Stop stops the node and closes its state.
func (n *Node) Stop() error {
	n.watch.Do(func() { close(n.stopped) })
	var err error
	if n.cmt.IsRunning() {
		err = n.cmt.Stop()
		n.cmt.Wait()
	}
	// CometBFT v0.38 does not close every database it opened (the tx
	// index stays open), which would keep the goleveldb lock: close them all.
	n.dbs.closeAll()
	if n.app == nil { // Options.App: the caller closes it
		return err
	}
	n.app.Close()   // the metrics worker reads the state
	n.snaps.Close() // so does a snapshot being written
	if cerr := n.store.Close(); err == nil {
		err = cerr
	}
	return err
}

// dbTracker opens CometBFT's databases and remembers them for closing.
type dbTracker struct {
	mu  sync.Mutex
	dbs []dbm.DB
}

func (t *dbTracker) provide(ctx *cmtcfg.DBContext) (dbm.DB, error) {
	var db dbm.DB
	var err error
	switch {
	case dbm.BackendType(ctx.Config.DBBackend) == dbm.GoLevelDBBackend && (ctx.ID == "blockstore" || ctx.ID == "tx_index"):
		// the two databases written per tx: see store.LevelDBOptions
		db, err = dbm.NewGoLevelDBWithOpts(ctx.ID, ctx.Config.DBDir(), store.LevelDBOptions())
	default:
		db, err = cmtcfg.DefaultDBProvider(ctx)
	}
	if err != nil {
		return nil, err
	}
	cdb := &closableDB{DB: db}
	t.mu.Lock()
	t.dbs = append(t.dbs, cdb)
	t.mu.Unlock()
	return cdb, nil
}

// closableDB makes reads after Close return "absent" instead of an error.
// CometBFT v0.38 lets some consensus goroutines (queryMaj23Routine) outlive
// Stop; their block store reads on a closed goleveldb would otherwise panic
// ("leveldb: closed") and take the whole process down.
type closableDB struct {
	dbm.DB
	mu     sync.RWMutex
	closed bool
}

func (d *closableDB) Get(key []byte) ([]byte, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return nil, nil
	}
	return d.DB.Get(key)
}

func (d *closableDB) Has(key []byte) (bool, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return false, nil
	}
	return d.DB.Has(key)
}

func (d *closableDB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	return d.DB.Close()
}

func (t *dbTracker) closeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, db := range t.dbs {
		_ = db.Close() // already-closed databases report an error; ignore it
	}
	t.dbs = nil
}

// App returns the node's ledger app (nil when Options.App replaced it).
func (n *Node) App() *app.App { return n.app }

// CometBFT returns the underlying CometBFT node.
func (n *Node) CometBFT() *cmtnode.Node { return n.cmt }

// Config returns the node's configuration.
func (n *Node) Config() *Config { return n.cfg }

// RPCURL is the node's RPC address as an http URL.
func (n *Node) RPCURL() string { return "http://" + hostPort(n.cfg.RPC.ListenAddress) }
