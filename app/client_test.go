package app_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	abcicli "github.com/cometbft/cometbft/abci/client"
	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/civicledger/civicledger/app"
	"github.com/civicledger/civicledger/ledger"
)

// checkAsync sends a CheckTx through the mempool's client as CometBFT's
// mempool does (CheckTxAsync, then a callback on the ReqRes) and returns
// the response the callback saw; it fails if the callback was not run at
// once, exactly once.
func checkAsync(t *testing.T, c abcicli.Client, tx []byte) *abci.ResponseCheckTx {
	rr, err := c.CheckTxAsync(context.Background(), &abci.RequestCheckTx{Tx: tx, Type: abci.CheckTxType_New})
	if err != nil {
		t.Errorf("CheckTxAsync: %v", err)
		return nil
	}
	var got *abci.ResponseCheckTx
	calls := 0
	rr.SetCallback(func(res *abci.Response) { calls++; got = res.GetCheckTx() })
	rr.Wait()
	if calls != 1 || got == nil {
		t.Errorf("ReqRes callback ran %d times (response %v), want once at SetCallback", calls, got)
	}
	return got
}

// TestConcurrentCheckTx sends CheckTx from many goroutines at once through
// the client CometBFT's mempool uses (decoding and signatures outside the
// app's lock), then again while blocks are finalized and committed and
// Info and Query run on their own connections. The state rules stay serial:
// of two txs with the same signer and nonce exactly one passes; every valid
// tx passes, every forged one is refused. Run with -race.
func TestConcurrentCheckTx(t *testing.T) {
	ctx := context.Background()
	f := newFixture()
	a := openApp(t, "")
	f.initChain(t, a)
	cc := app.ClientCreator(a)
	newClient := func() abcicli.Client {
		c, err := cc.NewABCIClient()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	mempool, consensus, query := newClient(), newClient(), newClient()
	var globalCalls atomic.Int64
	mempool.SetResponseCallback(func(req *abci.Request, res *abci.Response) {
		if req.GetCheckTx() != nil && res.GetCheckTx() != nil {
			globalCalls.Add(1)
		}
	})

	const grants = 8
	var setup [][]byte
	for i := 0; i < grants; i++ {
		setup = append(setup, f.tx(t, "agency-1", uint64(i+1), 40, award(fmt.Sprintf("G-%d", i), "1000000"), "grants"))
	}
	finalize(t, a, 1, setup...)

	// Phase 1: only CheckTx, 16 goroutines. Pairs of payments share a
	// nonce (different bytes): one of each pair must be refused as a
	// replay. Forged txs carry another officer's signature.
	type sent struct {
		tx     []byte
		pair   int // >= 0: the nonce pair it belongs to
		forged bool
	}
	var work []sent
	for i := 0; i < 40; i++ {
		nonce := uint64(100 + i)
		g := fmt.Sprintf("G-%d", i%grants)
		work = append(work,
			sent{tx: f.tx(t, "agency-1", nonce, 40, payment(fmt.Sprintf("P-%d-a", i), g, "1"), "finance"), pair: i},
			sent{tx: f.tx(t, "agency-1", nonce, 40, payment(fmt.Sprintf("P-%d-b", i), g, "1"), "finance"), pair: i})
	}
	for i := 0; i < 20; i++ {
		raw := f.tx(t, "agency-1", uint64(500+i), 40, payment(fmt.Sprintf("F-%d", i), "G-0", "1"), "finance")
		forged := []byte(string(raw))
		forged[len(forged)-20] ^= 0x01 // inside the last signature's base64
		work = append(work, sent{tx: forged, pair: -1, forged: true})
	}
	results := make([]*abci.ResponseCheckTx, len(work))
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(work) {
					return
				}
				results[i] = checkAsync(t, mempool, work[i].tx)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	accepted := map[int]int{}
	for i, w := range work {
		r := results[i]
		switch {
		case w.forged:
			if r.Code == 0 {
				t.Errorf("forged tx %d accepted", i)
			}
		case r.Code == 0:
			accepted[w.pair]++
		case r.Code != uint32(ledger.CodeOf(ledger.ErrNonceReplayed)):
			t.Errorf("tx %d of nonce pair %d refused with code %d (%s), want OK or a nonce replay", i, w.pair, r.Code, r.Log)
		}
	}
	for p := 0; p < 40; p++ {
		if accepted[p] != 1 {
			t.Errorf("nonce pair %d: %d txs accepted, want exactly 1", p, accepted[p])
		}
	}
	if n := globalCalls.Load(); n != int64(len(work)) {
		t.Errorf("response callback ran %d times for %d CheckTx", n, len(work))
	}

	// Phase 2: CheckTx from 8 goroutines while the consensus connection
	// finalizes and commits blocks of agency-2's awards and the query
	// connection asks Info and a record.
	var fresh [][]byte
	for i := 0; i < 60; i++ {
		fresh = append(fresh, f.tx(t, "agency-1", uint64(1000+i), 40, payment(fmt.Sprintf("Q-%d", i), fmt.Sprintf("G-%d", i%grants), "1"), "finance"))
	}
	var blocks [][][]byte
	for h := 0; h < 4; h++ {
		var b [][]byte
		for j := 0; j < 3; j++ {
			n := h*3 + j
			b = append(b, f.tx(t, "agency-2", uint64(1+n), 40, award(fmt.Sprintf("H-%d", n), "5"), "grants"))
		}
		blocks = append(blocks, b)
	}
	codes := make([]uint32, len(fresh))
	logs := make([]string, len(fresh))
	next.Store(0)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(fresh) {
					return
				}
				if r := checkAsync(t, mempool, fresh[i]); r != nil {
					codes[i], logs[i] = r.Code, r.Log
				}
			}
		}()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i, b := range blocks {
			h := int64(2 + i)
			res, err := consensus.FinalizeBlock(ctx, &abci.RequestFinalizeBlock{Height: h, Time: genesisTime.Add(time.Duration(h) * time.Second), Txs: b})
			if err != nil {
				t.Errorf("FinalizeBlock %d: %v", h, err)
				return
			}
			for j, r := range res.TxResults {
				if r.Code != 0 {
					t.Errorf("block %d tx %d: code %d %s", h, j, r.Code, r.Log)
				}
			}
			if _, err := consensus.Commit(ctx, &abci.RequestCommit{}); err != nil {
				t.Errorf("Commit %d: %v", h, err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 20; i++ {
			if _, err := query.Info(ctx, &abci.RequestInfo{}); err != nil {
				t.Errorf("Info: %v", err)
				return
			}
			if r, err := query.Query(ctx, &abci.RequestQuery{Path: ledger.QueryRecord(ledger.KindGrant, "G-0")}); err != nil || r.Code != 0 {
				t.Errorf("Query: %v %+v", err, r)
				return
			}
		}
	}()
	wg.Wait()
	for i, c := range codes {
		if c != 0 {
			t.Errorf("payment %d refused during blocks: code %d %s", i, c, logs[i])
		}
	}
	info, err := a.Info(ctx, &abci.RequestInfo{})
	if err != nil || info.LastBlockHeight != int64(1+len(blocks)) {
		t.Fatalf("Info after the blocks = %+v, %v", info, err)
	}
}
