package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/libs/log"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/store"
)

// MetricsNamespace prefixes every metric of the app.
const MetricsNamespace = "civicledger"

// DefaultInvariantEvery is how often, in blocks, a node checks the ledger's
// invariants for the metrics.
const DefaultInvariantEvery = 100

// The invariant check reads the whole state, so its cost grows with it:
// about 7 s of CPU at a million records (BENCHMARKS.md, "Growth"), on the
// cores that run consensus. After a check that took d, none starts for
// invariantPace×d (a check due before then waits for the next multiple of
// the interval), so the checks use at most about 1/invariantPace of a
// core. A check under invariantPaceFrom imposes no wait.
const (
	invariantPace     = 20
	invariantPaceFrom = 50 * time.Millisecond
)

// Metrics are the app's Prometheus metrics. They observe the ledger and
// never feed back into consensus. Labels are bounded: agency, currency,
// type, code, kind, status, store, path, proved, measure; never record ids.
type Metrics struct {
	nop bool // registered nowhere: the state metrics are not worth reading

	Txs                 *prometheus.CounterVec   // type, code
	CheckTxRefused      *prometheus.CounterVec   // type, code
	Records             *prometheus.GaugeVec     // kind, status
	Amount              *prometheus.GaugeVec     // agency, currency, measure
	InvariantViolations prometheus.Gauge         //
	InvariantRule       *prometheus.GaugeVec     // rule
	InvariantChecks     prometheus.Counter       //
	GrantsOverdisbursed prometheus.Gauge         //
	ValidatorSigned     *prometheus.CounterVec   // agency
	ValidatorMissed     *prometheus.CounterVec   // agency
	ValidatorLastSigned *prometheus.GaugeVec     // agency
	Misbehavior         *prometheus.CounterVec   // agency, type
	PublicationLag      *prometheus.HistogramVec // agency
	FutureDated         *prometheus.CounterVec   // agency, kind
	FinalizeBlock       prometheus.Histogram     //
	Commit              prometheus.Histogram     //
	BlockHeight         prometheus.Gauge         //
	Queries             *prometheus.CounterVec   // path, proved
	QuerySeconds        *prometheus.HistogramVec // proved
	StateKeys           *prometheus.GaugeVec     // store
	Proposals           *prometheus.GaugeVec     // status
}

// PublicationLagBuckets are the buckets of civicledger_publication_lag_seconds:
// 1 hour, 1 day, 1 week, 30, 90 and 365 days, 2, 5 and 10 years (of 365
// days). Records published later still count in +Inf, so that
// histogram_quantile's answer (at most the highest finite bucket) understates
// only lags over ten years. Dates after the block time are not lags: they
// count in civicledger_future_dated_records_total instead.
var PublicationLagBuckets = []float64{3600, 86400, 7 * 86400, 30 * 86400, 90 * 86400, 365 * 86400,
	2 * 365 * 86400, 5 * 365 * 86400, 10 * 365 * 86400}

