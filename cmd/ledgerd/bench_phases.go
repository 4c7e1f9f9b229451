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

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/internal/keystore"
	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/node"
)

// The engine of `ledgerd bench`: newBenchCmd runs its phases in order
// (start, prepare, seed, submit, confirm, measure) and prints the report.
// Each phase is a benchRun method with a doc comment saying what it does
// and how it fails; it reads what the earlier phases left in the benchRun
// and fills in its part of the report.

const benchChainID = "civic-bench"

// benchErrorsKept is how many errors a phase keeps for the report: the
// first ones.
const benchErrorsKept = 5

// benchTxsHook, when set (tests), may alter the generated txs before they
// are sent.
var benchTxsHook func(txs [][]byte)

// benchRun is one run of the bench: its options, what each phase hands to
// the next, and what close undoes.
type benchRun struct {
	o        *benchOpts
	logf     func(format string, args ...any)
	cleanups []func() // run by close, the last added first

	// start
	home   string // the validators' homes
	tn     *node.Testnet
	net    *node.Network
	urls   []string // the validators' RPC endpoints
	appsMu sync.Mutex
	apps   []*kvstore.Application // --app kvstore: the apps, closed after the network
	procs  []*benchProc           // --processes: the validators' processes

	// prefill
	fill *benchFill

	round int // from 0, of --rounds

	// prepare
	setup, txs [][]byte     // the setup grants, the timed txs
	rep        *benchReport // filled in by each phase from here on

	// submit
	watches   []*blockWatch // every validator's blocks since the timed txs
	stopWatch context.CancelFunc
	sent      *benchSend

	cpu0, cpuChildren0 float64 // CPU seconds at the first submit (cpuSeconds)

	// confirm
	commits *benchCommits
}

// newBenchRun starts a run of o; its progress lines go to logw, each with
// the seconds since this call.
func newBenchRun(logw io.Writer, o *benchOpts) *benchRun {
	start := time.Now()
	r := &benchRun{o: o}
	r.logf = func(format string, args ...any) {
		fmt.Fprintf(logw, "bench %6.1fs: "+format+"\n", append([]any{time.Since(start).Seconds()}, args...)...)
	}
	return r
}

// run runs the phases once in order, then the round's phases rounds
// times, until one fails, then closes the run. After each round it hands
// emit the round's report, and after a failed one the report with the
// error when the measured run failed (a benchFailure: txs rejected, failed
// or not committed); it returns emit's error. When the bench could not run
// at all it returns only the error.
func (r *benchRun) run(ctx context.Context, once, round []func(context.Context) error, rounds int,
	emit func(*benchReport, error) error) error {
	defer r.close()
	for _, phase := range once {
		if err := phase(ctx); err != nil {
			return err
		}
	}
	for r.round = 0; r.round < rounds; r.round++ {
		r.rep = nil
		for _, phase := range round {
			if err := phase(ctx); err != nil {
				var f *benchFailure
				if errors.As(err, &f) && r.rep != nil {
					return emit(r.rep, err)
				}
				return err
			}
		}
		if r.stopWatch != nil {
			r.stopWatch()
		}
		if err := emit(r.rep, nil); err != nil {
			return err
		}
	}
	return nil
}

// onClose adds f to what close undoes.
func (r *benchRun) onClose(f func()) { r.cleanups = append(r.cleanups, f) }

// close stops the CPU profile and the block watches, stops the network and
// removes a temporary home: the phases' cleanups, the last added first.
func (r *benchRun) close() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	r.cleanups = nil
}

// benchFailure is a failure of the measured run itself, which the report
// describes; any other error from a phase means the bench could not run.
type benchFailure struct{ err error }

func (f *benchFailure) Error() string { return f.err.Error() }
func (f *benchFailure) Unwrap() error { return f.err }

// benchFailed marks err as a failure of the measured run.
func benchFailed(err error) error { return &benchFailure{err} }

// nodeOf is the validator timed tx (or setup tx) i is sent to, and whose
// commit time counts for it.
func (r *benchRun) nodeOf(i int) int { return i % len(r.tn.Agencies) }

