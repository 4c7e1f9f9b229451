package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	rpcclient "github.com/cometbft/cometbft/rpc/client"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	jsonrpcclient "github.com/cometbft/cometbft/rpc/jsonrpc/client"
	ics23 "github.com/cosmos/ics23/go"

	"github.com/civicledger/civicledger/ledger"
)

// Client is a connection to one node's RPC.
type Client struct {
	rpc *rpchttp.HTTP
	URL string
}

// New returns a client for the node at url (http://host:port; the scheme
// may be left out). An address that cannot name a node's RPC is refused;
// a node that cannot be reached, or whose address answers but not as
// CometBFT's RPC, fails each call with a *NodeError.
func New(url string) (*Client, error) {
	if !strings.Contains(url, "://") {
		url = "http://" + url
	}
	if err := checkNodeURL(url); err != nil {
		return nil, fmt.Errorf("node address %w", err)
	}
	hc, err := jsonrpcclient.DefaultHTTPClient(url)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", url, err)
	}
	hc.Timeout = 30 * time.Second
	hc.Transport = &nodeTransport{url: url, base: hc.Transport}
	c, err := rpchttp.NewWithClient(url, "/websocket", hc)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", url, err)
	}
	return &Client{rpc: c, URL: url}, nil
}

// RPC exposes the underlying CometBFT RPC client.
func (c *Client) RPC() *rpchttp.HTTP { return c.rpc }

// Status returns the node's status (chain id, latest height).
func (c *Client) Status(ctx context.Context) (*ctypes.ResultStatus, error) {
	st, err := c.rpc.Status(ctx)
	var ne *NodeError
	switch {
	case errors.As(err, &ne):
		return nil, ne // it names the node and says what is wrong
	case err != nil:
		return nil, fmt.Errorf("node %s unreachable: %w", c.URL, err)
	}
	return st, nil
}

// WaitForHeight blocks until the node reports at least height h: its block
// (header, commit, txs) can be read. Its state may not be committed yet:
// before a query at h, use WaitForState.
func (c *Client) WaitForHeight(ctx context.Context, h int64) error {
	return c.waitFor(ctx, h, false)
}

// WaitForState blocks until the node's app has committed the state of height
// h, so that it can be queried at h. A node reports a block's height in
// /status as soon as it has stored the block, before the app has committed
// its state: the app's own last height (/abci_info) is asked too.
func (c *Client) WaitForState(ctx context.Context, h int64) error {
	return c.waitFor(ctx, h, true)
}

