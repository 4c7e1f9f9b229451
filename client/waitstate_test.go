package client_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/civicledger/civicledger/app"
	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/store"
	"github.com/civicledger/civicledger/node"
)

// slowCommit is the ledger app with a slow Commit: CometBFT has saved the
// block (and /status reports its height) well before the app has committed
// its state, as on a loaded machine.
type slowCommit struct{ *app.App }

func (s slowCommit) Commit(ctx context.Context, req *abci.RequestCommit) (*abci.ResponseCommit, error) {
	time.Sleep(300 * time.Millisecond)
	return s.App.Commit(ctx, req)
}

// TestWaitForStateMeansQueryable: once WaitForState(h) returns, the state at
// h can be queried. A node reports a height in /status as soon as its block
// is stored, before the app commits it; the demo's governance step read a
// proposal right after WaitForHeight(h) and sometimes found no state
// ("unexpected end of JSON input").
func TestWaitForStateMeansQueryable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var apps []*app.App
	net, err := node.StartNetwork(ctx, filepath.Join(t.TempDir(), "net"), node.NetworkOptions{
		Agencies: 1, ChainID: "civic-wait", AppConnSync: true,
		Tweak: func(_ int, c *node.Config) { c.Consensus.CreateEmptyBlocksInterval = 0 },
		App: func(_ int, c *node.Config) (abci.Application, error) {
			st, err := store.Open(c.DBDir(), ledger.StoreNames, store.DefaultOptions())
			if err != nil {
				return nil, err
			}
			a, err := app.New(st, app.DefaultOptions())
			if err != nil {
				return nil, err
			}
			apps = append(apps, a)
			return slowCommit{a}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		net.Stop()
		for _, a := range apps {
			a.Close()
		}
	})
	c, err := client.New(net.Nodes[0].RPCURL())
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for h := st.SyncInfo.LatestBlockHeight + 1; h <= st.SyncInfo.LatestBlockHeight+5; h++ {
		if err := c.WaitForState(ctx, h); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := c.Params(ctx, h); err != nil {
			t.Fatalf("state at height %d right after WaitForState(%d): %v", h, h, err)
		}
	}
}