// start generates a fresh network of --validators validators in --home (by
// default a temporary directory, removed by close) and starts them in this
// process. The free ports picked for the network can be taken (by the
// nodes' own outgoing connections) before they listen: then it tries again
// with new ones, up to three times.
func (r *benchRun) start(ctx context.Context) error {
	o := r.o
	r.home = o.home
	if r.home == "" {
		dir, err := os.MkdirTemp("", "ledgerd-bench-")
		if err != nil {
			return err
		}
		r.onClose(func() { _ = os.RemoveAll(dir) })
		r.home = dir
	} else if abs, err := filepath.Abs(r.home); err == nil {
		r.home = abs
	}
	r.onClose(r.closeApps)
	opts := r.networkOptions()
	where := "in this process"
	if o.processes {
		where = "as separate processes"
	}
	r.logf("starting %d %s validator(s) %s in %s (timeout_commit %s)", o.validators, o.app, where, r.home, o.timeoutCommit)
	for attempt := 1; ; attempt++ {
		var err error
		r.tn, err = node.GenerateTestnet(node.TestnetOptions{
			Agencies: o.validators, Output: r.home, ChainID: benchChainID,
			Keyring: keystore.BackendTest, ExtraOfficers: true,
		})
		if err != nil {
			return err
		}
		r.urls = make([]string, len(r.tn.Agencies))
		for k, a := range r.tn.Agencies {
			r.urls[k] = a.RPC
		}
		if o.processes {
			err = r.startProcs(ctx, opts.Tweak)
		} else {
			sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			r.net, err = node.StartTestnet(sctx, r.tn, opts)
			cancel()
		}
		if err == nil {
			break
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			return err
		}
		r.logf("%v; again with other ports", err)
		r.closeApps()
		r.stopProcs()
		if err := os.RemoveAll(r.home); err != nil {
			return err
		}
	}
	if r.net != nil {
		r.onClose(func() {
			r.net.Stop()
			r.logf("network stopped")
		})
	}
	return nil
}

// networkOptions is how the validators run: production consensus timeouts
// but --timeout-commit, room for the whole run in the mempool, and for
// --app kvstore CometBFT's persistent kvstore app in place of the ledger.
func (r *benchRun) networkOptions() node.NetworkOptions {
	o := r.o
	nSetup := benchSetupGrants(o.txs, o.validators)
	opts := node.NetworkOptions{
		Logger: cmtlog.NewNopLogger(),
		Tweak: func(_ int, c *node.Config) {
			c.Consensus.TimeoutCommit = o.timeoutCommit
			// Room for the whole run in the mempool and its cache.
			all := o.txs + nSetup
			if o.records > 0 {
				all += 2 * fillChunkSize(o.records, o.validators)
			}
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
			r.appsMu.Lock()
			r.apps = append(r.apps, a)
			r.appsMu.Unlock()
			return a, nil
		}
	}
	return opts
}

// closeApps closes the kvstore apps started so far.
func (r *benchRun) closeApps() {
	for _, a := range r.apps {
		_ = a.Close()
	}
	r.apps = nil
}

