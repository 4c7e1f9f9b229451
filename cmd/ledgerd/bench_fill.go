package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/metrics"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/node"
)

// The pre-fill of `ledgerd bench --records N`: before the measured phases
// the network commits N records, grant awards and payments signed and sent
// like the timed txs, so that the measured run meets a ledger that already
// holds them. They go through consensus like any other tx, so the state is
// the one every node computes (the same AppHash at the same height in
// CometBFT's and the app's stores); only the timing is left out.

// benchFillChunk is how many records the pre-fill signs and sends at a
// time (tests lower it). The mempool holds up to two chunks.
var benchFillChunk = 20_000

// benchFillHook, when set (tests), runs once the pre-fill is committed,
// with the network still up; its error stops the bench.
var benchFillHook func(ctx context.Context, r *benchRun) error

// benchFillNonce is the first nonce of the pre-fill's txs, far above the
// setup and timed txs' (1 to their number).
const benchFillNonce = 1_000_000_000_000

// benchFill is what the pre-fill leaves for the report.
type benchFill struct {
	seconds     float64
	height      int64 // the first validator's height once every record is committed
	dataStart   int64 // the first validator's data directory, bytes: before the pre-fill
	dataFill    int64 // after it
	dataFillBy  map[string]int64
	rss, heap   float64 // MB after the pre-fill (or at the start without one)
	fillTxBytes float64 // mean size of the records' txs
}

// fillChunkSize is the pre-fill's chunk: benchFillChunk or fewer records,
// a multiple of twice the agencies (so that a payment and the grant it pays
// against, two chunks apart, are the same agency's).
func fillChunkSize(records, agencies int) int {
	unit := 2 * agencies
	c := min(records, benchFillChunk)
	return (c + unit - 1) / unit * unit
}

// fillRecordTxs signs the records first to first+count-1 of the pre-fill,
// chunk size chunk. Record j is agency (j/2 mod V)'s. In the first two
// chunks every record is a grant award; after them the records alternate,
// a grant award at even j and at odd j a payment against the grant of
// record j-2·chunk-1: awarded two chunks earlier, by the same agency (chunk
// is a multiple of 2V), so committed before the payment is sent while the
// chunk in between may still be in flight. A grant gets at most one
// payment. Nonces are benchFillNonce+j.
func fillRecordTxs(first, count, chunk int, officers []benchOfficer, expiresAt int64) ([][]byte, error) {
	v := len(officers)
	return signParallel(count, func(i int) (benchOfficer, ed25519.PrivateKey, uint64, ledger.Payload) {
		j := first + i
		of := officers[(j/2)%v]
		nonce := uint64(benchFillNonce + j)
		if j < 2*chunk || j%2 == 0 {
			return of, of.grants, nonce, &ledger.GrantAward{ID: fmt.Sprintf("G-FILL-%08d", j), Recipient: benchRecipient,
				Programme: "Clean Energy Fund", Purpose: "Community solar array", Amount: "25000000", Currency: "EUR",
				PeriodStart: "2026-01-01", PeriodEnd: "2027-12-31", DecisionDate: "2026-01-15", DocumentHash: demoDoc}
		}
		return of, of.finance, nonce, &ledger.PaymentRecord{ID: fmt.Sprintf("P-FILL-%08d", j), Payee: benchRecipient,
			Amount: "600000", Currency: "EUR", Date: "2026-02-01", Purpose: "First instalment",
			Grant: fmt.Sprintf("G-FILL-%08d", j-2*chunk-1)}
	}, expiresAt)
}

