package client_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/internal/keystore"
	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/verify"
	"github.com/civicledger/civicledger/node"
)

// benchNetwork starts a 4-agency network with n grants recorded.
func benchNetwork(b *testing.B, n int) (*node.Network, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	net, err := node.StartNetwork(ctx, filepath.Join(b.TempDir(), "net"), node.NetworkOptions{Agencies: 4, ExtraOfficers: true, ChainID: "civic-bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(net.Stop)
	c, _ := client.New(net.Testnet.Agencies[0].RPC)
	ks, _ := keystore.Open(net.KeyDir(0), keystore.BackendTest, nil)
	k, _ := ks.PrivKey("grants")
	var last string
	for i := 0; i < n; i++ {
		raw, err := c.BuildTx(ctx, client.Signer{Agency: "agency-1", Keys: []ed25519.PrivateKey{k}}, &ledger.GrantAward{
			ID: fmt.Sprintf("G-%05d", i), Recipient: ledger.Party{Name: "Acme", Scheme: "GB-COH", ID: "1"}, Programme: "P", Purpose: "Purpose",
			Amount: "1000", Currency: "EUR", PeriodStart: "2026-01-01", PeriodEnd: "2026-12-31", DecisionDate: "2026-01-01",
			DocumentHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}, client.BuildOptions{})
		if err != nil {
			b.Fatal(err)
		}
		res, err := c.Submit(ctx, raw, i == n-1)
		if err != nil || res.Code != 0 {
			b.Fatalf("%v %+v", err, res)
		}
		last = res.Hash
	}
	_ = last
	home := b.TempDir()
	if _, err := client.InitTrustFromGenesis(ctx, home, net.Testnet.Genesis, net.Testnet.Agencies[1].RPC); err != nil {
		b.Fatal(err)
	}
	return net, home
}

// BenchmarkVerifyRecordCold measures what `ledger verify grant ID` does from
// a cold start: a new light client from the genesis trust root (bisection
// to the latest header, cross-checked with two witnesses), the proof query,
// the proof check, and the agency names of the signing validators. It
// reports the median over the iterations.
func BenchmarkVerifyRecordCold(b *testing.B) {
	net, home := benchNetwork(b, 20)
	a := net.Testnet.Agencies
	ctx := context.Background()
	var durs []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		v, err := client.NewVerifier(ctx, home, a[0].RPC, []string{a[1].RPC, a[2].RPC})
		if err != nil {
			b.Fatal(err)
		}
		kp, err := v.VerifyKey(ctx, ledger.StoreGrants, []byte(fmt.Sprintf("G-%05d", i%20)), 0)
		if err != nil || !kp.Present {
			b.Fatalf("%v %+v", err, kp)
		}
		if _, err := v.AgencyNames(ctx, kp.Height); err != nil {
			b.Fatal(err)
		}
		durs = append(durs, time.Since(t0))
	}
	slices.Sort(durs)
	b.ReportMetric(float64(durs[len(durs)/2].Microseconds())/1000, "median-ms")
}

// BenchmarkProvedQueries measures proof generation on one node: a single
// client at concurrency 8 asks for records with prove=true and checks each
// proof (verify.StoreValue) against the AppHash of the header that follows
// the answered height (fetched once per height).
func BenchmarkProvedQueries(b *testing.B) {
	const records = 500
	net, _ := benchNetwork(b, records)
	c, _ := client.New(net.Testnet.Agencies[0].RPC)
	ctx := context.Background()
	var mu sync.Mutex
	appHash := map[int64][]byte{}
	hashAt := func(h int64) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		if ah, ok := appHash[h]; ok {
			return ah, nil
		}
		if err := c.WaitForHeight(ctx, h); err != nil {
			return nil, err
		}
		blk, err := c.RPC().Block(ctx, &h)
		if err != nil {
			return nil, err
		}
		appHash[h] = blk.Block.AppHash
		return blk.Block.AppHash, nil
	}
	// One state height whose header h+1 exists: the benchmark measures proof
	// generation and checking, not waiting for blocks.
	st, err := c.Status(ctx)
	if err != nil {
		b.Fatal(err)
	}
	height := st.SyncInfo.LatestBlockHeight - 1
	if _, err := hashAt(height + 1); err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	b.ResetTimer()
	t0 := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				key := []byte(fmt.Sprintf("G-%05d", i%records))
				res, err := c.Query(ctx, "/store/grants/key", key, height, true)
				if err != nil || res.Code != 0 {
					errs <- fmt.Errorf("query: %v %+v", err, res)
					return
				}
				ah, err := hashAt(res.Height + 1)
				if err != nil {
					errs <- err
					return
				}
				if _, err := verify.StoreValue(ah, ledger.StoreGrants, key, res.Value, res.ProofOps.Ops); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "verified-queries/s")
}