// prepare generates every tx before timing: for --app ledger the setup
// grants and the timed txs, signed by each agency's officers and expiring
// at the end of the replay window; for --app kvstore key=value txs of the
// same sizes. It starts the report with the run's settings and the timed
// txs' sizes, and fails if two txs are the same.
func (r *benchRun) prepare(ctx context.Context) error {
	o := r.o
	expiresAt, err := r.expiresAt(ctx)
	if err != nil {
		return err
	}
	nSetup := benchSetupGrants(o.txs, o.validators)
	r.logf("generating %d setup and %d timed txs", nSetup, o.txs)
	if o.app == "ledger" {
		var officers []benchOfficer
		if officers, err = r.officers(); err != nil {
			return err
		}
		r.setup, r.txs, err = ledgerBenchTxs(r.txBase(), o.txs, officers, expiresAt)
	} else {
		r.setup, r.txs, err = kvstoreBenchTxs(r.txBase(), o.txs, len(r.tn.Agencies), expiresAt)
	}
	if err != nil {
		return err
	}
	if benchTxsHook != nil {
		benchTxsHook(r.txs)
	}
	r.rep = &benchReport{Round: r.round + 1, Rounds: o.rounds, App: o.app, Validators: o.validators, Processes: o.processes, Txs: o.txs,
		SetupTxs: len(r.setup), Concurrency: o.concurrency, TimeoutCommit: o.timeoutCommit.String()}
	r.rep.noteTxSizes(r.txs)
	f := r.fill
	r.rep.Records, r.rep.FillSeconds, r.rep.FillTxBytesMean, r.rep.FillHeight = o.records, f.seconds, f.fillTxBytes, f.height
	if f.seconds > 0 {
		r.rep.FillRecordsPerSec = float64(o.records) / f.seconds
	}
	r.rep.RSSAfterFillMB, r.rep.HeapAfterFillMB, r.rep.DataBytesStart = f.rss, f.heap, f.dataStart
	if o.records > 0 {
		r.rep.DataBytesAfterFill, r.rep.DataBytesByDir = f.dataFill, f.dataFillBy
		r.rep.DiskBytesPerRecord = float64(f.dataFill-f.dataStart) / float64(o.records)
	}
	seen := make(map[[32]byte]bool, len(r.txs)+len(r.setup))
	for _, tx := range append(slices.Clip(r.txs), r.setup...) {
		seen[sha256.Sum256(tx)] = true
	}
	if len(seen) != len(r.txs)+len(r.setup) {
		return errors.New("duplicate txs generated")
	}
	return nil
}

// expiresAt is the height the txs expire at: the first validator's latest
// height plus the chain's replay window (the default one for kvstore).
func (r *benchRun) expiresAt(ctx context.Context) (int64, error) {
	rpc0, err := client.New(r.urls[0])
	if err != nil {
		return 0, err
	}
	st, err := rpc0.Status(ctx)
	if err != nil {
		return 0, err
	}
	window := ledger.DefaultParams().ReplayWindow
	if r.o.app == "ledger" {
		res, err := rpc0.Query(ctx, ledger.QueryParams, nil, 0, false)
		if err != nil {
			return 0, err
		}
		var p ledger.Params
		if err := json.Unmarshal(res.Value, &p); err != nil {
			return 0, fmt.Errorf("params: %w", err)
		}
		window = p.ReplayWindow
	}
	return st.SyncInfo.LatestBlockHeight + window, nil
}