// NewMetrics builds the metrics and registers them on reg (nil: not
// registered). A collector already registered under the same name (a node
// restarted in the same process) is reused.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	ns := MetricsNamespace
	m := &Metrics{
		Txs: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "txs_total",
			Help: "Transactions delivered in decided blocks, by tx type (\"undecodable\" if it could not be decoded) and ABCI result code."},
			[]string{"type", "code"})),
		CheckTxRefused: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "checktx_refused_total",
			Help: "Transactions refused at mempool entry (CheckTx of a new tx, not rechecks), by tx type (\"undecodable\" if it could not be decoded) and ABCI result code. Refused txs never reach a block."},
			[]string{"type", "code"})),
		Records: register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "records",
			Help: "Grants, licences and payments in the latest committed state, by kind and status."},
			[]string{"kind", "status"})),
		Amount: register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "amount_minor",
			Help: "An agency's running totals in a currency, in minor units (measure: awarded, paid or reversed)."},
			[]string{"agency", "currency", "measure"})),
		InvariantViolations: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "invariant_violations",
			Help: "Ledger invariants broken at the last check of the committed state (must be 0)."})),
		InvariantRule: register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "invariant_rule_violations",
			Help: "Breaks of each ledger invariant at the last check of the committed state, by rule id (ledger.Invariants; the ids ledger audit reports). Must be 0."},
			[]string{"rule"})),
		InvariantChecks: register(reg, prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "invariant_checks_total",
			Help: "Completed invariant checks of the committed state."})),
		GrantsOverdisbursed: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "grants_overdisbursed",
			Help: "Grants whose disbursed amount exceeds the awarded amount at the last invariant check (must be 0)."})),
		ValidatorSigned: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "validator_signed_blocks_total",
			Help: "Blocks whose decided commit holds the agency validator's signature."},
			[]string{"agency"})),
		ValidatorMissed: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "validator_missed_blocks_total",
			Help: "Blocks whose decided commit lacks the agency validator's vote (absent)."},
			[]string{"agency"})),
		ValidatorLastSigned: register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "validator_last_signed_height",
			Help: "Height of the last block the agency validator signed, as seen in decided commits."},
			[]string{"agency"})),
		Misbehavior: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "misbehavior_total",
			Help: "Validator misbehavior evidence committed in blocks, by agency and type (duplicate_vote, light_client_attack)."},
			[]string{"agency", "type"})),
		PublicationLag: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "publication_lag_seconds",
			Help:    "Block time minus the record's own decision or payment date, for grants awarded, licences issued and payments recorded.",
			Buckets: PublicationLagBuckets},
			[]string{"agency"})),
		FutureDated: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "future_dated_records_total",
			Help: "Grants awarded, licences issued and payments recorded whose own decision or payment date lies after the block time (not counted in publication_lag_seconds)."},
			[]string{"agency", "kind"})),
		FinalizeBlock: register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "finalize_block_seconds",
			Help: "Time the app took to execute a decided block (FinalizeBlock).", Buckets: prometheus.DefBuckets})),
		Commit: register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "commit_seconds",
			Help: "Time the app took to save a block's state (Commit).", Buckets: prometheus.DefBuckets})),
		BlockHeight: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "block_height",
			Help: "Height of the last block committed by the app."})),
		Queries: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "queries_total",
			Help: "ABCI queries answered, by first path segment and whether a proof was asked for."},
			[]string{"path", "proved"})),
		QuerySeconds: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "query_seconds",
			Help: "Time to answer an ABCI query, by whether a proof was asked for.", Buckets: prometheus.DefBuckets},
			[]string{"proved"})),
		StateKeys: register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "state_keys",
			Help: "Keys in each store of the latest committed state."},
			[]string{"store"})),
		Proposals: register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "proposals",
			Help: "Governance proposals by status (voting, notice: passed and waiting out the public notice period, executed, rejected, failed)."},
			[]string{"status"})),
	}
	// Every rule has a series from the start, like the total above.
	for _, inv := range ledger.Invariants {
		m.InvariantRule.WithLabelValues(inv.ID)
	}
	return m
}

// NopMetrics returns metrics that are registered nowhere.
func NopMetrics() *Metrics {
	m := NewMetrics(nil)
	m.nop = true
	return m
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}

// Record kinds indexed by agency and their statuses (the values of the
// index entries).
var recordStatuses = map[string][]string{
	string(ledger.KindGrant):   ledger.StatusesOf(ledger.KindGrant),
	string(ledger.KindLicence): ledger.StatusesOf(ledger.KindLicence),
	string(ledger.KindPayment): ledger.StatusesOf(ledger.KindPayment),
}