func (c *Client) waitFor(ctx context.Context, h int64, state bool) error {
	for {
		st, err := c.rpc.Status(ctx)
		if err == nil && st.SyncInfo.LatestBlockHeight >= h {
			if !state {
				return nil
			}
			var info *ctypes.ResultABCIInfo
			if info, err = c.rpc.ABCIInfo(ctx); err == nil && info.Response.LastBlockHeight >= h {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("waiting for height %d: %w", h, err)
			}
			return fmt.Errorf("waiting for height %d: %w", h, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Signer is who signs a transaction: the acting officer first, then any
// co-signers (four-eyes).
type Signer struct {
	Agency string
	Keys   []ed25519.PrivateKey
}

// BuildOptions tune BuildTx.
type BuildOptions struct {
	Nonce     uint64 // 0 picks a random nonce
	ExpiresIn int64  // blocks from the current height; 0 means 100
	ChainID   string // empty asks the node
	// TrustHome, if set, is the client home whose trust state for the chain
	// (LoadTrust), if there is one, holds a height this client verified
	// itself: the expiry is counted from it when the node reports less.
	TrustHome string
}

// ErrImplausibleHeight is returned by BuildTx when the node's latest height
// cannot be the chain's.
var ErrImplausibleHeight = errors.New("implausible node height")

// ErrNodeFarBehind is returned by ExpiresAt (with ErrImplausibleHeight)
// for a node far behind a height this client verified: another node is
// needed.
var ErrNodeFarBehind = errors.New("the node is far behind or serving an old state")

// ErrTrustState is returned by BuildTx when o.TrustHome holds a trust state
// for the chain that cannot be read.
var ErrTrustState = errors.New("cannot read the trust state")

// ExpiresAt returns the expires_at of a tx built now: expiresIn blocks after
// the current height, taken as the larger of the node's latest height (the
// node's unproved word) and verified, a height this client verified itself
// (0 if none). The chain is at least at verified, whatever the node says, so
// a node that reports a low height cannot make the tx expire before the
// signer expects. A node behind verified by more than expiresIn blocks is
// refused outright (ErrImplausibleHeight): it is far behind, or serving
// another, older chain, and its mempool would check the tx against a stale
// state. What no client-side check can bound without a verified recent header
// is a node that reports a height above the chain's: the tx then stays valid
// for longer than expiresIn (never more than the chain's replay window after
// it is included, and a tx included too early is refused for good, its
// nonce consumed); 'ledger verify' before signing gives such a header.
func ExpiresAt(nodeHeight, verified, expiresIn int64) (int64, error) {
	if expiresIn <= 0 {
		return 0, fmt.Errorf("expiry must be a positive number of blocks, not %d", expiresIn)
	}
	if nodeHeight < 0 {
		return 0, fmt.Errorf("node reports height %d: %w", nodeHeight, ErrImplausibleHeight)
	}
	if verified > 0 && nodeHeight < verified-expiresIn {
		return 0, fmt.Errorf("node reports height %d, but this client verified height %d of the chain: %w: %w",
			nodeHeight, verified, ErrNodeFarBehind, ErrImplausibleHeight)
	}
	base := max(nodeHeight, verified)
	if base > math.MaxInt64-expiresIn {
		return 0, fmt.Errorf("node reports height %d: %w", nodeHeight, ErrImplausibleHeight)
	}
	return base + expiresIn, nil
}

// BuildTx signs payload for the signer, with chain id from the node's status
// (unless given) and expiry from ExpiresAt over the node's latest height and
// the height verified in o.TrustHome.
func (c *Client) BuildTx(ctx context.Context, s Signer, p ledger.Payload, o BuildOptions) ([]byte, error) {
	if len(s.Keys) == 0 {
		return nil, errors.New("no signing key")
	}
	st, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	if o.ChainID == "" {
		o.ChainID = st.NodeInfo.Network
	}
	if o.ExpiresIn <= 0 {
		o.ExpiresIn = 100
	}
	if o.Nonce == 0 {
		o.Nonce = RandomNonce()
	}
	var verified int64
	if o.TrustHome != "" {
		ts, err := LoadTrust(o.TrustHome, o.ChainID)
		switch {
		case err == nil:
			verified = ts.LastVerified.Height
		case !errors.Is(err, ErrNoTrust):
			return nil, fmt.Errorf("%w: %w", ErrTrustState, err)
		}
	}
	expiresAt, err := ExpiresAt(st.SyncInfo.LatestBlockHeight, verified, o.ExpiresIn)
	if err != nil {
		return nil, err
	}
	body, err := ledger.NewBody(o.ChainID, s.Agency, s.Keys[0].Public().(ed25519.PublicKey), o.Nonce, expiresAt, p)
	if err != nil {
		return nil, err
	}
	return ledger.SignTx(body, s.Keys...)
}

// RandomNonce returns a random non-zero nonce: clients may submit many
// transactions in parallel without coordinating sequence numbers.
func RandomNonce() uint64 {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic(err)
		}
		if n := binary.BigEndian.Uint64(b[:]) >> 1; n != 0 {
			return n
		}
	}
}

// TxResult is the outcome of a submitted transaction.
type TxResult struct {
	Hash      string       `json:"hash"`
	Height    int64        `json:"height"` // 0 if rejected before inclusion
	Code      uint32       `json:"code"`
	Codespace string       `json:"codespace,omitempty"`
	Log       string       `json:"log,omitempty"`
	Stage     string       `json:"stage"` // "check" (mempool) or "block"
	Events    []abci.Event `json:"-"`
}

// OK reports whether the tx succeeded.
func (r *TxResult) OK() bool { return r.Code == 0 }

// Submit broadcasts raw. CheckTx rejections return at once with Stage
// "check". With wait, it then polls until the tx is in a block (or ctx ends).
func (c *Client) Submit(ctx context.Context, raw []byte, wait bool) (*TxResult, error) {
	var from int64 // the latest block before the broadcast: the tx can only be in a later one
	if wait {
		if st, err := c.rpc.Status(ctx); err == nil {
			from = st.SyncInfo.LatestBlockHeight
		}
	}
	res, err := c.rpc.BroadcastTxSync(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("broadcast to %s: %w", c.URL, err)
	}
	out := &TxResult{Hash: strings.ToUpper(hex.EncodeToString(res.Hash)), Code: res.Code, Codespace: res.Codespace, Log: res.Log, Stage: "check"}
	if res.Code != 0 || !wait {
		return out, nil
	}
	for {
		tx, err := c.rpc.Tx(ctx, res.Hash, false)
		if err != nil && NoTxIndex(err) {
			return c.waitInBlocks(ctx, res.Hash, from+1, out)
		}
		if err == nil {
			out.Stage = "block"
			out.Height = tx.Height
			out.Code = tx.TxResult.Code
			out.Codespace = tx.TxResult.Codespace
			out.Log = tx.TxResult.Log
			out.Events = tx.TxResult.Events
			return out, nil
		}
		select {
		case <-ctx.Done():
			return out, fmt.Errorf("tx %s not included yet: %w", out.Hash, ctx.Err())
		case <-time.After(150 * time.Millisecond):
		}
	}
}

// ErrNoTxIndex is returned when the node keeps no transaction index
// (tx_index.indexer "null", or "psql" as on an auditor node, whose tx and
// tx_search routes do not work): histories and lookups by hash need a node
// that keeps one, such as a validator's.
var ErrNoTxIndex = errors.New(`this node keeps no transaction index (its tx_index.indexer is "null" or "psql"): ask a validator's node, which keeps one ("kv")`)

// NoTxIndex reports whether an RPC error says the node keeps no tx index.
func NoTxIndex(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrNoTxIndex) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "transaction indexing is disabled") || strings.Contains(s, "TxIndexer.Get method is not supported") ||
		strings.Contains(s, "TxIndexer.Search method is not supported")
}

