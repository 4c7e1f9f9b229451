package main

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cometbft/cometbft/abci/example/kvstore"
	abci "github.com/cometbft/cometbft/abci/types"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/spf13/cobra"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/internal/keystore"
	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/node"
)

const benchChainID = "civic-bench"

// benchTxsHook, when set (tests), may alter the generated txs before they
// are sent.
var benchTxsHook func(txs [][]byte)

type benchOpts struct {
	app           string
	validators    int
	txs           int
	concurrency   int
	timeoutCommit time.Duration
	home          string
	output        string
	cpuprofile    string
	maxWait       time.Duration
}

func newBenchCmd() *cobra.Command {
	o := &benchOpts{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "load a fresh in-process local network (the ledger or CometBFT's kvstore) with signed txs and report committed tx/s",
		Long: `bench starts a fresh network of validators in this process on loopback (production consensus
timeouts except timeout_commit, metrics and PEX off), pre-generates --txs transactions, sends them with
--concurrency workers through broadcast_tx_sync spread over the validators' RPC endpoints, and waits until
every validator has committed all of them.

--app ledger sends real signed ledger txs, each agency's through its own node: half new grant awards,
half payments against grants awarded in an untimed setup phase (one setup grant per four payments, all
committed before timing starts). --app kvstore runs CometBFT's kvstore example app (persistent, goleveldb)
under the same config and genesis, with key=value txs of the same sizes in both phases.

Reported: committed tx/s from the first submit to the last commit (as seen by the node each tx was sent
to), CheckTx rejections, txs per block, submit→commit latency of every tx. Exit status 1 if any tx is
rejected or not committed within --max-wait of the last submit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return withExit(2, err)
			}
			rep, err := runBench(cmd.Context(), cmd.ErrOrStderr(), o)
			if rep != nil {
				if err != nil {
					rep.Error = err.Error()
				}
				if o.output == "json" {
					enc := json.NewEncoder(cmd.OutOrStdout())
					enc.SetIndent("", "  ")
					if jerr := enc.Encode(rep); jerr != nil && err == nil {
						err = jerr
					}
				} else {
					rep.print(cmd.OutOrStdout())
				}
			}
			return withExit(1, err)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.app, "app", "ledger", "application: ledger or kvstore (CometBFT's example app)")
	f.IntVar(&o.validators, "validators", 1, "number of validators (in-process nodes)")
	f.IntVar(&o.txs, "txs", 20000, "number of transactions")
	f.IntVar(&o.concurrency, "concurrency", 64, "concurrent broadcast_tx_sync workers")
	f.DurationVar(&o.timeoutCommit, "timeout-commit", time.Second, "consensus timeout_commit (the other timeouts keep their production defaults)")
	f.StringVar(&o.home, flagHome, "", "directory for the validators' fresh homes, kept afterwards (default: a temporary directory, removed)")
	f.StringVarP(&o.output, flagOutput, "o", "text", "report format: text or json")
	f.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the whole process from the first submit to the last commit to `FILE`")
	f.DurationVar(&o.maxWait, "max-wait", 3*time.Minute, "fail if not every tx is committed this long after the last submit")
	return cmd
}

func (o *benchOpts) validate() error {
	switch {
	case o.app != "ledger" && o.app != "kvstore":
		return fmt.Errorf("--app must be ledger or kvstore, not %q", o.app)
	case o.validators < 1 || o.validators > 10:
		return errors.New("--validators must be between 1 and 10")
	case o.txs < 1:
		return errors.New("--txs must be at least 1")
	case o.concurrency < 1:
		return errors.New("--concurrency must be at least 1")
	case o.timeoutCommit <= 0:
		return errors.New("--timeout-commit must be positive")
	case o.maxWait <= 0:
		return errors.New("--max-wait must be positive")
	case o.output != "text" && o.output != "json":
		return fmt.Errorf("-o must be text or json, not %q", o.output)
	}
	return nil
}

// benchReport is what `ledgerd bench` prints.
type benchReport struct {
	App           string  `json:"app"`
	Validators    int     `json:"validators"`
	Txs           int     `json:"txs"`
	SetupTxs      int     `json:"setup_txs"` // sent and committed before timing
	Concurrency   int     `json:"concurrency"`
	TimeoutCommit string  `json:"timeout_commit"`
	TxBytesMean   float64 `json:"tx_bytes_mean"`
	TxBytesMin    int     `json:"tx_bytes_min"`
	TxBytesMax    int     `json:"tx_bytes_max"`
	Submitted     int     `json:"submitted"` // accepted by CheckTx
	// CheckTxRejected counts broadcast_tx_sync calls that failed or
	// returned a non-zero code; BlockRejected txs in blocks with a
	// non-zero FinalizeBlock code.
	CheckTxRejected int      `json:"checktx_rejected"`
	BlockRejected   int      `json:"block_rejected"`
	Errors          []string `json:"errors,omitempty"` // the first few
	Committed       int      `json:"committed"`        // on every validator
	Seconds         float64  `json:"seconds"`          // first submit → last commit
	TxPerSec        float64  `json:"tx_per_sec"`
	SubmitSeconds   float64  `json:"submit_seconds"` // first submit → last broadcast_tx_sync returned
	Blocks          int      `json:"blocks"`         // blocks holding the txs
	FirstHeight     int64    `json:"first_height"`
	LastHeight      int64    `json:"last_height"`
	BlockTxsMean    float64  `json:"block_txs_mean"`
	BlockTxsMax     int      `json:"block_txs_max"`
	LatencyP50Ms    float64  `json:"latency_p50_ms"` // submit → commit on the node the tx was sent to
	LatencyP99Ms    float64  `json:"latency_p99_ms"`
	LatencyMaxMs    float64  `json:"latency_max_ms"`
	Error           string   `json:"error,omitempty"` // why the run failed
}

func (r *benchReport) print(w io.Writer) {
	vals := "validators"
	if r.Validators == 1 {
		vals = "validator"
	}
	what := "key=value txs"
	if r.App == "ledger" {
		what = "signed txs (grant awards, payments)"
	}
	fmt.Fprintf(w, "ledgerd bench: app %s, %d %s, %d %s, concurrency %d, timeout_commit %s\n",
		r.App, r.Validators, vals, r.Txs, what, r.Concurrency, r.TimeoutCommit)
	fmt.Fprintf(w, "  tx size        mean %.0f B (min %d, max %d)\n", r.TxBytesMean, r.TxBytesMin, r.TxBytesMax)
	fmt.Fprintf(w, "  setup          %d txs committed before timing\n", r.SetupTxs)
	fmt.Fprintf(w, "  rejected       %d at CheckTx, %d in blocks\n", r.CheckTxRejected, r.BlockRejected)
	for _, e := range r.Errors {
		fmt.Fprintf(w, "                 %s\n", e)
	}
	fmt.Fprintf(w, "  committed      %d of %d", r.Committed, r.Txs)
	if r.Seconds > 0 {
		fmt.Fprintf(w, " in %.2f s (first submit → last commit): %.0f tx/s", r.Seconds, r.TxPerSec)
	}
	fmt.Fprintln(w)
	if r.Blocks > 0 {
		fmt.Fprintf(w, "  blocks         %d (heights %d–%d), mean %.0f txs, max %d\n", r.Blocks, r.FirstHeight, r.LastHeight, r.BlockTxsMean, r.BlockTxsMax)
	}
	if r.LatencyMaxMs > 0 {
		fmt.Fprintf(w, "  submit→commit  p50 %.0f ms, p99 %.0f ms, max %.0f ms\n", r.LatencyP50Ms, r.LatencyP99Ms, r.LatencyMaxMs)
	}
	if r.SubmitSeconds > 0 {
		fmt.Fprintf(w, "  submitting     %.2f s (%.0f tx/s through CheckTx)\n", r.SubmitSeconds, float64(r.Submitted)/r.SubmitSeconds)
	}
}

// benchBlock is one committed block as a validator reported it.
type benchBlock struct {
	height int64
	at     time.Time
	txs    cmttypes.Txs
	codes  []uint32
}

// blockWatch collects the blocks a validator commits (its NewBlock events,
// published after the app's Commit).
type blockWatch struct {
	mu     sync.Mutex
	blocks []benchBlock
	txs    int
	err    error
	done   chan struct{} // closed once txs ≥ want or on error
}

func watchBlocks(ctx context.Context, nd *node.Node, name string, want int) (*blockWatch, error) {
	bus := nd.CometBFT().EventBus()
	sub, err := bus.Subscribe(ctx, name, cmttypes.EventQueryNewBlock, 100_000)
	if err != nil {
		return nil, err
	}
	w := &blockWatch{done: make(chan struct{})}
	go func() {
		closed := false
		finish := func(err error) {
			w.mu.Lock()
			if w.err == nil {
				w.err = err
			}
			w.mu.Unlock()
			if !closed {
				closed = true
				close(w.done)
			}
		}
		for {
			select {
			case msg := <-sub.Out():
				at := time.Now()
				ev, ok := msg.Data().(cmttypes.EventDataNewBlock)
				if !ok {
					continue
				}
				b := benchBlock{height: ev.Block.Height, at: at, txs: ev.Block.Txs, codes: make([]uint32, len(ev.ResultFinalizeBlock.TxResults))}
				for i, r := range ev.ResultFinalizeBlock.TxResults {
					b.codes[i] = r.Code
				}
				w.mu.Lock()
				w.blocks = append(w.blocks, b)
				w.txs += len(b.txs)
				n := w.txs
				w.mu.Unlock()
				if n >= want && !closed {
					finish(nil)
				}
			case <-sub.Canceled():
				if !closed {
					finish(fmt.Errorf("block subscription of %s ended: %v", name, sub.Err()))
				}
				return
			case <-ctx.Done():
				_ = bus.Unsubscribe(context.Background(), name, cmttypes.EventQueryNewBlock)
				return
			}
		}
	}()
	return w, nil
}

func (w *blockWatch) committed() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.txs
}

// benchOfficer signs one agency's txs.
type benchOfficer struct {
	agency          string
	grants, finance ed25519.PrivateKey
}

var benchRecipient = ledger.Party{Name: "Riverside Community Energy Ltd", Scheme: "GB-COH", ID: "09876543"}

// benchSetupGrants is the number of grants awarded and committed before
// the timed txs, for their payments: about one per four payments, a whole
// number per agency.
func benchSetupGrants(n, agencies int) int {
	payments := n / 2
	return agencies * max(1, (payments+4*agencies-1)/(4*agencies))
}

// ledgerBenchTxs signs the setup grants and the n timed txs. Timed tx i is
// agency (i mod V)'s: a new grant award or a payment against one of its
// setup grants, alternately per agency; setup grant s is agency (s mod V)'s.
// Nonces are unique per signer (timed i: i+1; setup s: n+s+1); every tx
// expires at expiresAt. Signing runs in parallel.
func ledgerBenchTxs(n int, officers []benchOfficer, expiresAt int64) (setup, timed [][]byte, err error) {
	v := len(officers)
	nSetup := benchSetupGrants(n, v)
	award := func(id string) ledger.Payload {
		return &ledger.GrantAward{ID: id, Recipient: benchRecipient, Programme: "Clean Energy Fund",
			Purpose: "Community solar array", Amount: "25000000", Currency: "EUR", PeriodStart: "2026-01-01",
			PeriodEnd: "2027-12-31", DecisionDate: "2026-01-15", DocumentHash: demoDoc}
	}
	setupID := func(s int) string { return fmt.Sprintf("G-SETUP-%08d", s) }
	all, err := signParallel(nSetup+n, func(j int) (benchOfficer, ed25519.PrivateKey, uint64, ledger.Payload) {
		if j >= n { // setup grant s
			s := j - n
			of := officers[s%v]
			return of, of.grants, uint64(j) + 1, award(setupID(s))
		}
		of := officers[j%v]
		if (j/v)%2 == 0 {
			return of, of.grants, uint64(j) + 1, award(fmt.Sprintf("G-BENCH-%08d", j))
		}
		k := (j / v) / 2 // this agency's k-th payment
		s := j%v + v*(k%(nSetup/v))
		return of, of.finance, uint64(j) + 1, &ledger.PaymentRecord{ID: fmt.Sprintf("P-BENCH-%08d", j), Payee: benchRecipient,
			Amount: "600000", Currency: "EUR", Date: "2026-02-01", Purpose: "First instalment", Grant: setupID(s)}
	}, expiresAt)
	if err != nil {
		return nil, nil, err
	}
	return all[n:], all[:n], nil
}

func signParallel(count int, build func(j int) (benchOfficer, ed25519.PrivateKey, uint64, ledger.Payload), expiresAt int64) ([][]byte, error) {
	out := make([][]byte, count)
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := w; j < count; j += workers {
				of, key, nonce, p := build(j)
				body, err := ledger.NewBody(benchChainID, of.agency, key.Public().(ed25519.PublicKey), nonce, expiresAt, p)
				if err == nil {
					out[j], err = ledger.SignTx(body, key)
				}
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return out, firstErr
}

// kvstoreBenchTxs returns key=value txs with the sizes of the ledger txs the
// same run would send (signed with throwaway keys, for their sizes only).
func kvstoreBenchTxs(n, agencies int, expiresAt int64) (setup, timed [][]byte, err error) {
	officers := make([]benchOfficer, agencies)
	for i := range officers {
		seed := sha256.Sum256(fmt.Appendf(nil, "bench-%d", i))
		k := ed25519.NewKeyFromSeed(seed[:])
		officers[i] = benchOfficer{agency: fmt.Sprintf("agency-%d", i+1), grants: k, finance: k}
	}
	sizedSetup, sizedTimed, err := ledgerBenchTxs(n, officers, expiresAt)
	if err != nil {
		return nil, nil, err
	}
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	kv := func(prefix string, sized [][]byte) [][]byte {
		out := make([][]byte, len(sized))
		for i, l := range sized {
			tx := fmt.Appendf(nil, "%s%08d=", prefix, i)
			h := sha256.Sum256(tx)
			for j := 0; len(tx) < len(l); j++ {
				tx = append(tx, alphabet[int(h[j%32]^byte(j/32))%len(alphabet)])
			}
			out[i] = tx
		}
		return out
	}
	return kv("setup", sizedSetup), kv("bench", sizedTimed), nil
}

// benchSend is the outcome of sending txs.
type benchSend struct {
	t0        time.Time
	submitAt  []time.Duration // since t0, per tx
	last      time.Duration   // last broadcast_tx_sync returned
	submitted int
	rejected  int
	errs      []string
}

// sendTxs sends txs with concurrency workers through broadcast_tx_sync, tx
// i to node nodeOf(i); each worker keeps one connection per node.
func sendTxs(ctx context.Context, urls []string, txs [][]byte, nodeOf func(int) int, concurrency int) *benchSend {
	next := make(chan int, len(txs))
	for i := range txs {
		next <- i
	}
	close(next)
	r := &benchSend{submitAt: make([]time.Duration, len(txs))}
	var submitted, rejected atomic.Int64
	var mu sync.Mutex
	noteErr := func(s string) {
		rejected.Add(1)
		mu.Lock()
		if len(r.errs) < 5 {
			r.errs = append(r.errs, s)
		}
		mu.Unlock()
	}
	var wg sync.WaitGroup
	r.t0 = time.Now()
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			clients := make([]*rpchttp.HTTP, len(urls))
			for i := range next {
				k := nodeOf(i)
				if clients[k] == nil {
					c, err := client.New(urls[k])
					if err != nil {
						noteErr(err.Error())
						continue
					}
					clients[k] = c.RPC()
				}
				r.submitAt[i] = time.Since(r.t0)
				res, err := clients[k].BroadcastTxSync(ctx, txs[i])
				switch {
				case err != nil:
					noteErr(fmt.Sprintf("tx %d: %v", i, err))
				case res.Code != 0:
					noteErr(fmt.Sprintf("tx %d: CheckTx code %d: %s", i, res.Code, res.Log))
				default:
					submitted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	r.last = time.Since(r.t0)
	r.submitted, r.rejected = int(submitted.Load()), int(rejected.Load())
	return r
}

// watchAll subscribes to every validator's committed blocks until each has
// committed want txs.
func watchAll(ctx context.Context, net *node.Network, name string, want int) ([]*blockWatch, error) {
	ws := make([]*blockWatch, len(net.Nodes))
	for k, nd := range net.Nodes {
		var err error
		if ws[k], err = watchBlocks(ctx, nd, fmt.Sprintf("%s-%d", name, k), want); err != nil {
			return nil, err
		}
	}
	return ws, nil
}

// waitAll waits until every validator has committed its want txs.
func waitAll(ctx context.Context, ws []*blockWatch, tn *node.Testnet, want int, maxWait time.Duration) (int, error) {
	deadline := time.After(maxWait)
	for k, w := range ws {
		select {
		case <-w.done:
			if w.err != nil {
				return 0, w.err
			}
		case <-deadline:
			n := w.committed()
			return n, fmt.Errorf("only %d of %d txs committed on %s within %s of the last submit", n, want, tn.Agencies[k].ID, maxWait)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return want, nil
}

// benchCommits is what the validators' blocks say about a set of txs.
type benchCommits struct {
	at          [][]time.Time // [validator][tx]: when it committed the tx (zero: never)
	failed      int           // txs with a non-zero FinalizeBlock code
	errs        []string
	blocks      int // blocks holding the txs
	first, last int64
	maxTxs      int
}

func collectCommits(ws []*blockWatch, txs [][]byte) *benchCommits {
	index := make(map[[32]byte]int, len(txs))
	for i, tx := range txs {
		index[sha256.Sum256(tx)] = i
	}
	c := &benchCommits{at: make([][]time.Time, len(ws))}
	for k, w := range ws {
		w.mu.Lock()
		blocks := slices.Clone(w.blocks)
		w.mu.Unlock()
		c.at[k] = make([]time.Time, len(txs))
		for _, b := range blocks {
			var ours int
			for j, tx := range b.txs {
				i, ok := index[sha256.Sum256(tx)]
				if !ok {
					continue
				}
				ours++
				c.at[k][i] = b.at
				if k == 0 && j < len(b.codes) && b.codes[j] != 0 {
					c.failed++
					if len(c.errs) < 5 {
						c.errs = append(c.errs, fmt.Sprintf("tx %d: FinalizeBlock code %d in block %d", i, b.codes[j], b.height))
					}
				}
			}
			if k == 0 && ours > 0 {
				c.blocks++
				if c.first == 0 {
					c.first = b.height
				}
				c.last = b.height
				c.maxTxs = max(c.maxTxs, ours)
			}
		}
	}
	return c
}

func runBench(ctx context.Context, logw io.Writer, o *benchOpts) (*benchReport, error) {
	start := time.Now()
	logf := func(format string, args ...any) {
		fmt.Fprintf(logw, "bench %6.1fs: "+format+"\n", append([]any{time.Since(start).Seconds()}, args...)...)
	}
	home := o.home
	if home == "" {
		dir, err := os.MkdirTemp("", "ledgerd-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		home = dir
	} else if abs, err := filepath.Abs(home); err == nil {
		home = abs
	}
	nSetup := benchSetupGrants(o.txs, o.validators)
	var appsMu sync.Mutex
	var apps []*kvstore.Application
	closeApps := func() {
		for _, a := range apps {
			_ = a.Close()
		}
		apps = nil
	}
	defer closeApps()
	opts := node.NetworkOptions{
		Logger: cmtlog.NewNopLogger(),
		Tweak: func(_ int, c *node.Config) {
			c.Consensus.TimeoutCommit = o.timeoutCommit
			// Room for the whole run in the mempool and its cache.
			all := o.txs + nSetup
			c.Mempool.Size = max(c.Mempool.Size, 2*all)
			c.Mempool.CacheSize = max(c.Mempool.CacheSize, 2*all)
			c.Mempool.MaxTxsBytes = max(c.Mempool.MaxTxsBytes, int64(all)*int64(c.Mempool.MaxTxBytes))
		},
	}
	if o.app == "kvstore" {
		opts.App = func(_ int, c *node.Config) (abci.Application, error) {
			if err := os.MkdirAll(c.DBDir(), 0o700); err != nil {
				return nil, err
			}
			a := kvstore.NewPersistentApplication(c.DBDir())
			appsMu.Lock()
			apps = append(apps, a)
			appsMu.Unlock()
			return a, nil
		}
	}
	logf("starting %d %s validator(s) in %s (timeout_commit %s)", o.validators, o.app, home, o.timeoutCommit)
	var tn *node.Testnet
	var net *node.Network
	for attempt := 1; ; attempt++ {
		var err error
		tn, err = node.GenerateTestnet(node.TestnetOptions{
			Agencies: o.validators, Output: home, ChainID: benchChainID,
			Keyring: keystore.BackendTest, ExtraOfficers: true,
		})
		if err != nil {
			return nil, err
		}
		sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		net, err = node.StartTestnet(sctx, tn, opts)
		cancel()
		if err == nil {
			break
		}
		// The free ports picked for the testnet can be taken (by the
		// nodes' own outgoing connections) before they listen: try again
		// with new ones.
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			return nil, err
		}
		logf("%v; again with other ports", err)
		closeApps()
		if err := os.RemoveAll(home); err != nil {
			return nil, err
		}
	}
	defer func() {
		net.Stop()
		logf("network stopped")
	}()
	urls := make([]string, len(tn.Agencies))
	for k, a := range tn.Agencies {
		urls[k] = a.RPC
	}

	// Pre-generate every tx before timing.
	rpc0, err := client.New(urls[0])
	if err != nil {
		return nil, err
	}
	st, err := rpc0.Status(ctx)
	if err != nil {
		return nil, err
	}
	window := ledger.DefaultParams().ReplayWindow
	if o.app == "ledger" {
		res, err := rpc0.Query(ctx, ledger.QueryParams, nil, 0, false)
		if err != nil {
			return nil, err
		}
		var p ledger.Params
		if err := json.Unmarshal(res.Value, &p); err != nil {
			return nil, fmt.Errorf("params: %w", err)
		}
		window = p.ReplayWindow
	}
	expiresAt := st.SyncInfo.LatestBlockHeight + window
	logf("generating %d setup and %d timed txs", nSetup, o.txs)
	var setup, txs [][]byte
	if o.app == "ledger" {
		officers := make([]benchOfficer, len(tn.Agencies))
		for i, a := range tn.Agencies {
			ks, err := keystore.Open(filepath.Join(a.Home, "keys"), keystore.BackendTest, nil)
			if err != nil {
				return nil, err
			}
			officers[i].agency = a.ID
			if officers[i].grants, err = ks.PrivKey("grants"); err != nil {
				return nil, err
			}
			if officers[i].finance, err = ks.PrivKey("finance"); err != nil {
				return nil, err
			}
		}
		setup, txs, err = ledgerBenchTxs(o.txs, officers, expiresAt)
	} else {
		setup, txs, err = kvstoreBenchTxs(o.txs, len(tn.Agencies), expiresAt)
	}
	if err != nil {
		return nil, err
	}
	if benchTxsHook != nil {
		benchTxsHook(txs)
	}
	rep := &benchReport{App: o.app, Validators: o.validators, Txs: o.txs, SetupTxs: len(setup), Concurrency: o.concurrency,
		TimeoutCommit: o.timeoutCommit.String(), TxBytesMin: len(txs[0])}
	var total int
	seen := make(map[[32]byte]bool, len(txs)+len(setup))
	for _, tx := range append(slices.Clip(txs), setup...) {
		seen[sha256.Sum256(tx)] = true
	}
	for _, tx := range txs {
		total += len(tx)
		rep.TxBytesMin, rep.TxBytesMax = min(rep.TxBytesMin, len(tx)), max(rep.TxBytesMax, len(tx))
	}
	if len(seen) != len(txs)+len(setup) {
		return nil, errors.New("duplicate txs generated")
	}
	rep.TxBytesMean = float64(total) / float64(len(txs))
	nodeOf := func(i int) int { return i % len(tn.Agencies) }

	// Setup, untimed: the grants the payments pay against, committed.
	logf("sending %d setup txs", len(setup))
	sw, cancelSetup := context.WithCancel(ctx)
	ws, err := watchAll(sw, net, "setup", len(setup))
	if err != nil {
		cancelSetup()
		return nil, err
	}
	sent := sendTxs(ctx, urls, setup, nodeOf, o.concurrency)
	if sent.rejected == 0 {
		_, err = waitAll(ctx, ws, tn, len(setup), o.maxWait)
	}
	cancelSetup()
	switch {
	case sent.rejected > 0:
		rep.Errors = sent.errs
		return rep, fmt.Errorf("setup: %d of %d txs rejected at submission", sent.rejected, len(setup))
	case err != nil:
		return rep, fmt.Errorf("setup: %w", err)
	}
	if c := collectCommits(ws, setup); c.failed > 0 {
		rep.Errors = c.errs
		return rep, fmt.Errorf("setup: %d txs failed in FinalizeBlock", c.failed)
	}

	// Timed.
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	if ws, err = watchAll(wctx, net, "bench", len(txs)); err != nil {
		return nil, err
	}
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile() // a no-op once stopped below
	}
	logf("sending %d txs with %d workers to %d node(s)", len(txs), o.concurrency, len(tn.Agencies))
	sent = sendTxs(ctx, urls, txs, nodeOf, o.concurrency)
	rep.Submitted, rep.CheckTxRejected, rep.SubmitSeconds, rep.Errors = sent.submitted, sent.rejected, sent.last.Seconds(), sent.errs
	if sent.rejected > 0 {
		return rep, fmt.Errorf("%d of %d txs rejected at submission", sent.rejected, len(txs))
	}
	logf("all %d txs accepted by CheckTx in %.2f s; waiting for the blocks", len(txs), sent.last.Seconds())
	if n, err := waitAll(ctx, ws, tn, len(txs), o.maxWait); err != nil {
		rep.Committed = n
		return rep, err
	}
	if o.cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	stopWatch()

	c := collectCommits(ws, txs)
	rep.BlockRejected, rep.Errors = c.failed, append(rep.Errors, c.errs...)
	rep.Blocks, rep.FirstHeight, rep.LastHeight, rep.BlockTxsMax = c.blocks, c.first, c.last, c.maxTxs
	committed := len(txs)
	var end time.Time
	lat := make([]time.Duration, 0, len(txs))
	for i := range txs {
		for k := range c.at {
			if c.at[k][i].IsZero() {
				committed--
				break
			}
		}
		at := c.at[nodeOf(i)][i] // as seen by the node the tx was sent to
		if at.IsZero() {
			continue
		}
		if at.After(end) {
			end = at
		}
		lat = append(lat, at.Sub(sent.t0.Add(sent.submitAt[i])))
	}
	rep.Committed = committed
	if rep.Blocks > 0 {
		rep.BlockTxsMean = float64(len(txs)) / float64(rep.Blocks)
	}
	if !end.IsZero() {
		rep.Seconds = end.Sub(sent.t0).Seconds()
		rep.TxPerSec = float64(committed) / rep.Seconds
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		rep.LatencyP50Ms = ms(lat[len(lat)/2])
		rep.LatencyP99Ms = ms(lat[min(len(lat)-1, len(lat)*99/100)])
		rep.LatencyMaxMs = ms(lat[len(lat)-1])
	}
	switch {
	case rep.BlockRejected > 0:
		return rep, fmt.Errorf("%d txs failed in FinalizeBlock", rep.BlockRejected)
	case committed != len(txs):
		return rep, fmt.Errorf("only %d of %d txs committed on every validator", committed, len(txs))
	}
	return rep, nil
}
