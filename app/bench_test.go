package app_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/civicledger/civicledger/app"
	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/store"
)

// benchChain is an app on goleveldb with a cursor for generating txs.
type benchChain struct {
	f      *fixture
	a      *app.App
	height int64
	seq    int   // records created so far
	grants []int // seq numbers of grants that can still take payments
	nonce  uint64
}

func newBenchChain(b *testing.B) *benchChain {
	f := newFixture()
	f.gs.Params.ReplayWindow = 100_000
	a := openApp(b, b.TempDir(), func(o *app.Options) { o.OnBlock = nil })
	b.Cleanup(func() { a.Store().Close() })
	f.initChain(b, a)
	return &benchChain{f: f, a: a}
}

// mixedTxs returns n signed txs: 40% grant awards, 40% payments against
// earlier grants, 20% licence issues, across both agencies. Signing runs in
// parallel; the order of the returned txs is deterministic.
func (c *benchChain) mixedTxs(b *testing.B, n int) [][]byte {
	type job struct {
		agency  string
		payload ledger.Payload
		signer  string
		nonce   uint64
	}
	jobs := make([]job, n)
	for i := range jobs {
		c.seq++
		c.nonce++
		ag := fmt.Sprintf("agency-%d", 1+c.seq%2)
		id := fmt.Sprintf("%s-%09d", ag, c.seq)
		switch r := c.seq % 5; {
		case r < 2 || len(c.grants) < 10:
			jobs[i] = job{ag, award("G-"+id, "100000000"), "grants", c.nonce}
			c.grants = append(c.grants, c.seq)
		case r < 4:
			g := c.grants[(c.seq*7919)%len(c.grants)]
			gag := fmt.Sprintf("agency-%d", 1+g%2)
			jobs[i] = job{gag, payment("P-"+id, fmt.Sprintf("G-%s-%09d", gag, g), "100"), "finance", c.nonce}
		default:
			jobs[i] = job{ag, &ledger.LicenceIssue{ID: "L-" + id, Holder: acme, LicenceType: "t", Scope: "s", ValidFrom: "2026-01-01",
				ValidUntil: "2030-01-01", DecisionDate: "2026-01-01", ConditionsHash: doc}, "licensing", c.nonce}
		}
	}
	out := make([][]byte, n)
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				j := jobs[i]
				out[i] = c.f.tx(b, j.agency, j.nonce, c.height+50_000, j.payload, j.signer)
			}
		}()
	}
	wg.Wait()
	return out
}

func (c *benchChain) block(b *testing.B, txs [][]byte) {
	c.height++
	ctx := context.Background()
	res, err := c.a.FinalizeBlock(ctx, &abci.RequestFinalizeBlock{Height: c.height, Time: genesisTime.Add(time.Duration(c.height) * time.Second), Txs: txs})
	if err != nil {
		b.Fatal(err)
	}
	for i, r := range res.TxResults {
		if r.Code != 0 {
			b.Fatalf("block %d tx %d: code %d %s", c.height, i, r.Code, r.Log)
		}
	}
	if _, err := c.a.Commit(ctx, &abci.RequestCommit{}); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkFinalizeBlock applies blocks of 1,000 signed mixed transactions
// (FinalizeBlock + Commit on goleveldb) on states of growing size. "cold"
// verifies every signature in FinalizeBlock (batch verifier); "checked"
// first passes the txs through CheckTx, as a validator's mempool does, so
// FinalizeBlock finds their signatures in the cache.
//
// Sizes: 0 and 100,000 records by default; set CIVIC_BENCH_RECORDS to a
// comma-free list like "0 100000 1000000" for more.
func BenchmarkFinalizeBlock(b *testing.B) {
	sizes := benchSizes(b, 0, 100_000)
	const perBlock = 1000
	for _, size := range sizes {
		c := newBenchChain(b)
		for c.seq < size {
			c.block(b, c.mixedTxs(b, perBlock))
		}
		for _, mode := range []string{"cold", "checked"} {
			b.Run(fmt.Sprintf("records=%d/%s", size, mode), func(b *testing.B) {
				var applied int
				var elapsed time.Duration
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					txs := c.mixedTxs(b, perBlock)
					if mode == "checked" {
						for _, tx := range txs {
							res, err := c.a.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: tx})
							if err != nil || res.Code != 0 {
								b.Fatalf("CheckTx: %v %+v", err, res)
							}
						}
					}
					b.StartTimer()
					t0 := time.Now()
					c.block(b, txs)
					elapsed += time.Since(t0)
					applied += len(txs)
				}
				b.ReportMetric(float64(applied)/elapsed.Seconds(), "tx/s")
			})
		}
	}
}

// benchSizes returns the state sizes to benchmark: CIVIC_BENCH_RECORDS if
// set, else the defaults.
func benchSizes(b *testing.B, defaults ...int) []int {
	s := os.Getenv("CIVIC_BENCH_RECORDS")
	if s == "" {
		return defaults
	}
	var sizes []int
	for _, f := range splitFields(s) {
		n, err := strconv.Atoi(f)
		if err != nil {
			b.Fatal(err)
		}
		sizes = append(sizes, n)
	}
	return sizes
}

func splitFields(s string) []string {
	var out []string
	cur := ""
	for _, r := range s + " " {
		if r == ' ' || r == ',' {
			if cur != "" {
				out = append(out, cur)
			}
			cur = ""
			continue
		}
		cur += string(r)
	}
	return out
}

// BenchmarkSnapshot measures what a node joining by state sync saves: it
// fills a state with the same mixed traffic as BenchmarkFinalizeBlock (each
// record applied through FinalizeBlock + Commit: the cost of replaying the
// chain), then exports the state at that height (what a validator writes
// every snapshot_interval blocks) and imports it into an empty goleveldb
// store with the AppHash check (what the joining node does). Reported:
// seconds to replay, export and import, stream bytes per record.
func BenchmarkSnapshot(b *testing.B) {
	sizes := benchSizes(b, 10_000, 100_000)
	for _, size := range sizes {
		b.Run(fmt.Sprintf("records=%d", size), func(b *testing.B) {
			c := newBenchChain(b)
			t0 := time.Now()
			for c.seq < size {
				c.block(b, c.mixedTxs(b, 1000))
			}
			replay := time.Since(t0)
			st := c.a.Store()
			version := st.Version()
			appHash, err := st.LastHash()
			if err != nil {
				b.Fatal(err)
			}
			var export, imp time.Duration
			var streamLen int
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var buf bytes.Buffer
				t1 := time.Now()
				if err := st.Export(version, &buf); err != nil {
					b.Fatal(err)
				}
				export += time.Since(t1)
				streamLen = buf.Len()
				dst, err := store.Open(b.TempDir(), ledger.StoreNames, store.DefaultOptions())
				if err != nil {
					b.Fatal(err)
				}
				t2 := time.Now()
				if err := dst.ImportChecked(version, &buf, appHash); err != nil {
					b.Fatal(err)
				}
				imp += time.Since(t2)
				if err := dst.Close(); err != nil {
					b.Fatal(err)
				}
			}
			n := float64(b.N)
			b.ReportMetric(replay.Seconds(), "replay-s")
			b.ReportMetric(export.Seconds()/n, "export-s")
			b.ReportMetric(imp.Seconds()/n, "import-s")
			b.ReportMetric(float64(streamLen)/float64(c.seq), "bytes/record")
		})
	}
}
