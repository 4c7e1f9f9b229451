package export

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/civicledger/civicledger/app"
	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/store"
)

// benchState is a committed state of n records for two agencies: 40 %
// grants, 40 % payments (each against a grant), 20 % licences. The caller
// closes it.
func benchState(b *testing.B, n int) (*store.MultiStore, *store.View, []byte) {
	b.Helper()
	m, err := store.OpenMem(ledger.StoreNames, store.DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	set := func(st string, k []byte, v any) {
		var bz []byte
		switch v := v.(type) {
		case string:
			bz = []byte(v)
		default:
			if bz, err = json.Marshal(v); err != nil {
				b.Fatal(err)
			}
		}
		if err := m.Set(st, k, bz); err != nil {
			b.Fatal(err)
		}
	}
	for _, st := range ledger.StoreNames {
		set(st, ledger.SeedKey, "seed")
	}
	agencies := []string{"agency-1", "agency-2"}
	for _, a := range agencies {
		set(ledger.StoreAgencies, ledger.RecordKey(a), &ledger.Agency{ID: a, Name: "Agency " + a, Jurisdiction: "Example", Power: 10})
	}
	party := ledger.Party{Name: "Acme Ltd", Scheme: "GB-COH", ID: "01234567"}
	hash := fmt.Sprintf("%064d", 7)
	grants, licences := n*2/5, n/5
	for i := range grants {
		a := agencies[i%2]
		id := fmt.Sprintf("G-%07d", i)
		set(ledger.StoreGrants, ledger.RecordKey(id), &ledger.Grant{ID: id, Agency: a, Recipient: party, Programme: "Arts", Purpose: "Theatre",
			Awarded: 1_000_000, Currency: "EUR", PeriodStart: "2026-01-01", PeriodEnd: "2026-12-31", DecisionDate: "2025-12-01",
			DocumentHash: hash, Status: ledger.GrantAwarded, Disbursed: 25_000, Payments: 1, Created: 2, Updated: 3})
		set(ledger.StoreIndex, ledger.IndexGrantByAgency(a, id), ledger.GrantAwarded)
		pid := fmt.Sprintf("P-%07d", i)
		set(ledger.StorePayments, ledger.RecordKey(pid), &ledger.Payment{ID: pid, Agency: a, Payee: party, Amount: 25_000, Currency: "EUR",
			Date: "2026-02-01", Purpose: "Instalment", Grant: id, Status: ledger.PaymentRecorded, Approved: [][]byte{make([]byte, 32)}, Created: 3, Updated: 3})
		set(ledger.StoreIndex, ledger.IndexPaymentByAgency(a, pid), ledger.PaymentRecorded)
		set(ledger.StoreIndex, ledger.IndexPaymentByGrant(id, pid), ledger.PaymentRecorded)
	}
	for i := range licences {
		a := agencies[i%2]
		id := fmt.Sprintf("L-%07d", i)
		set(ledger.StoreLicences, ledger.RecordKey(id), &ledger.Licence{ID: id, Agency: a, Holder: party, LicenceType: "premises", Scope: "Sale of alcohol",
			ValidFrom: "2026-01-01", ValidUntil: "2030-12-31", DecisionDate: "2025-12-15", ConditionsHash: hash, Status: ledger.LicenceIssued, Created: 2, Updated: 2})
		set(ledger.StoreIndex, ledger.IndexLicenceByAgency(a, id), ledger.LicenceIssued)
	}
	appHash, v, err := m.Commit()
	if err != nil {
		b.Fatal(err)
	}
	view, err := m.At(v)
	if err != nil {
		b.Fatal(err)
	}
	return m, view, appHash
}

// BenchmarkExport exports a state of EXPORT_RECORDS records (default
// 100,000) in every format, every listing page built by the node's code
// (app.ListingPage: range and record proofs) and verified as a client
// does, then verifies the release's records as 'ledger verify release'
// does (every page proved again, every file mapped again and compared). It
// reports records per second of each, and how much the live heap grew
// during each (heapGrowth) above what the state itself holds. The
// verification is the client side alone: its memory does not grow with the
// records (one page and one grant's payments are held at a time); the
// export's figure includes the in-process node side's IAVL reads (its node
// cache fills as pages are served).
func BenchmarkExport(b *testing.B) {
	n := benchRecords(b)
	start := time.Now()
	state, view, appHash := benchState(b, n)
	b.Cleanup(func() { _ = state.Close() })
	b.Logf("state of %d records built in %s", n, time.Since(start).Round(time.Millisecond))
	m := &meta{chainID: "civic-bench", height: 1, published: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), ocidPrefix: DefaultOCIDPrefix}
	fetch := func(listing, owner, after string) (*ledger.ProvedPage, error) {
		p, err := app.ListingPage(view, listing, owner, after, ledger.MaxPageSize)
		if p != nil {
			p.Height = m.height
		}
		return p, err
	}
	b.ResetTimer()
	for b.Loop() {
		dir := b.TempDir()
		t0 := time.Now()
		files, counts, pages, err := writeRelease(dir, fetch, appHash, m, Formats, selection{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		exported := time.Since(t0)
		t1 := time.Now()
		if _, got, _, err := checkRecords(dir, appHash, m, Formats, selection{}); err != nil || got != counts {
			b.Fatalf("verify: %v (%+v, want %+v)", err, got, counts)
		}
		verified := time.Since(t1)
		base, exportGrowth := heapGrowth(func() error {
			_, _, _, err := writeRelease(b.TempDir(), fetch, appHash, m, Formats, selection{}, nil)
			return err
		})
		var size int64
		var sizes []string
		for _, f := range files {
			size += f.Bytes
			sizes = append(sizes, fmt.Sprintf("%s %.1f MB", f.Path, float64(f.Bytes)/1e6))
		}
		b.Logf("files: %s", strings.Join(sizes, ", "))
		total := float64(counts.Total())
		b.ReportMetric(total/exported.Seconds(), "export-records/s")
		b.ReportMetric(total/verified.Seconds(), "verify-records/s")
		b.ReportMetric(float64(size)/total, "bytes/record")
		b.ReportMetric(exportGrowth, "export-heap-MiB")
		b.Logf("%d records (%+v) in %d pages: export %s, verify %s, %d bytes in %d files; live heap %.1f MiB before (the state), at most %.1f MiB more during an export (the node side's IAVL reads included)",
			counts.Total(), counts, pages, exported.Round(time.Millisecond), verified.Round(time.Millisecond), size, len(files), base, exportGrowth)
	}
}

// benchRecords is the number of records of the export benchmarks:
// EXPORT_RECORDS, default 100,000.
func benchRecords(b *testing.B) int {
	n := 100_000
	if s := os.Getenv("EXPORT_RECORDS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 10 {
			b.Fatalf("EXPORT_RECORDS=%q", s)
		}
	}
	return n
}

// benchRelease writes the release files of a state of n records into dir
// and closes the state: nothing of it stays referenced.
func benchRelease(b *testing.B, n int, dir string, m *meta) ([]byte, Counts) {
	state, view, appHash := benchState(b, n)
	defer state.Close()
	fetch := func(listing, owner, after string) (*ledger.ProvedPage, error) {
		p, err := app.ListingPage(view, listing, owner, after, ledger.MaxPageSize)
		if p != nil {
			p.Height = m.height
		}
		return p, err
	}
	_, counts, _, err := writeRelease(dir, fetch, appHash, m, Formats, selection{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	return appHash, counts
}

// BenchmarkVerifyRelease verifies the records of a release of
// EXPORT_RECORDS records (default 100,000) as 'ledger verify release' does,
// with nothing else in memory: every page proved again, every file mapped
// again and compared. It reports records per second and how much the live
// heap grew during the verification (heapGrowth): the client side's memory,
// which does not grow with the records.
func BenchmarkVerifyRelease(b *testing.B) {
	n := benchRecords(b)
	m := &meta{chainID: "civic-bench", height: 1, published: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), ocidPrefix: DefaultOCIDPrefix}
	dir := b.TempDir()
	appHash, counts := benchRelease(b, n, dir, m)
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		var got Counts
		base, growth := heapGrowth(func() error {
			var err error
			_, got, _, err = checkRecords(dir, appHash, m, Formats, selection{})
			return err
		})
		took := time.Since(t0)
		if got != counts {
			b.Fatalf("verified %+v, want %+v", got, counts)
		}
		b.ReportMetric(float64(counts.Total())/took.Seconds(), "records/s")
		b.ReportMetric(growth, "heap-MiB")
		b.Logf("%d records verified in %s (under GOGC=5); live heap %.1f MiB before, at most %.1f MiB more during it", counts.Total(), took.Round(time.Millisecond), base, growth)
	}
}

// heapGrowth runs f under a tight GC target (GOGC=5, so that collections
// are frequent) and returns the live heap before it (as the last
// collection marked it, runtime/metrics /gc/heap/live:bytes) and how much
// more it was at most while f ran, in MiB.
func heapGrowth(f func() error) (before, growth float64) {
	runtime.GC()
	base := liveHeap()
	old := debug.SetGCPercent(5)
	defer debug.SetGCPercent(old)
	peak := sampleHeap()
	if err := f(); err != nil {
		panic(err)
	}
	p := peak()
	return float64(base) / (1 << 20), float64(p-min(base, p)) / (1 << 20)
}

func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// sampleHeap samples the live heap every 5 ms until the returned function
// is called; that returns the highest sample.
func sampleHeap() func() uint64 {
	stop := make(chan struct{})
	done := make(chan uint64)
	go func() {
		var peak uint64
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			peak = max(peak, liveHeap())
			select {
			case <-stop:
				done <- peak
				return
			case <-t.C:
			}
		}
	}()
	var got *uint64
	return func() uint64 {
		if got == nil {
			close(stop)
			v := <-done
			got = &v
		}
		return *got
	}
}