// waitInBlocks finds a tx by reading blocks from height from on, for a
// node that keeps no tx index: its result comes from block_results.
func (c *Client) waitInBlocks(ctx context.Context, hash []byte, from int64, out *TxResult) (*TxResult, error) {
	for h := max(from, 1); ; h++ {
		if err := c.WaitForHeight(ctx, h); err != nil {
			return out, fmt.Errorf("tx %s not included yet (the node keeps no tx index: its blocks were read from height %d): %w", out.Hash, from, err)
		}
		b, err := c.rpc.Block(ctx, &h)
		if err != nil {
			return out, fmt.Errorf("block %d from %s: %w", h, c.URL, err)
		}
		for i, tx := range b.Block.Txs {
			if !bytes.Equal(tx.Hash(), hash) {
				continue
			}
			br, err := c.rpc.BlockResults(ctx, &h)
			if err != nil {
				return out, fmt.Errorf("block results %d from %s: %w", h, c.URL, err)
			}
			if i >= len(br.TxsResults) {
				return out, fmt.Errorf("block %d from %s: %d txs but %d results", h, c.URL, len(b.Block.Txs), len(br.TxsResults))
			}
			r := br.TxsResults[i]
			out.Stage, out.Height = "block", h
			out.Code, out.Codespace, out.Log, out.Events = r.Code, r.Codespace, r.Log, r.Events
			return out, nil
		}
	}
}

// ErrTxNotFound is returned when a node has no tx with the hash asked for.
var ErrTxNotFound = errors.New("transaction not found")

// txByHash fetches a tx with its Merkle proof by its full hash. An unknown
// hash gives ErrTxNotFound, a node without a tx index ErrNoTxIndex.
func (c *Client) txByHash(ctx context.Context, hash []byte) (*ctypes.ResultTx, error) {
	res, err := c.rpc.Tx(ctx, hash, true)
	switch {
	case err == nil:
		return res, nil
	case NoTxIndex(err):
		return nil, fmt.Errorf("tx %X from %s: %w", hash, c.URL, ErrNoTxIndex)
	case strings.Contains(err.Error(), fmt.Sprintf("tx (%X) not found", hash)):
		return nil, fmt.Errorf("tx %X: %w on %s (check the hash: all 64 hex digits)", hash, ErrTxNotFound, c.URL)
	}
	return nil, fmt.Errorf("tx %X from %s: %w", hash, c.URL, err)
}

// Query sends an ABCI query.
func (c *Client) Query(ctx context.Context, path string, data []byte, height int64, prove bool) (*abci.ResponseQuery, error) {
	res, err := c.rpc.ABCIQueryWithOptions(ctx, path, data, rpcclient.ABCIQueryOptions{Height: height, Prove: prove})
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", path, err)
	}
	return &res.Response, nil
}

// StateAppHash returns the AppHash of the node's own state at height h, as
// implied by a proof it serves (the root computed from the store proof of
// the params record). It is what the node computed, not what consensus
// agreed: comparing it across nodes detects a node whose state diverged,
// which comparing block headers cannot.
func (c *Client) StateAppHash(ctx context.Context, h int64) ([]byte, error) {
	res, err := c.Query(ctx, ledger.QueryStoreKey(ledger.StoreMeta), ledger.KeyParams, h, true)
	if err != nil {
		return nil, err
	}
	if res.Code != 0 || res.ProofOps == nil || len(res.ProofOps.Ops) != 2 {
		return nil, fmt.Errorf("state at height %d: code %d %s", h, res.Code, res.Log)
	}
	var p ics23.CommitmentProof
	if err := p.Unmarshal(res.ProofOps.Ops[1].Data); err != nil {
		return nil, fmt.Errorf("state at height %d: %w", h, err)
	}
	return p.Calculate()
}

