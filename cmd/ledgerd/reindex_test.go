package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"

	"github.com/civicledger/civicledger/client"
)

// TestReindexTailAfterLostIndex: a validator whose kv tx index lacks its
// last blocks — as after a kill between the state save of a block and the
// indexer's write of it, which TestCrashPoints met; here the whole index is
// removed while the node is down — indexes them again when it starts: the
// committed tx is found by hash on that node, at its height with code 0.
// Before, such a node never indexed those blocks.
//
// Then the partial case: a write that fails (a full disk) between the
// indexer's two writes of a block leaves the block's events indexed and its
// txs not, which the first version of the check took for a fully indexed
// block. The restarted node must index that block's txs.
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
	checkIndexed(t, ctx, tn.Agencies[0].Home, clients[0], tx, 1)

	// The partial case: the last block's txs are gone, its events stay.
	tx2, err := o.award(ctx, clients[0], "G-REINDEX-2", true)
	if err != nil {
		t.Fatal(err)
	}
	liveWaitHeights(t, ctx, clients[:1], tx2.Height+1, 30*time.Second, "the block after the second tx")
	liveKill(t, procs, 0)
	hash2, _ := hex.DecodeString(tx2.Hash)
	last := dropTxKeys(t, idx, hash2)
	liveRestart(t, ctx, procs, tn, 0)
	if last < tx2.Height {
		t.Fatalf("the index's highest block is %d, below the second tx's %d", last, tx2.Height)
	}
	checkIndexed(t, ctx, tn.Agencies[0].Home, clients[0], tx2, 2)
}

// checkIndexed asserts that the node finds the committed tx by hash, at its
// height with code 0, and that its log says, for the logLines-th time, that
// it indexed missed blocks.
func checkIndexed(t *testing.T, ctx context.Context, home string, c *client.Client, tx liveTx, logLines int) {
	t.Helper()
	hash, _ := hex.DecodeString(tx.Hash)
	res, err := liveLookupTx(ctx, c, hash)
	if err != nil {
		t.Fatalf("committed tx %s (height %d) not found on the restarted node: %v", tx.Hash, tx.Height, err)
	}
	if res.Height != tx.Height || res.TxResult.Code != 0 {
		t.Fatalf("reindexed tx at height %d code %d, committed at %d code 0", res.Height, res.TxResult.Code, tx.Height)
	}
	log, err := os.ReadFile(filepath.Join(home, "node.log"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(liveMatching(strings.Split(string(log), "\n"), "indexed blocks the tx index missed after an unclean stop")); n != logLines {
		t.Fatalf("the node's log says %d times that it indexed missing blocks, want %d", n, logLines)
	}
}

// dropTxKeys deletes from the kv tx index at dir every key of the tx with
// the given hash (its record, and the height and event keys that point to
// it), leaving the block events, and returns the highest height whose block
// events the index holds.
func dropTxKeys(t *testing.T, dir string, hash []byte) int64 {
	t.Helper()
	db, err := leveldb.OpenFile(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	it := db.NewIterator(nil, nil)
	var drop [][]byte
	var top int64
	for it.Next() {
		k, v := it.Key(), it.Value()
		switch {
		case bytes.Equal(k, hash) || bytes.Equal(v, hash):
			drop = append(drop, bytes.Clone(k))
		case bytes.HasPrefix(k, []byte("block_events")):
			if h, n := binary.Varint(v); n == len(v) {
				top = max(top, h)
			}
		}
	}
	it.Release()
	if err := it.Error(); err != nil {
		t.Fatal(err)
	}
	if len(drop) < 2 {
		t.Fatalf("found %d keys of tx %X in the index, want its record and its height key at least", len(drop), hash)
	}
	for _, k := range drop {
		if err := db.Delete(k, &opt.WriteOptions{Sync: true}); err != nil {
			t.Fatal(err)
		}
	}
	return top
}