// queryPaths are the first path segments counted by name; others are "other".
var queryPaths = firstSegments(
	ledger.QueryStoreKey(wild),
	ledger.QueryRecord(ledger.KindGrant, wild), ledger.QueryRecord(ledger.KindLicence, wild),
	ledger.QueryRecord(ledger.KindPayment, wild), ledger.QueryRecord(ledger.KindAgency, wild),
	ledger.QueryAgencies, ledger.QueryRecords(ledger.KindGrant), ledger.QueryRecords(ledger.KindLicence),
	ledger.QueryRecords(ledger.KindPayment), ledger.QueryTotals(wild, wild), ledger.QueryParams,
)

func firstSegments(paths ...string) map[string]bool {
	out := map[string]bool{}
	for _, p := range paths {
		out[pathSegments(p)[0]] = true
	}
	return out
}

func queryPathLabel(parts []string) string {
	if len(parts) > 0 && queryPaths[parts[0]] {
		return parts[0]
	}
	return "other"
}

// recordRef is a record touched by a block.
type recordRef struct{ kind, agency, id string }

// blockObs is what FinalizeBlock noted for the post-commit metrics.
type blockObs struct {
	touched          map[recordRef]struct{}
	agenciesDirty    bool
	reloadValidators bool
}

// observer is the App's metrics bookkeeping: it counts what the ABCI methods
// report to it and keeps the state metrics up to date from committed
// versions in a worker of its own. Every method but flush and close runs
// with the App's mu held (the block bookkeeping, block and valAgencies, is
// guarded by it); the worker reads committed versions only.
type observer struct {
	m              *Metrics
	store          *store.MultiStore
	logger         log.Logger
	liveWindow     time.Duration
	invariantEvery int64

	block       blockObs
	valAgencies map[string]string // validator address → agency id
	// startupDone: Info already queued the state metrics of the version
	// found at startup.
	startupDone bool

	workerOnce sync.Once
	closeOnce  sync.Once
	jobs       chan metricsJob
	quit       chan struct{}
	workerDone chan struct{}

	// The worker's: when the last invariant check ended, and how long it
	// took (see invariantPace).
	invEnded time.Time
	invTook  time.Duration
}

func newObserver(m *Metrics, st *store.MultiStore, logger log.Logger, liveWindow time.Duration, invariantEvery int64) *observer {
	return &observer{m: m, store: st, logger: logger, liveWindow: liveWindow, invariantEvery: invariantEvery}
}

// Metrics returns the app's metrics (those of Options.Metrics, or
// NopMetrics).
func (a *App) Metrics() *Metrics { return a.observer.m }

// startup fills the state gauges of the version found at startup, once: an
// idle chain may make no block for a while after a restart.
func (o *observer) startup(version int64) {
	if o.startupDone {
		return
	}
	o.startupDone = true
	o.m.BlockHeight.Set(float64(version))
	o.enqueue(version)
}

// forgetValidators drops the validator → agency map; it is read again from
// the state before the next block's votes are counted.
func (o *observer) forgetValidators() { o.valAgencies = nil }

// checkTxRefused counts a new tx refused by CheckTx.
func (o *observer) checkTxRefused(tx *ledger.Tx, code uint32) {
	typ := "undecodable"
	if tx != nil {
		typ = tx.Body.Type
	}
	o.m.CheckTxRefused.WithLabelValues(typ, strconv.FormatUint(uint64(code), 10)).Inc()
}

// finalizeTook records the time FinalizeBlock took.
func (o *observer) finalizeTook(d time.Duration) { o.m.FinalizeBlock.Observe(d.Seconds()) }

// committed records a Commit that took d and hands the committed version to
// the worker.
func (o *observer) committed(version int64, d time.Duration) {
	o.m.Commit.Observe(d.Seconds())
	o.m.BlockHeight.Set(float64(version))
	o.enqueue(version)
}

// restored forgets what was noted of blocks before a state-sync restore and
// counts the restored state at height.
func (o *observer) restored(height int64) {
	o.valAgencies = nil
	o.block = blockObs{}
	o.m.BlockHeight.Set(float64(height))
	o.enqueue(height)
}

