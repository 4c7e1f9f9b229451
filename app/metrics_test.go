package app_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/civicledger/civicledger/app"
	"github.com/civicledger/civicledger/ledger"
)

func valAddr(f *fixture, agency string) []byte {
	for _, ag := range f.gs.Agencies {
		if ag.ID == agency {
			return cmted25519.PubKey(ag.ValidatorKey).Address()
		}
	}
	panic("no agency " + agency)
}

// finalizeWith runs one block with a decided last commit and misbehavior.
func finalizeWith(t *testing.T, a *app.App, height int64, votes []abci.VoteInfo, mis []abci.Misbehavior, txs ...[]byte) *abci.ResponseFinalizeBlock {
	t.Helper()
	ctx := context.Background()
	res, err := a.FinalizeBlock(ctx, &abci.RequestFinalizeBlock{
		Height: height, Time: genesisTime.Add(time.Duration(height) * time.Second), Txs: txs,
		DecidedLastCommit: abci.CommitInfo{Round: 0, Votes: votes}, Misbehavior: mis,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Commit(ctx, &abci.RequestCommit{}); err != nil {
		t.Fatal(err)
	}
	return res
}

func gauge(t *testing.T, c prometheus.Collector, want float64, what string) {
	t.Helper()
	if got := testutil.ToFloat64(c); got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func TestMetrics(t *testing.T) {
	f := newFixture()
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	a := openApp(t, dir, func(o *app.Options) {
		o.Metrics = app.NewMetrics(reg)
		o.InvariantEvery = 1
	})
	f.initChain(t, a)

	a1, a2 := valAddr(f, "agency-1"), valAddr(f, "agency-2")
	votes := []abci.VoteInfo{
		{Validator: abci.Validator{Address: a1, Power: 10}, BlockIdFlag: cmtproto.BlockIDFlagCommit},
		{Validator: abci.Validator{Address: a2, Power: 10}, BlockIdFlag: cmtproto.BlockIDFlagAbsent},
	}
	codeOf := func(res *abci.ResponseFinalizeBlock, i int) uint32 { return res.TxResults[i].Code }

	r1 := finalizeWith(t, a, 1, nil, nil,
		f.tx(t, "agency-1", 1, 50, award("G-1", "100000"), "grants"),
		f.tx(t, "agency-1", 2, 50, award("G-2", "50000"), "grants"),
		f.tx(t, "agency-1", 3, 50, award("G-3", "50000"), "finance"), // wrong role
		[]byte("{not json"))
	if codeOf(r1, 0) != 0 || codeOf(r1, 1) != 0 || codeOf(r1, 2) != uint32(ledger.ErrMissingRole.Code) || codeOf(r1, 3) != uint32(ledger.ErrMalformed.Code) {
		t.Fatalf("block 1 results: %+v", r1.TxResults)
	}
	mis := []abci.Misbehavior{{Type: abci.MisbehaviorType_DUPLICATE_VOTE, Validator: abci.Validator{Address: a2, Power: 10},
		Height: 1, Time: genesisTime, TotalVotingPower: 20}}
	r2 := finalizeWith(t, a, 2, votes, mis, f.tx(t, "agency-1", 4, 50, payment("P-1", "G-1", "30000"), "finance"))
	if codeOf(r2, 0) != 0 {
		t.Fatalf("payment: %+v", r2.TxResults)
	}
	unknown := abci.VoteInfo{Validator: abci.Validator{Address: make([]byte, 20), Power: 1}, BlockIdFlag: cmtproto.BlockIDFlagAbsent}
	r3 := finalizeWith(t, a, 3, append(votes, unknown), nil,
		f.tx(t, "agency-1", 5, 50, &ledger.GrantRevoke{ID: "G-2", DocumentHash: doc, Reason: "Fraud"}, "grants"))
	if codeOf(r3, 0) != 0 {
		t.Fatalf("revoke: %+v", r3.TxResults)
	}
	for _, path := range []string{"/grant/G-1", "/grants", "/nonsense/x"} {
		if _, err := a.Query(context.Background(), &abci.RequestQuery{Path: path, Prove: path == "/grant/G-1"}); err != nil {
			t.Fatal(err)
		}
	}
	a.FlushMetrics()
	m := a.Metrics()

	code := func(c ledger.Code) string { return strconv.Itoa(int(c)) }
	gauge(t, m.Txs.WithLabelValues(ledger.TypeGrantAward, "0"), 2, "txs grant/award ok")
	gauge(t, m.Txs.WithLabelValues(ledger.TypeGrantAward, code(ledger.ErrMissingRole.Code)), 1, "txs grant/award missing role")
	gauge(t, m.Txs.WithLabelValues("undecodable", code(ledger.ErrMalformed.Code)), 1, "txs undecodable")
	gauge(t, m.Txs.WithLabelValues(ledger.TypePaymentRecord, "0"), 1, "txs payment/record")
	gauge(t, m.Txs.WithLabelValues(ledger.TypeGrantRevoke, "0"), 1, "txs grant/revoke")
	if n := testutil.CollectAndCount(m.Txs); n != 5 {
		t.Errorf("txs_total has %d series, want 5", n)
	}

	checkRecords := func(m *app.Metrics) {
		t.Helper()
		gauge(t, m.Records.WithLabelValues("grant", string(ledger.GrantAwarded)), 1, "grants awarded")
		gauge(t, m.Records.WithLabelValues("grant", string(ledger.GrantRevoked)), 1, "grants revoked")
		gauge(t, m.Records.WithLabelValues("grant", string(ledger.GrantClosed)), 0, "grants closed")
		gauge(t, m.Records.WithLabelValues("payment", string(ledger.PaymentRecorded)), 1, "payments recorded")
		gauge(t, m.Records.WithLabelValues("licence", string(ledger.LicenceIssued)), 0, "licences issued")
		gauge(t, m.Amount.WithLabelValues("agency-1", "EUR", "paid"), 30000, "paid")
		gauge(t, m.Amount.WithLabelValues("agency-1", "EUR", "reversed"), 0, "reversed")
		gauge(t, m.StateKeys.WithLabelValues(ledger.StoreGrants), 3, "grants store keys (seed + 2)")
	}
	checkRecords(m)
	var tot ledger.Totals
	res, _ := a.Query(context.Background(), &abci.RequestQuery{Path: "/totals/agency-1/EUR"})
	if err := json.Unmarshal(res.Value, &tot); err != nil {
		t.Fatal(err)
	}
	gauge(t, m.Amount.WithLabelValues("agency-1", "EUR", "awarded"), float64(tot.Awarded), "awarded")

	gauge(t, m.ValidatorSigned.WithLabelValues("agency-1"), 2, "agency-1 signed")
	gauge(t, m.ValidatorMissed.WithLabelValues("agency-2"), 2, "agency-2 missed")
	gauge(t, m.ValidatorMissed.WithLabelValues("unknown"), 1, "unknown missed")
	gauge(t, m.ValidatorLastSigned.WithLabelValues("agency-1"), 2, "agency-1 last signed height")
	if n := testutil.CollectAndCount(m.ValidatorSigned); n != 1 {
		t.Errorf("signed series %d, want 1 (agency-2 never signed)", n)
	}
	gauge(t, m.Misbehavior.WithLabelValues("agency-2", "duplicate_vote"), 1, "misbehavior")

	gauge(t, m.InvariantViolations, 0, "invariant violations")
	for _, inv := range ledger.Invariants {
		gauge(t, m.InvariantRule.WithLabelValues(inv.ID), 0, "invariant "+inv.ID)
	}
	gauge(t, m.GrantsOverdisbursed, 0, "grants overdisbursed")
	gauge(t, m.InvariantChecks, 3, "invariant checks")
	gauge(t, m.BlockHeight, 3, "block height")
	gauge(t, m.Queries.WithLabelValues("grant", "true"), 1, "queries grant proved")
	gauge(t, m.Queries.WithLabelValues("grants", "false"), 1, "queries grants")
	gauge(t, m.Queries.WithLabelValues("other", "false"), 1, "queries other")

	// Histograms: sample counts.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]uint64{}
	for _, mf := range mfs {
		for _, mm := range mf.GetMetric() {
			if h := mm.GetHistogram(); h != nil {
				counts[mf.GetName()] += h.GetSampleCount()
			}
		}
	}
	for name, want := range map[string]uint64{
		"civicledger_publication_lag_seconds": 2, // 2 awards; the payment is dated after the block
		"civicledger_finalize_block_seconds":  3,
		"civicledger_commit_seconds":          3,
		"civicledger_query_seconds":           4,
	} {
		if counts[name] != want {
			t.Errorf("%s count %d, want %d", name, counts[name], want)
		}
	}
	gauge(t, m.FutureDated.WithLabelValues("agency-1", "payment"), 1, "future-dated payments")
	if n := testutil.CollectAndCount(m.PublicationLag); n != 1 {
		t.Errorf("publication lag series %d, want 1 (agency-1)", n)
	}
	// Every metric carries help text and passes the linter.
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}

	// A restarted app counts the records from the index at startup.
	a.Close()
	if err := a.Store().Close(); err != nil {
		t.Fatal(err)
	}
	b := openApp(t, dir, func(o *app.Options) { o.Metrics = app.NewMetrics(prometheus.NewRegistry()) })
	defer b.Store().Close()
	defer b.Close()
	if _, err := b.Info(context.Background(), &abci.RequestInfo{}); err != nil {
		t.Fatal(err)
	}
	// The state gauges are filled at startup, before any new block (an
	// idle chain may not make one for a while).
	b.FlushMetrics()
	checkRecords(b.Metrics())
	gauge(t, b.Metrics().BlockHeight, 3, "block height at startup")
	finalizeWith(t, b, 4, votes, nil)
	b.FlushMetrics()
	checkRecords(b.Metrics())
	gauge(t, b.Metrics().ValidatorMissed.WithLabelValues("agency-2"), 1, "agency-2 missed after restart")
}

// TestPublicationLag: a record dated after its block is counted as
// future-dated, not as a lag of zero (which would make late publishers look
// prompt); lags of years land in buckets of years, not all in +Inf.
func TestPublicationLag(t *testing.T) {
	f := newFixture()
	a := openApp(t, "", func(o *app.Options) { o.Metrics = app.NewMetrics(prometheus.NewRegistry()) })
	f.initChain(t, a)
	late := award("G-LATE", "1000") // decided three and a half years before the block
	late.DecisionDate = "2022-06-01"
	today := award("G-TODAY", "1000") // the block's own day
	future := award("G-FUTURE", "1000")
	future.DecisionDate = "2026-01-02"
	res := finalizeWith(t, a, 1, nil, nil,
		f.tx(t, "agency-1", 1, 50, late, "grants"),
		f.tx(t, "agency-1", 2, 50, today, "grants"),
		f.tx(t, "agency-1", 3, 50, future, "grants"))
	for i, r := range res.TxResults {
		if r.Code != 0 {
			t.Fatalf("tx %d: %d %s", i, r.Code, r.Log)
		}
	}
	a.FlushMetrics()
	m := a.Metrics()
	gauge(t, m.FutureDated.WithLabelValues("agency-1", "grant"), 1, "future-dated grants")
	var pb dto.Metric
	if err := m.PublicationLag.WithLabelValues("agency-1").(prometheus.Histogram).Write(&pb); err != nil {
		t.Fatal(err)
	}
	h := pb.GetHistogram()
	if h.GetSampleCount() != 2 {
		t.Fatalf("lag samples %d, want 2 (the future-dated one is not a lag)", h.GetSampleCount())
	}
	cum := map[float64]uint64{}
	for _, b := range h.GetBucket() {
		cum[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	const year = 365 * 86400
	for le, want := range map[float64]uint64{3600: 1, year: 1, 2 * year: 1, 5 * year: 2, 10 * year: 2} {
		if cum[le] != want {
			t.Errorf("bucket le=%v: %d, want %d (buckets %v)", le, cum[le], want, cum)
		}
	}
}

// TestMetricsNeverChangeResults: the same blocks give the same AppHash with
// and without metrics.
func TestMetricsNeverChangeResults(t *testing.T) {
	f := newFixture()
	run := func(m *app.Metrics) []byte {
		a := openApp(t, "", func(o *app.Options) {
			if m != nil {
				o.Metrics = m
				o.InvariantEvery = 1
			}
		})
		defer a.Close()
		f.initChain(t, a)
		finalize(t, a, 1, f.tx(t, "agency-1", 1, 50, award("G-1", "100000"), "grants"))
		res := finalize(t, a, 2, f.tx(t, "agency-1", 2, 50, payment("P-1", "G-1", "100"), "finance"))
		return res.AppHash
	}
	if h1, h2 := run(nil), run(app.NewMetrics(prometheus.NewRegistry())); string(h1) != string(h2) {
		t.Fatalf("AppHash with metrics %X, without %X", h2, h1)
	}
}

// TestReplayedBlocksNotCounted: a node replaying or syncing old blocks does
// not count their missed votes and evidence again (that would fire alerts
// for long-past events).
func TestReplayedBlocksNotCounted(t *testing.T) {
	f := newFixture()
	reg := prometheus.NewRegistry()
	a := openApp(t, "", func(o *app.Options) {
		o.Metrics = app.NewMetrics(reg)
		o.LiveWindow = 10 * time.Minute
	})
	f.initChain(t, a)
	val := f.gs.Agencies[1].ValidatorKey
	addr := cmted25519.PubKey(val).Address()
	old := genesisTime // far behind the wall clock
	_, err := a.FinalizeBlock(context.Background(), &abci.RequestFinalizeBlock{
		Height: 1, Time: old,
		DecidedLastCommit: abci.CommitInfo{Votes: []abci.VoteInfo{{Validator: abci.Validator{Address: addr, Power: 10}, BlockIdFlag: cmtproto.BlockIDFlagAbsent}}},
		Misbehavior:       []abci.Misbehavior{{Type: abci.MisbehaviorType_DUPLICATE_VOTE, Validator: abci.Validator{Address: addr, Power: 10}, Height: 1, Time: old}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(a.Metrics().ValidatorMissed); n != 0 {
		t.Fatalf("missed-block series from a replayed block: %d", n)
	}
	if n := testutil.CollectAndCount(a.Metrics().Misbehavior); n != 0 {
		t.Fatalf("misbehaviour series from a replayed block: %d", n)
	}
}

// TestCheckTxRefusalsCounted: a tx refused at mempool entry never reaches a
// block, so civicledger_txs_total cannot show it; civicledger_checktx_refused_total
// counts it by type and code (rechecks are not counted again).
func TestCheckTxRefusalsCounted(t *testing.T) {
	f := newFixture()
	a := openApp(t, "", func(o *app.Options) { o.Metrics = app.NewMetrics(prometheus.NewRegistry()) })
	defer a.Close()
	f.initChain(t, a)
	ctx := context.Background()
	check := func(tx []byte, typ abci.CheckTxType) uint32 {
		t.Helper()
		res, err := a.CheckTx(ctx, &abci.RequestCheckTx{Tx: tx, Type: typ})
		if err != nil {
			t.Fatal(err)
		}
		return res.Code
	}
	wrongRole := f.tx(t, "agency-1", 1, 50, award("G-1", "100000"), "finance")
	if c := check(wrongRole, abci.CheckTxType_New); c != uint32(ledger.ErrMissingRole.Code) {
		t.Fatalf("wrong role: code %d", c)
	}
	if c := check([]byte("{not json"), abci.CheckTxType_New); c != uint32(ledger.ErrMalformed.Code) {
		t.Fatalf("junk: code %d", c)
	}
	check(wrongRole, abci.CheckTxType_Recheck)
	if c := check(f.tx(t, "agency-1", 2, 50, award("G-2", "100000"), "grants"), abci.CheckTxType_New); c != 0 {
		t.Fatalf("good tx: code %d", c)
	}
	m := a.Metrics()
	code := func(c ledger.Code) string { return strconv.Itoa(int(c)) }
	gauge(t, m.CheckTxRefused.WithLabelValues(ledger.TypeGrantAward, code(ledger.ErrMissingRole.Code)), 1, "refused grant/award missing role")
	gauge(t, m.CheckTxRefused.WithLabelValues("undecodable", code(ledger.ErrMalformed.Code)), 1, "refused undecodable")
	if n := testutil.CollectAndCount(m.CheckTxRefused); n != 2 {
		t.Errorf("checktx_refused_total has %d series, want 2", n)
	}
	if n := testutil.CollectAndCount(m.Txs); n != 0 {
		t.Errorf("txs_total counted %d series at CheckTx", n)
	}
}
