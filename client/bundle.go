package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/verify"
	"github.com/civicledger/civicledger/version"
)

// ErrCheckpointRoot is returned when a bundle is asked of a verifier whose
// trust root is a checkpoint: a bundle is checked from the genesis file
// alone, so the headers it carries must start at the chain's first block,
// verified from the genesis validators.
var ErrCheckpointRoot = errors.New("the trust root is a checkpoint, not the genesis file: an evidence bundle must be verifiable from the genesis file alone")

// ErrNodeRefused is wrapped when the node answers a query with an error
// code (e.g. a height it does not have).
var ErrNodeRefused = errors.New("the node refused the query")

// TrustedBlocks returns the light blocks the verifier has verified with
// heights in [from, to], ascending.
func (v *Verifier) TrustedBlocks(from, to int64) ([]*cmttypes.LightBlock, error) {
	return v.Verified(from, to), nil
}

// ExportRecord verifies key in store at height (0: latest) like VerifyKey
// and returns it as an evidence bundle about the record kind/id (kind
// "total" with id "AGENCY/CURRENCY" for totals), checkable offline with
// verify.VerifyBundle and the genesis file: the chain's first block, the
// light blocks the light client verified up to header H+1, and the
// verbatim abci_query answer. It needs a trust root made from the genesis
// file (ErrCheckpointRoot otherwise).
func (v *Verifier) ExportRecord(ctx context.Context, storeName string, key []byte, height int64, kind, id string) (*verify.Bundle, error) {
	st, k, err := verify.RecordLocation(kind, id)
	if err != nil {
		return nil, err
	}
	if st != storeName || !bytes.Equal(k, key) {
		return nil, fmt.Errorf("%s %s is key %q of store %s, not key %q of store %s", kind, id, k, st, key, storeName)
	}
	doc, sum, err := v.bundleGenesis()
	if err != nil {
		return nil, err
	}
	res, err := v.Primary.Query(ctx, ledger.QueryStoreKey(storeName), key, height, true)
	if err != nil {
		return nil, err
	}
	switch {
	case res.Code != 0:
		return nil, fmt.Errorf("%w: code %d: %s", ErrNodeRefused, res.Code, res.Log)
	case res.ProofOps == nil:
		return nil, fmt.Errorf("%w: the node returned no proof", verify.ErrProof)
	case height != 0 && res.Height != height:
		return nil, fmt.Errorf("%w: asked for height %d, the node answered for %d", verify.ErrProof, height, res.Height)
	}
	next, err := v.LightBlock(ctx, res.Height+1)
	if err != nil {
		return nil, err
	}
	if _, err := verify.StoreValue(next.AppHash, storeName, key, res.Value, res.ProofOps.Ops); err != nil {
		return nil, err
	}
	now := time.Now()
	blocks, err := v.bundleChain(ctx, doc, []*cmttypes.LightBlock{next}, now)
	if err != nil {
		return nil, err
	}
	b := &verify.Bundle{
		Manifest: verify.Manifest{
			Format: verify.BundleFormat, Kind: kind, ID: id, Store: storeName, Key: string(key),
			ChainID: v.ChainID, GenesisSHA256: sum, Height: res.Height,
			Created: now.UTC().Format(time.RFC3339), Tool: version.Get().String(),
		},
		LightBlocks: blocks,
		Query:       &verify.ABCIQuery{Response: *res},
	}
	return b, selfCheck(b, doc, sum, now)
}

// ExportTx verifies the transaction with the given hash (its inclusion in
// block H, its result committed in header H+1, its signers against the
// acting agency's record the chain authorized it with: the one at H-1, or
// the one its result carries) and returns it as an evidence bundle: the
// light blocks up to headers H and H+1, the verbatim tx (with proof),
// block_results of H and abci_query of the agency record. It needs a trust
// root made from the genesis file (ErrCheckpointRoot otherwise).
func (v *Verifier) ExportTx(ctx context.Context, hash []byte) (*verify.Bundle, error) {
	if len(hash) != 32 {
		return nil, fmt.Errorf("a tx hash is 32 bytes, got %d", len(hash))
	}
	doc, sum, err := v.bundleGenesis()
	if err != nil {
		return nil, err
	}
	res, err := v.Primary.txByHash(ctx, hash)
	if err != nil {
		return nil, err
	}
	h := res.Height
	header, err := v.LightBlock(ctx, h)
	if err != nil {
		return nil, err
	}
	next, err := v.LightBlock(ctx, h+1)
	if err != nil {
		return nil, err
	}
	br, err := v.Primary.RPC().BlockResults(ctx, &h)
	if err != nil {
		return nil, fmt.Errorf("block results %d from %s: %w", h, v.Primary.URL, err)
	}
	b := &verify.Bundle{
		Tx: &verify.TxResponse{Hash: res.Hash, Height: res.Height, Index: res.Index, TxResult: res.TxResult, Tx: res.Tx, Proof: res.Proof},
		BlockResults: &verify.BlockResults{Height: br.Height, TxsResults: br.TxsResults, FinalizeBlockEvents: br.FinalizeBlockEvents,
			ValidatorUpdates: br.ValidatorUpdates, ConsensusParamUpdates: br.ConsensusParamUpdates, AppHash: br.AppHash},
	}
	if tx, err := ledger.DecodeTx(res.Tx, 0); err == nil && h > doc.InitialHeight {
		q, err := v.Primary.Query(ctx, ledger.QueryStoreKey(ledger.StoreAgencies), ledger.RecordKey(tx.Body.Agency), h-1, true)
		if err != nil {
			return nil, err
		}
		if q.Code != 0 {
			return nil, fmt.Errorf("%w of agency %s at height %d: code %d: %s", ErrNodeRefused, tx.Body.Agency, h-1, q.Code, q.Log)
		}
		b.AgencyQuery = &verify.ABCIQuery{Response: *q}
	}
	now := time.Now()
	if b.LightBlocks, err = v.bundleChain(ctx, doc, []*cmttypes.LightBlock{header, next}, now); err != nil {
		return nil, err
	}
	b.Manifest = verify.Manifest{
		Format: verify.BundleFormat, Kind: verify.KindTx, ID: fmt.Sprintf("%X", hash),
		ChainID: v.ChainID, GenesisSHA256: sum, Height: h,
		Created: now.UTC().Format(time.RFC3339), Tool: version.Get().String(),
	}
	return b, selfCheck(b, doc, sum, now)
}