// query counts one answered query. It runs on the query connection,
// without the App's mu: it touches the metrics only.
func (o *observer) query(path string, prove bool, d time.Duration) {
	proved := strconv.FormatBool(prove)
	o.m.Queries.WithLabelValues(queryPathLabel(strings.SplitN(strings.TrimPrefix(path, "/"), "/", 2)), proved).Inc()
	o.m.QuerySeconds.WithLabelValues(proved).Observe(d.Seconds())
}

// tx counts one delivered tx and notes the records it touched. It runs in
// FinalizeBlock: O(events), no state reads.
func (o *observer) tx(tx *ledger.Tx, code uint32, events []ledger.Event, blockTime time.Time) {
	typ := "undecodable"
	if tx != nil {
		typ = tx.Body.Type
	}
	o.m.Txs.WithLabelValues(typ, strconv.FormatUint(uint64(code), 10)).Inc()
	if tx == nil || code != 0 {
		return
	}
	o.noteEvents(events)
	if strings.HasPrefix(tx.Body.Type, string(ledger.KindAgency)+"/") {
		o.block.agenciesDirty = true
	}
	var date, kind string
	switch p := tx.Payload.(type) {
	case *ledger.GrantAward:
		date, kind = p.DecisionDate, string(ledger.KindGrant)
	case *ledger.LicenceIssue:
		date, kind = p.DecisionDate, string(ledger.KindLicence)
	case *ledger.PaymentRecord:
		date, kind = p.Date, string(ledger.KindPayment)
	default:
		return
	}
	d, err := time.Parse(ledger.DateLayout, date)
	if err != nil || o.replaying(blockTime) {
		return
	}
	// A date is a whole day (midnight UTC): a record dated today is never
	// in the future, one dated tomorrow always is.
	if lag := blockTime.Sub(d); lag >= 0 {
		o.m.PublicationLag.WithLabelValues(tx.Body.Agency).Observe(lag.Seconds())
	} else {
		o.m.FutureDated.WithLabelValues(tx.Body.Agency, kind).Inc()
	}
}

// noteEvents remembers the records whose status an event reports.
func (o *observer) noteEvents(events []ledger.Event) {
	for _, e := range events {
		if e.Type == ledger.EventAgency {
			o.block.agenciesDirty = true // governance changed an agency's validator key or power
		}
		if recordStatuses[e.Type] == nil {
			continue
		}
		var ref recordRef
		ref.kind = e.Type
		for _, at := range e.Attrs {
			switch at.Key {
			case ledger.AttrID:
				ref.id = at.Value
			case ledger.AttrAgency:
				ref.agency = at.Value
			}
		}
		if ref.id == "" || ref.agency == "" {
			continue
		}
		if o.block.touched == nil {
			o.block.touched = map[recordRef]struct{}{}
		}
		o.block.touched[ref] = struct{}{}
	}
}

// replaying reports whether a block is old history being replayed or
// synced (its time more than LiveWindow behind the wall clock): counting its
// votes, evidence and lag again would fire alerts for long-past events. The
// wall clock only steers metrics, never consensus.
func (o *observer) replaying(blockTime time.Time) bool {
	return o.liveWindow > 0 && time.Since(blockTime) > o.liveWindow
}

// commitInfo counts validator signatures and misbehavior from the decided
// commit of the previous block.
func (o *observer) commitInfo(req *abci.RequestFinalizeBlock) {
	if o.replaying(req.Time) {
		return
	}
	if len(req.DecidedLastCommit.Votes) == 0 && len(req.Misbehavior) == 0 {
		return
	}
	if o.valAgencies == nil || o.block.reloadValidators {
		o.loadValidatorAgencies()
		o.block.reloadValidators = false
	}
	for _, v := range req.DecidedLastCommit.Votes {
		ag := o.agencyOfValidator(v.Validator.Address)
		switch v.BlockIdFlag {
		case cmtproto.BlockIDFlagCommit:
			o.m.ValidatorSigned.WithLabelValues(ag).Inc()
			o.m.ValidatorLastSigned.WithLabelValues(ag).Set(float64(req.Height - 1))
		case cmtproto.BlockIDFlagAbsent:
			o.m.ValidatorMissed.WithLabelValues(ag).Inc()
		}
	}
	for _, m := range req.Misbehavior {
		typ := "unknown"
		switch m.Type {
		case abci.MisbehaviorType_DUPLICATE_VOTE:
			typ = "duplicate_vote"
		case abci.MisbehaviorType_LIGHT_CLIENT_ATTACK:
			typ = "light_client_attack"
		}
		o.m.Misbehavior.WithLabelValues(o.agencyOfValidator(m.Validator.Address), typ).Inc()
	}
}

