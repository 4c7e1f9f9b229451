package export

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"testing"
	"time"

	"github.com/civicledger/civicledger/app"
	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/store"
)

// benchState is a committed state of n records for two agencies: 40 %
// grants, 40 % payments (each against a grant), 20 % licences.
func benchState(b *testing.B, n int) (*store.View, []byte) {
	b.Helper()
	m, err := store.OpenMem(ledger.StoreNames, store.DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close() })
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
	return view, appHash
}

// BenchmarkExport exports a state of EXPORT_RECORDS records (default
// 100,000) in every format, every listing page built by the node's code
// (app.ListingPage: range and record proofs) and verified as a client
// does, then verifies the release's records as 'ledger verify release'
// does (every page proved again, every file mapped again and compared). It
// reports records per second of each and how much the heap in use grew
// during an export run with a tight GC target (GOGC=5), sampled every 5 ms,
// above what the state itself holds: it does not grow with the records
// written (one page and one grant's payments are held at a time).
func BenchmarkExport(b *testing.B) {
	n := 100_000
	if s := os.Getenv("EXPORT_RECORDS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 10 {
			b.Fatalf("EXPORT_RECORDS=%q", s)
		}
	}
	start := time.Now()
	view, appHash := benchState(b, n)
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
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapInuse
		// A tight GC target during the sampled export, so that the heap
		// in use follows what is live rather than the garbage a lazy
		// collector leaves (timings use the default, below).
		old := debug.SetGCPercent(5)
		peak := sampleHeap()
		_, _, _, err := writeRelease(b.TempDir(), fetch, appHash, m, Formats, selection{}, nil)
		grown := float64(peak()-min(base, peak())) / (1 << 20)
		debug.SetGCPercent(old)
		if err != nil {
			b.Fatal(err)
		}
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
		var size int64
		for _, f := range files {
			size += f.Bytes
		}
		total := float64(counts.Total())
		b.ReportMetric(total/exported.Seconds(), "export-records/s")
		b.ReportMetric(total/verified.Seconds(), "verify-records/s")
		b.ReportMetric(float64(size)/total, "bytes/record")
		b.ReportMetric(grown, "export-heap-growth-MiB")
		b.Logf("%d records (%+v) in %d pages: export %s, verify %s, %d bytes in %d files; heap in use %.1f MiB before the export (the state), at most %.1f MiB more during it",
			counts.Total(), counts, pages, exported.Round(time.Millisecond), verified.Round(time.Millisecond), size, len(files), float64(base)/(1<<20), grown)
	}
}

// sampleHeap samples the heap in use every 5 ms until the returned
// function is called; that returns the highest sample.
func sampleHeap() func() uint64 {
	stop := make(chan struct{})
	done := make(chan uint64)
	go func() {
		var peak uint64
		var ms runtime.MemStats
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
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