// selfCheck verifies an assembled bundle as its reader will (the headers
// in it are the verifier's, so a failure means the node served data that
// does not verify) and states in its manifest the sentences the verified
// facts give.
func selfCheck(b *verify.Bundle, doc *cmttypes.GenesisDoc, sum string, now time.Time) error {
	rep, err := verify.VerifyBundle(b, doc, sum, now)
	if err != nil {
		return fmt.Errorf("the node's answers do not verify: %w", err)
	}
	b.Manifest.Proves = rep.Claims
	return nil
}

// bundleGenesis returns the trusted genesis file of the chain and its
// sha256, if the trust root is that genesis file's first block.
func (v *Verifier) bundleGenesis() (*cmttypes.GenesisDoc, string, error) {
	if v.Trust.GenesisSHA256 == "" {
		return nil, "", fmt.Errorf("%w (chain %s is trusted from header %d %s)", ErrCheckpointRoot, v.ChainID, v.Trust.Root.Height, v.Trust.Root.Hash)
	}
	p, err := GenesisPath(v.home, v.ChainID)
	if err != nil {
		return nil, "", fmt.Errorf("trusted genesis file: %w", err)
	}
	doc, sum, err := LoadGenesisFile(p)
	if err != nil {
		return nil, "", fmt.Errorf("trusted genesis file: %w", err)
	}
	if sum != v.Trust.GenesisSHA256 {
		return nil, "", fmt.Errorf("trusted genesis file %s has sha256 %s, but %s was trusted", p, sum, v.Trust.GenesisSHA256)
	}
	if doc.ChainID != v.ChainID || v.Trust.Root.Height != doc.InitialHeight {
		return nil, "", fmt.Errorf("%w (the root is header %d of %s; the genesis file's first block is %d of %s)", ErrCheckpointRoot, v.Trust.Root.Height, v.ChainID, doc.InitialHeight, doc.ChainID)
	}
	return doc, sum, nil
}

// bundleChain returns the light blocks a bundle carries (verify.BundleChain):
// the chain's first block, then the targets, with blocks in between where the
// validator set changed too much to skip: ones the light client already
// holds, else ones it verifies now.
func (v *Verifier) bundleChain(ctx context.Context, doc *cmttypes.GenesisDoc, targets []*cmttypes.LightBlock, now time.Time) ([]*cmttypes.LightBlock, error) {
	first, err := v.firstBlock(ctx, doc)
	if err != nil {
		return nil, err
	}
	return verify.BundleChain(first, targets, func(lo, hi int64) (*cmttypes.LightBlock, error) {
		return v.midBlock(ctx, lo, hi)
	}, now)
}

// firstBlock returns the trust root's light block, which must be the chain's
// first block as the genesis file has it.
func (v *Verifier) firstBlock(ctx context.Context, doc *cmttypes.GenesisDoc) (*cmttypes.LightBlock, error) {
	root := v.Trust.Root
	lb := v.Root()
	if fmt.Sprintf("%X", lb.Hash()) != root.Hash {
		return nil, fmt.Errorf("%w: header %d is %X, the trust root is %s", verify.ErrHeader, root.Height, lb.Hash(), root.Hash)
	}
	if err := verify.FirstBlock(doc, lb); err != nil {
		return nil, err
	}
	return lb, nil
}

// midBlock returns a verified light block strictly between heights lo and
// hi: the light client's nearest the midpoint, or the midpoint's.
func (v *Verifier) midBlock(ctx context.Context, lo, hi int64) (*cmttypes.LightBlock, error) {
	m := lo + (hi-lo)/2
	held, err := v.TrustedBlocks(lo+1, hi-1)
	if err != nil {
		return nil, err
	}
	var best *cmttypes.LightBlock
	for _, lb := range held {
		if best == nil || abs(lb.Height-m) < abs(best.Height-m) {
			best = lb
		}
	}
	if best != nil {
		return best, nil
	}
	return v.LightBlock(ctx, m)
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