func (o *observer) agencyOfValidator(addr []byte) string {
	if ag, ok := o.valAgencies[string(addr)]; ok {
		return ag
	}
	return "unknown"
}

// loadValidatorAgencies maps validator addresses to agency ids from the
// agencies store (one entry per agency: a small read, done at startup and
// after a block that changed an agency).
func (o *observer) loadValidatorAgencies() {
	m := map[string]string{}
	err := o.store.Iterate(ledger.StoreAgencies, nil, nil, func(k, v []byte) bool {
		if bytes.Equal(k, ledger.SeedKey) {
			return true
		}
		var ag ledger.Agency
		if json.Unmarshal(v, &ag) == nil && len(ag.ValidatorKey) == cmted25519.PubKeySize {
			m[string(cmted25519.PubKey(ag.ValidatorKey).Address())] = ag.ID
		}
		return true
	})
	if err != nil {
		o.logger.Error("metrics: reading the agencies", "err", err)
	}
	o.valAgencies = m
}

// metricsJob is the post-commit work for one committed version.
type metricsJob struct {
	version  int64
	touched  map[recordRef]struct{}
	checkInv bool
	flushed  chan struct{} // Flush: closed when every earlier job is done
}

// enqueue hands the committed version to the metrics worker, which reads
// only that immutable version.
func (o *observer) enqueue(version int64) {
	o.workerOnce.Do(o.startWorker)
	every := o.invariantEvery
	j := metricsJob{version: version, touched: o.block.touched, checkInv: every > 0 && version%every == 0}
	o.block.touched = nil
	if o.m.nop && !j.checkInv {
		// Nobody reads the gauges; the invariant check still runs (it logs
		// a broken invariant).
		if o.block.agenciesDirty {
			o.block.agenciesDirty = false
			o.block.reloadValidators = true
		}
		return
	}
	if o.block.agenciesDirty {
		o.block.agenciesDirty = false
		o.block.reloadValidators = true // reload the validator map before the next block's votes
	}
	select {
	case o.jobs <- j:
	default:
		// The worker is behind: drop the job; the next one sees the gap
		// and recounts the records from the index.
	}
}

func (o *observer) startWorker() {
	o.jobs = make(chan metricsJob, 256)
	o.quit = make(chan struct{})
	o.workerDone = make(chan struct{})
	go o.worker()
}

// FlushMetrics waits until the metrics of every block committed so far are
// up to date (tests).
func (a *App) FlushMetrics() {
	a.mu.Lock()
	a.observer.workerOnce.Do(a.observer.startWorker)
	a.mu.Unlock()
	a.observer.flush()
}

// flush waits until the worker has done every job queued before it.
func (o *observer) flush() {
	if o.jobs == nil {
		return // closed
	}
	done := make(chan struct{})
	select {
	case o.jobs <- metricsJob{flushed: done}:
	case <-o.quit:
		return
	}
	select {
	case <-done:
	case <-o.quit:
	}
}

// Close stops the metrics worker and releases the query reader; call it
// before closing the store. Queries must not run after Close.
func (a *App) Close() {
	a.mu.Lock()
	started := a.observer.jobs != nil
	a.observer.workerOnce.Do(func() {}) // no worker after Close
	a.mu.Unlock()
	if started {
		a.observer.close()
	}
	a.readerOnce.Do(a.reader.Close)
}

