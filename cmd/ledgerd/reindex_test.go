package main

import (
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestReindexTailAfterLostIndex: a validator whose kv tx index lacks its
// last blocks — as after a kill between the state save of a block and the
// indexer's write of it, which TestCrashPoints met; here the whole index is
// removed while the node is down — indexes them again when it starts: the
// committed tx is found by hash on that node, at its height with code 0.
// Before, such a node never indexed those blocks.
func TestReindexTailAfterLostIndex(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	procs, tn, clients := liveNet(t, ctx, "civic-reindex")
	o := liveSigner(t, tn, 0)
	tx, err := o.award(ctx, clients[0], "G-REINDEX", true)
	if err != nil {
		t.Fatal(err)
	}
	liveKill(t, procs, 0)
	idx := filepath.Join(tn.Agencies[0].Home, "data", "tx_index.db")
	if _, err := os.Stat(idx); err != nil {
		t.Fatalf("no kv index where expected: %v", err)
	}
	if err := os.RemoveAll(idx); err != nil {
		t.Fatal(err)
	}
	liveRestart(t, ctx, procs, tn, 0)
	hash, _ := hex.DecodeString(tx.Hash)
	res, err := liveLookupTx(ctx, clients[0], hash)
	if err != nil {
		t.Fatalf("committed tx %s (height %d) not found on the restarted node: %v", tx.Hash, tx.Height, err)
	}
	if res.Height != tx.Height || res.TxResult.Code != 0 {
		t.Fatalf("reindexed tx at height %d code %d, committed at %d code 0", res.Height, res.TxResult.Code, tx.Height)
	}
	log, err := os.ReadFile(filepath.Join(tn.Agencies[0].Home, "node.log"))
	if err != nil {
		t.Fatal(err)
	}
	if len(liveMatching([]string{string(log)}, "indexed blocks the tx index missed after an unclean stop")) == 0 {
		t.Fatal("the node's log does not say that it indexed the missing blocks")
	}
}
