package app

import (
	"context"
	"sync"

	abcicli "github.com/cometbft/cometbft/abci/client"
	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/proxy"
)

// ClientCreator is how CometBFT must call this app in-process: one mutex per
// ABCI connection (consensus, mempool, query, snapshot) instead of one for
// all four, so a query, however long, never delays FinalizeBlock or Commit,
// and a block never delays a query. CheckTx alone bypasses its connection's
// mutex: the mempool calls it from every RPC and peer goroutine, and the
// app decodes the tx and verifies its signatures in that goroutine, in
// parallel, before it takes a.mu for the rules of the check state. The app
// guards its own state: CheckTx (its stateful part), FinalizeBlock, Commit,
// Info and the snapshot restore take a.mu; Query takes no lock of the app
// and reads committed versions only, through trees of its own
// (store.Reader).
func ClientCreator(a *App) proxy.ClientCreator { return clientCreator{a} }

type clientCreator struct{ app *App }

func (c clientCreator) NewABCIClient() (abcicli.Client, error) {
	return &client{Client: abcicli.NewLocalClient(nil, c.app), app: c.app}, nil
}

// client is CometBFT's local client (its own mutex serializes every call on
// the connection) except for CheckTx, which goes to the app directly.
type client struct {
	abcicli.Client
	app *App

	cbMu sync.RWMutex
	cb   abcicli.Callback
}

func (c *client) SetResponseCallback(cb abcicli.Callback) {
	c.cbMu.Lock()
	c.cb = cb
	c.cbMu.Unlock()
	c.Client.SetResponseCallback(cb)
}

func (c *client) CheckTx(ctx context.Context, req *abci.RequestCheckTx) (*abci.ResponseCheckTx, error) {
	return c.app.CheckTx(ctx, req)
}

// CheckTxAsync answers at once, in the caller's goroutine, as the local
// client does: the response callback first, then a ReqRes already done, so
// that the callback the mempool sets on it runs immediately. The mempool
// rechecks its txs from one goroutine, in order, while it holds its update
// lock (which new CheckTx calls wait for), so recheck responses still come
// back in the order it expects.
func (c *client) CheckTxAsync(ctx context.Context, req *abci.RequestCheckTx) (*abcicli.ReqRes, error) {
	res, err := c.app.CheckTx(ctx, req)
	if err != nil {
		return nil, err
	}
	areq, ares := abci.ToRequestCheckTx(req), abci.ToResponseCheckTx(res)
	c.cbMu.RLock()
	cb := c.cb
	c.cbMu.RUnlock()
	if cb != nil {
		cb(areq, ares)
	}
	rr := abcicli.NewReqRes(areq)
	rr.Response = ares
	rr.InvokeCallback() // no callback set yet: marks it invoked, so SetCallback calls at once
	rr.Done()
	return rr, nil
}