// officers reads each agency's grants and finance officer keys from the
// keyring in its home.
func (r *benchRun) officers() ([]benchOfficer, error) {
	officers := make([]benchOfficer, len(r.tn.Agencies))
	for i, a := range r.tn.Agencies {
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
	return officers, nil
}

// noteTxSizes records the mean, smallest and largest size of txs.
func (rep *benchReport) noteTxSizes(txs [][]byte) {
	var total int
	rep.TxBytesMin = len(txs[0])
	for _, tx := range txs {
		total += len(tx)
		rep.TxBytesMin, rep.TxBytesMax = min(rep.TxBytesMin, len(tx)), max(rep.TxBytesMax, len(tx))
	}
	rep.TxBytesMean = float64(total) / float64(len(txs))
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

// txBase is the first number of this round's txs' IDs and nonces: each
// round's are new.
func (r *benchRun) txBase() int {
	return r.round * (r.o.txs + benchSetupGrants(r.o.txs, r.o.validators))
}

// ledgerBenchTxs signs the setup grants and the n timed txs. Timed tx i is
// agency (i mod V)'s: a new grant award or a payment against one of its
// setup grants, alternately per agency; setup grant s is agency (s mod V)'s.
// IDs are numbered from base and nonces unique per signer (timed i:
// base+i+1; setup s: base+n+s+1); every tx expires at expiresAt. Signing
// runs in parallel.
func ledgerBenchTxs(base, n int, officers []benchOfficer, expiresAt int64) (setup, timed [][]byte, err error) {
	v := len(officers)
	nSetup := benchSetupGrants(n, v)
	award := func(id string) ledger.Payload {
		return &ledger.GrantAward{ID: id, Recipient: benchRecipient, Programme: "Clean Energy Fund",
			Purpose: "Community solar array", Amount: "25000000", Currency: "EUR", PeriodStart: "2026-01-01",
			PeriodEnd: "2027-12-31", DecisionDate: "2026-01-15", DocumentHash: demoDoc}
	}
	setupID := func(s int) string { return fmt.Sprintf("G-SETUP-%08d", base+s) }
	all, err := signParallel(nSetup+n, func(j int) (benchOfficer, ed25519.PrivateKey, uint64, ledger.Payload) {
		if j >= n { // setup grant s
			s := j - n
			of := officers[s%v]
			return of, of.grants, uint64(base+j) + 1, award(setupID(s))
		}
		of := officers[j%v]
		if (j/v)%2 == 0 {
			return of, of.grants, uint64(base+j) + 1, award(fmt.Sprintf("G-BENCH-%08d", base+j))
		}
		k := (j / v) / 2 // this agency's k-th payment
		s := j%v + v*(k%(nSetup/v))
		return of, of.finance, uint64(base+j) + 1, &ledger.PaymentRecord{ID: fmt.Sprintf("P-BENCH-%08d", base+j), Payee: benchRecipient,
			Amount: "600000", Currency: "EUR", Date: "2026-02-01", Purpose: "First instalment", Grant: setupID(s)}
	}, expiresAt)
	if err != nil {
		return nil, nil, err
	}
	return all[n:], all[:n], nil
}

// signParallel builds and signs count txs, tx j from build(j) (signer,
// key, nonce, payload), on as many goroutines as GOMAXPROCS.
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
func kvstoreBenchTxs(base, n, agencies int, expiresAt int64) (setup, timed [][]byte, err error) {
	sizedSetup, sizedTimed, err := ledgerBenchTxs(base, n, kvstoreOfficers(agencies), expiresAt)
	if err != nil {
		return nil, nil, err
	}
	return kvTxs("setup", base, sizedSetup), kvTxs("bench", base, sizedTimed), nil
}

// kvstoreOfficers are throwaway signers for agencies agencies, whose txs
// only lend their sizes to kvstore's.
func kvstoreOfficers(agencies int) []benchOfficer {
	officers := make([]benchOfficer, agencies)
	for i := range officers {
		seed := sha256.Sum256(fmt.Appendf(nil, "bench-%d", i))
		k := ed25519.NewKeyFromSeed(seed[:])
		officers[i] = benchOfficer{agency: fmt.Sprintf("agency-%d", i+1), grants: k, finance: k}
	}
	return officers
}

// kvTxs returns key=value txs with the sizes of sized: tx i's key is
// prefix followed by first+i in eight digits.
func kvTxs(prefix string, first int, sized [][]byte) [][]byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	out := make([][]byte, len(sized))
	for i, l := range sized {
		tx := fmt.Appendf(nil, "%s%08d=", prefix, first+i)
		h := sha256.Sum256(tx)
		for j := 0; len(tx) < len(l); j++ {
			tx = append(tx, alphabet[int(h[j%32]^byte(j/32))%len(alphabet)])
		}
		out[i] = tx
	}
	return out
}

// seed sends the setup grants, the grants the timed payments pay against,
// and waits until every validator has committed them, untimed. A setup tx
// rejected, failed or not committed within --max-wait fails the run.
func (r *benchRun) seed(ctx context.Context) error {
	o, setup := r.o, r.setup
	r.logf("sending %d setup txs", len(setup))
	sw, cancelSetup := context.WithCancel(ctx)
	ws, err := r.watchAll(sw, fmt.Sprintf("setup%d", r.round), len(setup))
	if err != nil {
		cancelSetup()
		return err
	}
	sent := sendTxs(ctx, r.urls, setup, r.nodeOf, o.concurrency)
	if sent.rejected == 0 {
		_, err = waitAll(ctx, ws, r.tn, len(setup), o.maxWait)
	}
	cancelSetup()
	switch {
	case sent.rejected > 0:
		r.rep.Errors = sent.errs
		return benchFailed(fmt.Errorf("setup: %d of %d txs rejected at submission", sent.rejected, len(setup)))
	case err != nil:
		return benchFailed(fmt.Errorf("setup: %w", err))
	}
	if err := r.fetchContents(ctx, ws); err != nil {
		return err
	}
	if c := collectCommits(ws, setup); c.failed > 0 {
		r.rep.Errors = c.errs
		return benchFailed(fmt.Errorf("setup: %d txs failed in FinalizeBlock", c.failed))
	}
	return nil
}

// submit watches every validator's blocks from now on, starts the CPU
// profile (--cpuprofile) and sends the timed txs with --concurrency workers,
// noting when each was sent. A tx rejected at submission fails the run.
func (r *benchRun) submit(ctx context.Context) error {
	o, txs := r.o, r.txs
	wctx, stopWatch := context.WithCancel(ctx)
	r.stopWatch = stopWatch
	r.onClose(stopWatch)
	var err error
	if r.watches, err = r.watchAll(wctx, fmt.Sprintf("bench%d", r.round), len(txs)); err != nil {
		return err
	}
	if o.cpuprofile != "" {
		f, err := os.Create(cpuprofilePath(o.cpuprofile, r.round, o.rounds))
		if err != nil {
			return err
		}
		r.onClose(func() { _ = f.Close() })
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		r.onClose(pprof.StopCPUProfile) // a no-op once confirm has stopped it
	}
	r.logf("sending %d txs with %d workers to %d node(s)", len(txs), o.concurrency, len(r.tn.Agencies))
	r.cpu0, r.cpuChildren0 = r.cpuSeconds()
	r.sent = sendTxs(ctx, r.urls, txs, r.nodeOf, o.concurrency)
	rep := r.rep
	rep.Submitted, rep.CheckTxRejected, rep.SubmitSeconds, rep.Errors = r.sent.submitted, r.sent.rejected, r.sent.last.Seconds(), r.sent.errs
	if r.sent.rejected > 0 {
		return benchFailed(fmt.Errorf("%d of %d txs rejected at submission", r.sent.rejected, len(txs)))
	}
	r.logf("all %d txs accepted by CheckTx in %.2f s; waiting for the blocks", len(txs), r.sent.last.Seconds())
	return nil
}

// cpuprofilePath is --cpuprofile's file for a round (from 0): the file
// itself with one round, else FILE.round1, FILE.round2 ….
func cpuprofilePath(file string, round, rounds int) string {
	if rounds == 1 {
		return file
	}
	return fmt.Sprintf("%s.round%d", file, round+1)
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
		if len(r.errs) < benchErrorsKept {
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

// benchBlock is one committed block as a validator reported it.
type benchBlock struct {
	height int64
	at     time.Time
	numTxs int
	txs    cmttypes.Txs // nil until fetched (fetchContents) with --processes
	codes  []uint32
}

// txCodes is the codes of results.
func txCodes(results []*abci.ExecTxResult) []uint32 {
	codes := make([]uint32, len(results))
	for i, r := range results {
		codes[i] = r.Code
	}
	return codes
}

// fetchContents fills in the txs and codes of the watched blocks that
// came without them (--processes), each height fetched once.
func (r *benchRun) fetchContents(ctx context.Context, ws []*blockWatch) error {
	type contents struct {
		txs   cmttypes.Txs
		codes []uint32
	}
	got := map[int64]contents{}
	for _, w := range ws {
		w.mu.Lock()
		blocks := slices.Clone(w.blocks)
		w.mu.Unlock()
		for i, b := range blocks {
			if b.txs != nil || b.numTxs == 0 {
				continue
			}
			c, ok := got[b.height]
			if !ok {
				txs, results, err := r.blockContents(ctx, b.height)
				if err != nil {
					return err
				}
				c = contents{txs, txCodes(results)}
				got[b.height] = c
			}
			blocks[i].txs, blocks[i].codes = c.txs, c.codes
		}
		w.mu.Lock()
		copy(w.blocks, blocks)
		w.mu.Unlock()
	}
	return nil
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

// watchBlocks collects, subscribed as name, the blocks validator k
// commits until ctx ends; done closes once they hold want txs or the feed
// breaks.
func (r *benchRun) watchBlocks(ctx context.Context, k int, name string, want int) (*blockWatch, error) {
	feed, errf, err := r.blockFeed(ctx, k, name)
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
		for be := range feed {
			b := benchBlock{height: be.height, at: be.at, numTxs: be.numTxs, txs: be.txs, codes: txCodes(be.results)}
			w.mu.Lock()
			w.blocks = append(w.blocks, b)
			w.txs += b.numTxs
			n := w.txs
			w.mu.Unlock()
			if n >= want && !closed {
				finish(nil)
			}
		}
		if err := errf(); err != nil && !closed {
			finish(err)
		}
	}()
	return w, nil
}

// committed is how many txs the watched blocks hold so far.
func (w *blockWatch) committed() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.txs
}

// watchAll subscribes to every validator's committed blocks until each has
// committed want txs.
func (r *benchRun) watchAll(ctx context.Context, name string, want int) ([]*blockWatch, error) {
	ws := make([]*blockWatch, len(r.urls))
	for k := range ws {
		var err error
		if ws[k], err = r.watchBlocks(ctx, k, fmt.Sprintf("%s-%d", name, k), want); err != nil {
			return nil, err
		}
	}
	return ws, nil
}

// confirm waits until every validator has committed the timed txs, failing
// the run if one has not within --max-wait of the last submit; then stops
// the CPU profile and the block watches, and collects from the validators'
// blocks when each committed each tx, the heights and the txs' codes.
func (r *benchRun) confirm(ctx context.Context) error {
	if n, err := waitAll(ctx, r.watches, r.tn, len(r.txs), r.o.maxWait); err != nil {
		r.rep.Committed = n
		return benchFailed(err)
	}
	cpu, children := r.cpuSeconds()
	r.rep.CPUSeconds, r.rep.CPUChildrenSeconds = cpu-r.cpu0, children-r.cpuChildren0
	if r.o.cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	r.stopWatch()
	if err := r.fetchContents(ctx, r.watches); err != nil {
		return err
	}
	r.commits = collectCommits(r.watches, r.txs)
	return nil
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

// collectCommits finds txs in every validator's watched blocks; the codes
// and blocks counted are the first validator's.
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
					if len(c.errs) < benchErrorsKept {
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

// measure fills in the report from the submit times and the commits: the
// txs committed on every validator, committed tx/s from the first submit
// to the last commit, the blocks and their txs, and the submit→commit
// latency percentiles (a tx's commit as seen by the node it was sent to).
// A tx failed in its block or not committed on every validator fails the
// run.
func (r *benchRun) measure(context.Context) error {
	rep, txs, sent, c := r.rep, r.txs, r.sent, r.commits
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
		at := c.at[r.nodeOf(i)][i] // as seen by the node the tx was sent to
		if at.IsZero() {
			continue
		}
		if at.After(end) {
			end = at
		}
		lat = append(lat, at.Sub(sent.t0.Add(sent.submitAt[i])))
	}
	rep.Committed = committed
	rep.RSSAfterRunMB, rep.HeapAfterRunMB = memoryMB()
	rep.RSSPeakMB = procStatusKB("VmHWM") / 1e3
	rep.ChildrenRSSMB = r.childrenRSSMB()
	dir, err := r.dataDir()
	if err != nil {
		return err
	}
	if rep.DataBytesAfterRun, _, err = dirSize(dir); err != nil {
		return err
	}
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
		return benchFailed(fmt.Errorf("%d txs failed in FinalizeBlock", rep.BlockRejected))
	case committed != len(txs):
		return benchFailed(fmt.Errorf("only %d of %d txs committed on every validator", committed, len(txs)))
	}
	return nil
}