// prefill commits --records records before the measured phases, in
// chunks: it signs the next chunk while the current one is sent, and sends
// chunk k once chunk k-2 is committed on every validator (its payments pay
// against that chunk's grants). For --app kvstore the records are key=value
// txs of the ledger records' sizes. It notes the first validator's data
// directory size before and after, and the process's memory after. A record
// rejected, failed or not committed within --max-wait stops the bench.
func (r *benchRun) prefill(ctx context.Context) error {
	o := r.o
	r.fill = &benchFill{}
	dataDir, err := r.dataDir()
	if err != nil {
		return err
	}
	if r.fill.dataStart, _, err = dirSize(dataDir); err != nil {
		return err
	}
	if o.records == 0 {
		r.fill.rss, r.fill.heap = memoryMB()
		return nil
	}
	v := len(r.tn.Agencies)
	chunk := fillChunkSize(o.records, v)
	officers := kvstoreOfficers(v)
	if o.app == "ledger" {
		if officers, err = r.officers(); err != nil {
			return err
		}
	}
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	ws, err := r.watchFill(fctx)
	if err != nil {
		return err
	}

	// Sign ahead: one chunk is signed while the one before is sent.
	type signed struct {
		first int
		txs   [][]byte
		err   error
	}
	chunks := make(chan signed, 1)
	go func() {
		defer close(chunks)
		for first := 0; first < o.records; first += chunk {
			count := min(chunk, o.records-first)
			expiresAt, err := r.expiresAt(fctx)
			var txs [][]byte
			if err == nil {
				txs, err = fillRecordTxs(first, count, chunk, officers, expiresAt)
			}
			if err == nil && o.app == "kvstore" {
				txs = kvTxs("fill", first, txs)
			}
			select {
			case chunks <- signed{first, txs, err}:
			case <-fctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()

	r.logf("pre-filling %d records in chunks of %d", o.records, chunk)
	t0 := time.Now()
	var bytes int64
	for c := range chunks {
		if c.err != nil {
			return fmt.Errorf("pre-fill: signing records from %d: %w", c.first, c.err)
		}
		// Chunk k goes once chunk k-2 is committed everywhere.
		if err := waitFill(ctx, ws, r.tn, c.first-chunk, o.maxWait); err != nil {
			return fmt.Errorf("pre-fill: %w", err)
		}
		for _, tx := range c.txs {
			bytes += int64(len(tx))
		}
		first := c.first
		sent := sendTxs(ctx, r.urls, c.txs, func(i int) int { return ((first + i) / 2) % v }, o.concurrency)
		if sent.rejected > 0 {
			return fmt.Errorf("pre-fill: %d of the %d records from %d rejected at submission, the first: %s",
				sent.rejected, len(c.txs), c.first, strings.Join(sent.errs, "; "))
		}
		done := ws[0].committed.Load()
		if el := time.Since(t0).Seconds(); el > 0 {
			r.logf("pre-fill: %d records sent, %d committed (%.0f records/s)", c.first+len(c.txs), done, float64(done)/el)
		}
	}
	if err := waitFill(ctx, ws, r.tn, o.records, o.maxWait); err != nil {
		return fmt.Errorf("pre-fill: %w", err)
	}
	r.fill.seconds = time.Since(t0).Seconds()
	stop()
	for _, w := range ws {
		if n := w.failed.Load(); n > 0 {
			return fmt.Errorf("pre-fill: %d records failed in FinalizeBlock, the first: %s", n, w.firstErr())
		}
	}
	if benchFillHook != nil {
		if err := benchFillHook(ctx, r); err != nil {
			return err
		}
	}
	r.fill.fillTxBytes = float64(bytes) / float64(o.records)
	if r.fill.height, err = r.height0(ctx); err != nil {
		return err
	}
	r.fill.rss, r.fill.heap = memoryMB()
	if r.fill.dataFill, r.fill.dataFillBy, err = dirSize(dataDir); err != nil {
		return err
	}
	r.logf("pre-fill: %d records committed in %.1f s (%.0f records/s), height %d, data directory %.0f MB, RSS %.0f MB",
		o.records, r.fill.seconds, float64(o.records)/r.fill.seconds, r.fill.height, float64(r.fill.dataFill)/1e6, r.fill.rss)
	return nil
}

// fillWatch counts the txs a validator commits during the pre-fill and
// those that fail in FinalizeBlock; it keeps no blocks.
type fillWatch struct {
	committed, failed atomic.Int64
	mu                sync.Mutex
	firstFail         string
	err               error // the subscription ended
}

func (w *fillWatch) firstErr() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.firstFail
}

func (w *fillWatch) subErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// watchFill subscribes to every validator's committed blocks until ctx
// ends.
func (r *benchRun) watchFill(ctx context.Context) ([]*fillWatch, error) {
	ws := make([]*fillWatch, len(r.urls))
	for k := range ws {
		feed, errf, err := r.blockFeed(ctx, k, fmt.Sprintf("fill-%d", k))
		if err != nil {
			return nil, err
		}
		w := &fillWatch{}
		ws[k] = w
		go func() {
			for be := range feed {
				results := be.results
				if results == nil && be.numTxs > 0 && k == 0 { // --processes: the first validator's results suffice
					_, rs, err := r.blockContents(ctx, be.height)
					if err != nil {
						w.mu.Lock()
						w.err = err
						w.mu.Unlock()
						return
					}
					results = rs
				}
				for i, res := range results {
					if res.Code != 0 && w.failed.Add(1) == 1 {
						w.mu.Lock()
						w.firstFail = fmt.Sprintf("tx %d of block %d: code %d: %s", i, be.height, res.Code, res.Log)
						w.mu.Unlock()
					}
				}
				w.committed.Add(int64(be.numTxs))
			}
			if err := errf(); err != nil {
				w.mu.Lock()
				w.err = err
				w.mu.Unlock()
			}
		}()
	}
	return ws, nil
}

// waitFill waits until every validator has committed want pre-fill txs (at
// once if want ≤ 0), failing if one has not within maxWait or a tx failed.
func waitFill(ctx context.Context, ws []*fillWatch, tn *node.Testnet, want int, maxWait time.Duration) error {
	deadline := time.Now().Add(maxWait)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ready := true
		for k, w := range ws {
			if err := w.subErr(); err != nil {
				return err
			}
			if n := w.failed.Load(); n > 0 {
				return fmt.Errorf("%d records failed in FinalizeBlock on %s, the first: %s", n, tn.Agencies[k].ID, w.firstErr())
			}
			if n := w.committed.Load(); n < int64(want) {
				ready = false
				if time.Now().After(deadline) {
					return fmt.Errorf("only %d of %d records committed on %s within %s", n, want, tn.Agencies[k].ID, maxWait)
				}
			}
		}
		if ready {
			return nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// dirSize is the total size of the regular files under dir, and per entry
// of dir.
func dirSize(dir string) (int64, map[string]int64, error) {
	by := map[string]int64{}
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) { // a file removed by a compaction meanwhile
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		top, _, _ := strings.Cut(filepath.ToSlash(rel), "/")
		by[top] += info.Size()
		total += info.Size()
		return nil
	})
	return total, by, err
}

// memoryMB is the process's resident set (VmRSS; 0 where /proc is missing)
// and the Go heap live after the last garbage collection, in MB.
func memoryMB() (rss, heap float64) {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		heap = float64(s[0].Value.Uint64()) / 1e6
	}
	return procStatusKB("VmRSS") / 1e3, heap
}

// procStatusKB is a field of /proc/self/status in kB, 0 if unavailable.
func procStatusKB(field string) float64 { return procFileKB("/proc/self/status", field) }

// procFileKB is a field of a /proc/PID/status file in kB, 0 if
// unavailable.
func procFileKB(path, field string) float64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 64)
		if err != nil {
			return 0
		}
		return kb
	}
	return 0
}

// sortedKeys is m's keys in order.
func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