// close stops the started worker and waits for it.
func (o *observer) close() {
	o.closeOnce.Do(func() { close(o.quit) })
	<-o.workerDone
}

func (o *observer) worker() {
	defer close(o.workerDone)
	var counted int64 // version the record gauges reflect (0: none yet)
	for {
		select {
		case <-o.quit:
			return
		case j := <-o.jobs:
			if j.flushed != nil {
				close(j.flushed)
				continue
			}
			// IAVL shares node objects between committed versions and the
			// working tree, which caches children into them while
			// FinalizeBlock writes: the worker reads through trees of its
			// own (store.DetachedAt), so blocks never wait for it, not even
			// for a full invariant scan.
			counted = o.update(j, counted)
		}
	}
}

// metricsCacheSize is the node cache per store of the metrics worker's own
// trees.
const metricsCacheSize = 20_000

// update refreshes the state metrics from committed version j.version and
// returns the version the record gauges now reflect.
func (o *observer) update(j metricsJob, counted int64) int64 {
	m := o.m
	view, release, err := o.store.DetachedAt(j.version, metricsCacheSize)
	if err != nil {
		o.logger.Error("metrics: reading committed state", "version", j.version, "err", err)
		return 0
	}
	defer release()
	if !m.nop {
		counted = o.refreshGauges(j, view, counted)
	}
	if j.checkInv && o.invariantDue(time.Now()) {
		start := time.Now()
		over := &overdisbursedCounter{Reader: view}
		broken, err := ledger.CheckInvariants(over)
		o.invEnded = time.Now()
		o.invTook = o.invEnded.Sub(start)
		if err != nil {
			o.logger.Error("metrics: invariant check", "version", j.version, "err", err)
		} else {
			m.InvariantViolations.Set(float64(len(broken)))
			perRule := make(map[string]int, len(ledger.Invariants))
			for _, b := range broken {
				perRule[b.Rule]++
			}
			for _, inv := range ledger.Invariants {
				m.InvariantRule.WithLabelValues(inv.ID).Set(float64(perRule[inv.ID]))
			}
			m.GrantsOverdisbursed.Set(float64(over.n))
			m.InvariantChecks.Inc()
			for _, b := range broken {
				o.logger.Error("LEDGER INVARIANT BROKEN", "version", j.version, "rule", b.Rule, "invariant", b.Message)
			}
		}
	}
	return counted
}

// refreshGauges sets the state gauges from view, the committed version
// j.version, and returns the version the record gauges now reflect. A node
// without metrics (NopMetrics) skips it: nobody reads the gauges, and the
// recount of every record, which it would otherwise do at each invariant
// check, reads the whole index (7 s of CPU at a million records).
func (o *observer) refreshGauges(j metricsJob, view *store.View, counted int64) int64 {
	m := o.m
	// Records: apply the status changes of the touched records (old status
	// at the previous version, new at this one); recount all at startup or
	// after a gap.
	if counted > 0 && counted == j.version-1 {
		prev, releasePrev, err := o.store.DetachedAt(counted, metricsCacheSize)
		if err == nil {
			defer releasePrev()
			for ref := range j.touched {
				k := ledger.IndexByAgency(ledger.Kind(ref.kind), ref.agency, ref.id)
				old, err1 := prev.Get(ledger.StoreIndex, k)
				cur, err2 := view.Get(ledger.StoreIndex, k)
				if err1 != nil || err2 != nil {
					err = errors.Join(err1, err2)
					break
				}
				if string(old) == string(cur) {
					continue
				}
				if len(old) > 0 {
					m.Records.WithLabelValues(ref.kind, string(old)).Dec()
				}
				if len(cur) > 0 {
					m.Records.WithLabelValues(ref.kind, string(cur)).Inc()
				}
			}
		}
		if err != nil {
			counted = 0
		} else {
			counted = j.version
		}
	} else {
		counted = 0
	}
	if counted == 0 {
		if err := o.countRecords(view); err != nil {
			o.logger.Error("metrics: counting records", "version", j.version, "err", err)
		} else {
			counted = j.version
		}
	}
	// Totals: one record per agency and currency, so read them all.
	err := view.Iterate(ledger.StoreMeta, []byte("total/"), ledger.PrefixEnd([]byte("total/")), func(_, v []byte) bool {
		var t ledger.Totals
		if json.Unmarshal(v, &t) == nil {
			m.Amount.WithLabelValues(t.Agency, t.Currency, "awarded").Set(float64(t.Awarded))
			m.Amount.WithLabelValues(t.Agency, t.Currency, "paid").Set(float64(t.Paid))
			m.Amount.WithLabelValues(t.Agency, t.Currency, "reversed").Set(float64(t.Reversed))
		}
		return true
	})
	if err != nil {
		o.logger.Error("metrics: reading totals", "version", j.version, "err", err)
	}
	for _, s := range ledger.StoreNames {
		if n, err := view.Size(s); err == nil {
			m.StateKeys.WithLabelValues(s).Set(float64(n))
		}
	}
	if err := o.countProposals(view); err != nil {
		o.logger.Error("metrics: counting proposals", "version", j.version, "err", err)
	}
	return counted
}

