package node

import (
	"fmt"
	"slices"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtcfg "github.com/cometbft/cometbft/config"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	sm "github.com/cometbft/cometbft/state"
	blockidx "github.com/cometbft/cometbft/state/indexer/block"
	"github.com/cometbft/cometbft/state/txindex"
	cmtstore "github.com/cometbft/cometbft/store"
	cmttypes "github.com/cometbft/cometbft/types"
)

// gap is a committed height whose block events, or txs, or both, the kv
// indexer never wrote.
type gap struct {
	height     int64
	block, txs bool
}

// checkWindow is how many of the last blocks reindexTail checks one by one
// at every start, whatever it finds in them.
const checkWindow = 100

// maxReindex bounds how many blocks below the last committed one
// reindexTail looks at: an unclean stop loses at most the blocks whose
// events the indexer had not yet written, a handful.
const maxReindex = 1000

// reindexTail indexes the transactions and block events of the last blocks
// that the node committed but whose events its kv indexer never wrote.
// CometBFT's indexer runs behind block execution, from the event bus: a node
// killed after it saved the state of block H but before the indexer wrote
// H has H in its block store and state, and never indexes it (no block is
// replayed at start), so `tx` and `tx_search` on that node would never find
// H's transactions. Before CometBFT opens its stores, this reads each such
// block and its stored FinalizeBlock results and indexes them, as
// `cometbft reindex-event` does by hand. It does nothing for the psql sink
// (an auditor node's database is written in the same way, but its gaps are
// for the operator to repair) or when no index is kept.
func reindexTail(cfg *Config, logger cmtlog.Logger) error {
	if cfg.TxIndex.Indexer != "kv" {
		return nil
	}
	dbs := &dbTracker{}
	defer dbs.closeAll()
	bdb, err := dbs.provide(&cmtcfg.DBContext{ID: "blockstore", Config: cfg.Config})
	if err != nil {
		return err
	}
	sdb, err := dbs.provide(&cmtcfg.DBContext{ID: "state", Config: cfg.Config})
	if err != nil {
		return err
	}
	bs := cmtstore.NewBlockStore(bdb)
	ss := sm.NewStore(sdb, sm.StoreOptions{DiscardABCIResponses: cfg.Storage.DiscardABCIResponses})
	st, err := ss.Load()
	if err != nil {
		return fmt.Errorf("tx index check: state: %w", err)
	}
	if st.IsEmpty() || st.LastBlockHeight < 1 {
		return nil
	}
	txIdx, blkIdx, err := blockidx.IndexerFromConfig(cfg.Config, dbs.provide, st.ChainID)
	if err != nil {
		return fmt.Errorf("tx index check: %w", err)
	}
	// Walk down from the last committed block: through the last
	// checkWindow blocks, then on to the first one fully indexed.
	// CometBFT's indexer writes a block's events, then its txs, in two
	// writes: a write that fails (a full disk) or a kill between them leaves
	// a block whose events are indexed but whose txs are not, so both are
	// checked; and as the indexer goes on after a failed write, a block left
	// out can lie below blocks indexed after it. A block's txs are written
	// in one batch: if its last tx is there, all are.
	var missing []gap
	top := st.LastBlockHeight
	for h := top; h >= max(bs.Base(), 1) && len(missing) < maxReindex; h-- {
		hasBlock, err := blkIdx.Has(h)
		if err != nil {
			return fmt.Errorf("tx index check at height %d: %w", h, err)
		}
		// The block itself is read only when its meta says it has txs
		// (reading a full block costs milliseconds; most blocks of a quiet
		// chain are empty heartbeats).
		hasTxs := true
		var block *cmttypes.Block
		if meta := bs.LoadBlockMeta(h); meta != nil && meta.NumTxs > 0 {
			block = bs.LoadBlock(h)
		}
		if block != nil && len(block.Txs) > 0 {
			res, err := txIdx.Get(block.Txs[len(block.Txs)-1].Hash())
			if err != nil {
				return fmt.Errorf("tx index check at height %d: %w", h, err)
			}
			hasTxs = res != nil
		}
		if hasBlock && hasTxs {
			if h <= top-checkWindow {
				break
			}
			continue
		}
		missing = append(missing, gap{height: h, block: !hasBlock, txs: !hasTxs})
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Reverse(missing)
	var done []int64
	for _, g := range missing {
		h := g.height
		// A block without its stored results cannot be indexed: the height
		// a state-synced node started from (restored from a snapshot, never
		// executed here), or results discarded by configuration. Such a
		// height is left out, as it always was.
		block := bs.LoadBlock(h)
		if block == nil {
			continue
		}
		resp, err := ss.LoadFinalizeBlockResponse(h)
		if err != nil || len(resp.TxResults) != len(block.Txs) {
			continue
		}
		// Only the part that is missing is written: the kv indexers number
		// event keys from a per-process counter, so indexing a block's
		// events a second time would store them twice.
		if g.txs {
			batch := txindex.NewBatch(int64(len(block.Txs)))
			for i, res := range resp.TxResults {
				if err := batch.Add(&abci.TxResult{Height: h, Index: uint32(i), Tx: block.Txs[i], Result: *res}); err != nil {
					return fmt.Errorf("tx index repair at height %d: %w", h, err)
				}
			}
			if err := txIdx.AddBatch(batch); err != nil {
				return fmt.Errorf("tx index repair at height %d: %w", h, err)
			}
		}
		if g.block {
			if err := blkIdx.Index(cmttypes.EventDataNewBlockEvents{Height: h, Events: resp.Events, NumTxs: int64(len(block.Txs))}); err != nil {
				return fmt.Errorf("block index repair at height %d: %w", h, err)
			}
		}
		done = append(done, h)
	}
	if len(done) > 0 {
		logger.Info("indexed blocks the tx index missed after an unclean stop", "module", "txindex", "from", done[0], "to", done[len(done)-1], "blocks", len(done))
	}
	return nil
}