// ErrNotFound is returned when a record does not exist.
var ErrNotFound = errors.New("not found")

// HistoryEntry is one transaction that changed a record.
type HistoryEntry struct {
	Hash   string            `json:"hash"`
	Height int64             `json:"height"`
	Type   string            `json:"type"`
	Action string            `json:"action"`
	Status string            `json:"status"`
	Attrs  map[string]string `json:"attributes"`
	// What the tx says (SetTx): the acting agency, the officers' keys that
	// signed it (base64), and its reason if the type has one.
	Agency  string   `json:"agency,omitempty"`
	Signers []string `json:"signers,omitempty"`
	Reason  string   `json:"reason,omitempty"`
	// Created: the block created the record; else Changes are the record's
	// fields the block changed (HistoryChanges).
	Created bool          `json:"created,omitempty"`
	Changes []FieldChange `json:"changes,omitempty"`
}

// History returns, oldest first, the transactions whose events touched the
// record (from the node's kv tx index: tx_search "<kind>.id='<id>'"), for
// every kind: a grant's includes the payments made against it, a licence's
// its expiry (a block event), an agency's its officer changes (Status: the
// officer's roles). RecordHistory adds what each changed.
func (c *Client) History(ctx context.Context, kind ledger.Kind, id string) ([]HistoryEntry, error) {
	if !validKind(kind) {
		return nil, fmt.Errorf("%w %q", ErrUnknownKind, kind)
	}
	if !ledger.ValidID(id) {
		return nil, fmt.Errorf("invalid id %q", id)
	}
	if kind == ledger.KindAgency {
		return c.agencyHistory(ctx, id)
	}
	q := ledger.RecordEventQuery(kind, id)
	var out []HistoryEntry
	for page := 1; ; page++ {
		perPage := 100
		res, err := c.rpc.TxSearch(ctx, q, false, &page, &perPage, "asc")
		if NoTxIndex(err) {
			return nil, fmt.Errorf("history of %s %s from %s: %w", kind, id, c.URL, ErrNoTxIndex)
		}
		if err != nil {
			return nil, fmt.Errorf("tx_search %s: %w", q, err)
		}
		for _, tx := range res.Txs {
			e := HistoryEntry{Hash: strings.ToUpper(hex.EncodeToString(tx.Hash)), Height: tx.Height, Attrs: map[string]string{}}
			e.SetTx(tx.Tx)
			for _, ev := range tx.TxResult.Events {
				if ev.Type == ledger.EventTx {
					for _, a := range ev.Attributes {
						if a.Key == ledger.AttrType {
							e.Type = a.Value
						}
					}
				}
				if ev.Type != string(kind) {
					continue
				}
				attrs := map[string]string{}
				for _, a := range ev.Attributes {
					attrs[a.Key] = a.Value
				}
				if attrs[ledger.AttrID] != id {
					continue
				}
				e.Action, e.Status, e.Attrs = attrs[ledger.AttrAction], attrs[ledger.AttrStatus], attrs
			}
			out = append(out, e)
		}
		if len(out) >= res.TotalCount || len(res.Txs) == 0 {
			break
		}
	}
	if kind != ledger.KindLicence {
		return out, nil
	}
	// Licence expiry happens at the start of a block, not in a tx: its
	// events are block events, found with block_search.
	expiries, err := c.blockHistory(ctx, q, kind, id)
	if err != nil {
		return nil, err
	}
	out = append(out, expiries...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Height < out[j].Height })
	return out, nil
}

func (c *Client) blockHistory(ctx context.Context, q string, kind ledger.Kind, id string) ([]HistoryEntry, error) {
	var out []HistoryEntry
	seen := 0
	for page := 1; ; page++ {
		perPage := 100
		res, err := c.rpc.BlockSearch(ctx, q, &page, &perPage, "asc")
		if err != nil {
			return nil, fmt.Errorf("block_search %s: %w", q, err)
		}
		for _, b := range res.Blocks {
			h := b.Block.Height
			br, err := c.rpc.BlockResults(ctx, &h)
			if err != nil {
				return nil, fmt.Errorf("block_results %d: %w", h, err)
			}
			for _, ev := range br.FinalizeBlockEvents {
				if ev.Type != string(kind) {
					continue
				}
				attrs := map[string]string{}
				for _, a := range ev.Attributes {
					attrs[a.Key] = a.Value
				}
				if attrs[ledger.AttrID] == id {
					out = append(out, HistoryEntry{Height: h, Type: "block", Action: attrs[ledger.AttrAction], Status: attrs[ledger.AttrStatus], Attrs: attrs})
				}
			}
		}
		seen += len(res.Blocks)
		if seen >= res.TotalCount || len(res.Blocks) == 0 {
			return out, nil
		}
	}
}
