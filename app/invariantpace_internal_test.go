package app

import (
	"testing"
	"time"

	"github.com/cometbft/cometbft/libs/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/store"
)

// TestInvariantChecksPaced: after a slow invariant check, a check that
// falls due within invariantPace times its duration is skipped, and the
// first one due after that runs; quick checks are never held back.
func TestInvariantChecksPaced(t *testing.T) {
	st := seededStore(t)
	if _, _, err := st.Commit(); err != nil {
		t.Fatal(err)
	}
	m := NewMetrics(prometheus.NewRegistry())
	o := newObserver(m, st, log.NewNopLogger(), time.Minute, 1)
	check := func(want float64, what string) {
		t.Helper()
		o.update(metricsJob{version: 1, checkInv: true}, 0)
		if got := testutil.ToFloat64(m.InvariantChecks); got != want {
			t.Fatalf("%s: %v invariant checks, want %v", what, got, want)
		}
	}
	check(1, "first check")
	check(2, "a quick check imposes no wait")
	o.invTook, o.invEnded = 2*time.Second, time.Now()
	check(2, "within 20 times a 2 s check")
	o.invTook, o.invEnded = 2*time.Second, time.Now().Add(-39*time.Second)
	check(2, "39 s after a 2 s check")
	o.invTook, o.invEnded = 2*time.Second, time.Now().Add(-41*time.Second)
	check(3, "41 s after a 2 s check")
	if o.invTook >= invariantPaceFrom {
		t.Fatalf("the check of an empty state took %v", o.invTook)
	}
}

// TestNopMetricsSkipRecordCount: a node without metrics runs the
// invariant check and nothing else; the recount of every record (a read of
// the whole index, for gauges nobody reads) is skipped. With metrics, the
// same job counts the record.
func TestNopMetricsSkipRecordCount(t *testing.T) {
	st := seededStore(t)
	if err := st.Set(ledger.StoreIndex, ledger.IndexGrantByAgency("agency-1", "G-1"), []byte("awarded")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		m      *Metrics
		series int
	}{{"nop", NopMetrics(), 0}, {"registered", NewMetrics(prometheus.NewRegistry()), 1}} {
		o := newObserver(c.m, st, log.NewNopLogger(), time.Minute, 1)
		o.update(metricsJob{version: 1, checkInv: true}, 0)
		if got := testutil.ToFloat64(c.m.InvariantChecks); got != 1 {
			t.Errorf("%s: %v invariant checks, want 1", c.name, got)
		}
		if got := testutil.ToFloat64(c.m.Records.WithLabelValues("grant", "awarded")); got != float64(c.series) {
			t.Errorf("%s: grant awarded gauge %v, want %d", c.name, got, c.series)
		}
	}
}

// seededStore is an in-memory store with every tree seeded, not committed.
func seededStore(t *testing.T) *store.MultiStore {
	t.Helper()
	st, err := store.OpenMem(ledger.StoreNames, store.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, n := range ledger.StoreNames {
		if err := st.Set(n, ledger.SeedKey, []byte("1")); err != nil {
			t.Fatal(err)
		}
	}
	return st
}