// invariantDue tells whether an invariant check may start at now (see
// invariantPace).
func (o *observer) invariantDue(now time.Time) bool {
	if o.invTook < invariantPaceFrom {
		return true
	}
	return now.Sub(o.invEnded) >= invariantPace*o.invTook
}

// countProposals sets the proposal gauges (proposals are few: one scan).
func (o *observer) countProposals(view ledger.Reader) error {
	counts := map[string]float64{}
	err := view.Iterate(ledger.StoreMeta, ledger.ProposalPrefix(), ledger.PrefixEnd(ledger.ProposalPrefix()), func(_, v []byte) bool {
		var p struct {
			Status string `json:"status"`
		}
		if json.Unmarshal(v, &p) == nil {
			counts[string(p.Status)]++
		}
		return true
	})
	if err != nil {
		return err
	}
	for _, s := range ledger.ProposalStatuses {
		o.m.Proposals.WithLabelValues(string(s)).Set(counts[string(s)])
	}
	return nil
}

// countRecords sets the record gauges from a full scan of the index.
func (o *observer) countRecords(view ledger.Reader) error {
	counts := map[string]map[string]float64{}
	for kind := range recordStatuses {
		counts[kind] = map[string]float64{}
		prefix := ledger.IndexKindPrefix(ledger.Kind(kind))
		err := view.Iterate(ledger.StoreIndex, prefix, ledger.PrefixEnd(prefix), func(_, v []byte) bool {
			counts[kind][string(v)]++
			return true
		})
		if err != nil {
			return err
		}
	}
	o.m.Records.Reset()
	for kind, statuses := range recordStatuses {
		for _, s := range statuses {
			o.m.Records.WithLabelValues(kind, s).Set(counts[kind][s])
		}
		for s, n := range counts[kind] {
			o.m.Records.WithLabelValues(kind, s).Set(n)
		}
	}
	return nil
}

// overdisbursedCounter counts grants with disbursed > awarded while
// CheckInvariants reads the grants store (one pass over the grants).
type overdisbursedCounter struct {
	ledger.Reader
	n int
}

func (o *overdisbursedCounter) Iterate(store string, start, end []byte, fn func(k, v []byte) bool) error {
	if store != ledger.StoreGrants {
		return o.Reader.Iterate(store, start, end, fn)
	}
	return o.Reader.Iterate(store, start, end, func(k, v []byte) bool {
		if !bytes.Equal(k, ledger.SeedKey) {
			var g struct {
				Awarded   ledger.Amount `json:"awarded"`
				Disbursed ledger.Amount `json:"disbursed"`
			}
			if json.Unmarshal(v, &g) == nil && g.Disbursed > g.Awarded {
				o.n++
			}
		}
		return fn(k, v)
	})
}
