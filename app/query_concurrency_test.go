package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/civicledger/civicledger/app"
	"github.com/civicledger/civicledger/ledger"
)

// TestQueryDoesNotBlockBlocks: through the ABCI client CometBFT uses
// (app.ClientCreator), a query held in the middle of its work does not delay
// FinalizeBlock and Commit on the consensus connection, and answers
// correctly once released.
func TestQueryDoesNotBlockBlocks(t *testing.T) {
	ctx := t.Context()
	f := newFixture()
	entered, release := make(chan struct{}), make(chan struct{})
	a := openApp(t, "", func(o *app.Options) {
		o.OnQuery = func(path string) {
			if path == "/grants" {
				close(entered)
				<-release
			}
		}
	})
	t.Cleanup(a.Close)
	f.initChain(t, a)
	finalize(t, a, 1, f.tx(t, "agency-1", 1, 100, award("G-1", "1000"), "grants"))

	cc := app.ClientCreator(a)
	query, err := cc.NewABCIClient()
	if err != nil {
		t.Fatal(err)
	}
	consensus, err := cc.NewABCIClient()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []interface{ Start() error }{query, consensus} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	type answer struct {
		res *abci.ResponseQuery
		err error
	}
	answered := make(chan answer, 1)
	go func() {
		res, err := query.Query(ctx, &abci.RequestQuery{Path: "/grants", Data: []byte(`{"agency":"agency-1"}`), Height: 1})
		answered <- answer{res, err}
	}()
	<-entered

	blocked := make(chan error, 1)
	go func() {
		_, err := consensus.FinalizeBlock(ctx, &abci.RequestFinalizeBlock{Height: 2, Time: genesisTime.Add(2 * time.Second),
			Txs: [][]byte{f.tx(t, "agency-1", 2, 100, award("G-2", "1000"), "grants")}})
		if err == nil {
			_, err = consensus.Commit(ctx, &abci.RequestCommit{})
		}
		blocked <- err
	}()
	select {
	case err := <-blocked:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("FinalizeBlock and Commit waited for a query on another connection")
	}
	close(release)
	ans := <-answered
	if ans.err != nil || ans.res.Code != 0 {
		t.Fatalf("held query: %v %+v", ans.err, ans.res)
	}
	var p ledger.Page
	if err := json.Unmarshal(ans.res.Value, &p); err != nil || len(p.Items) != 1 || ans.res.Height != 1 {
		t.Fatalf("held query answered %s at height %d (%v)", ans.res.Value, ans.res.Height, err)
	}
}

// TestQueriesDuringBlocks runs listings and proved queries without pause
// while blocks write and commit (run with -race): queries read committed
// versions through trees of their own, and every answer is consistent with
// the height it names.
func TestQueriesDuringBlocks(t *testing.T) {
	ctx := context.Background()
	f := newFixture()
	a := openApp(t, t.TempDir())
	t.Cleanup(a.Close)
	f.initChain(t, a)
	finalize(t, a, 1)
	const blocks = 30
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				res, err := a.Query(ctx, &abci.RequestQuery{Path: "/grants", Data: []byte(`{"agency":"agency-1","limit":500}`)})
				if err != nil || res.Code != 0 {
					errs <- fmt.Errorf("worker %d: listing: %v %+v", w, err, res)
					return
				}
				var p ledger.Page
				if err := json.Unmarshal(res.Value, &p); err != nil {
					errs <- err
					return
				}
				// Block h (h >= 2) awards G-h: the state at h holds h-1 grants.
				if want := int(res.Height) - 1; len(p.Items) != want {
					errs <- fmt.Errorf("worker %d: %d grants at height %d, want %d", w, len(p.Items), res.Height, want)
					return
				}
				pr, err := a.Query(ctx, &abci.RequestQuery{Path: "/store/meta/key", Data: ledger.KeyParams, Height: res.Height, Prove: true})
				if err != nil || pr.Code != 0 || pr.ProofOps == nil {
					errs <- fmt.Errorf("worker %d: proved query: %v %+v", w, err, pr)
					return
				}
			}
		}()
	}
	for h := int64(2); h <= blocks; h++ {
		finalize(t, a, h, f.tx(t, "agency-1", uint64(h), 1000, award(fmt.Sprintf("G-%03d", h), "1000"), "grants"))
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
