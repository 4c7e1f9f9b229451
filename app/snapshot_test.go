package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/civicledger/civicledger/app"
	"github.com/civicledger/civicledger/ledger"
)

// chain is a source of identical blocks for several apps.
type chain struct {
	f   *fixture
	txs map[int64][][]byte
}

func newChain(t *testing.T, blocks int64) *chain {
	t.Helper()
	c := &chain{f: newFixture(), txs: map[int64][][]byte{}}
	nonce := uint64(0)
	for h := int64(1); h <= blocks; h++ {
		for i := 0; i < 3; i++ {
			ag := fmt.Sprintf("agency-%d", 1+i%2)
			gid := fmt.Sprintf("G-%d-%d", h, i)
			nonce++
			c.txs[h] = append(c.txs[h], c.f.tx(t, ag, nonce, h+20, award(gid, "500000"), "grants"))
			nonce++
			c.txs[h] = append(c.txs[h], c.f.tx(t, ag, nonce, h+20, payment("P-"+gid, gid, fmt.Sprint(1000+i)), "finance"))
		}
	}
	return c
}

// newSnapshots opens a snapshot store in a temporary directory.
func newSnapshots(t *testing.T, interval int64, keep, chunk int) *app.Snapshots {
	t.Helper()
	s, err := app.OpenSnapshots(filepath.Join(t.TempDir(), "snapshots"), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Interval, s.KeepRecent, s.ChunkSize = interval, keep, chunk
	t.Cleanup(s.Close)
	return s
}

// withSnapshots gives an app the snapshot store s.
func withSnapshots(s *app.Snapshots) func(*app.Options) {
	return func(o *app.Options) { o.Snapshots = s }
}

// run finalizes and commits heights from..to of the chain.
func (c *chain) run(t *testing.T, a *app.App, from, to int64) *abci.ResponseFinalizeBlock {
	t.Helper()
	var last *abci.ResponseFinalizeBlock
	for h := from; h <= to; h++ {
		last = finalize(t, a, h, c.txs[h]...)
		for i, r := range last.TxResults {
			if r.Code != 0 {
				t.Fatalf("height %d tx %d: %s", h, i, r.Log)
			}
		}
	}
	return last
}

func heightsOf(sns []*abci.Snapshot) []uint64 {
	var out []uint64
	for _, sn := range sns {
		out = append(out, sn.Height)
	}
	return out
}

func listSnapshots(t *testing.T, a *app.App) []*abci.Snapshot {
	t.Helper()
	res, err := a.ListSnapshots(context.Background(), &abci.RequestListSnapshots{})
	if err != nil {
		t.Fatal(err)
	}
	return res.Snapshots
}

// chunks loads every chunk of a snapshot and checks it against the
// snapshot's metadata and hash.
func chunks(t *testing.T, a *app.App, sn *abci.Snapshot) [][]byte {
	t.Helper()
	if len(sn.Metadata) != 32*int(sn.Chunks) {
		t.Fatalf("metadata of %d bytes for %d chunks", len(sn.Metadata), sn.Chunks)
	}
	all := sha256.New()
	var out [][]byte
	for i := uint32(0); i < sn.Chunks; i++ {
		res, err := a.LoadSnapshotChunk(context.Background(), &abci.RequestLoadSnapshotChunk{Height: sn.Height, Format: sn.Format, Chunk: i})
		if err != nil || res.Chunk == nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		if h := sha256.Sum256(res.Chunk); !bytes.Equal(h[:], sn.Metadata[32*i:32*(i+1)]) {
			t.Fatalf("chunk %d does not match the metadata", i)
		}
		all.Write(res.Chunk)
		out = append(out, res.Chunk)
	}
	if !bytes.Equal(all.Sum(nil), sn.Hash) {
		t.Fatal("chunks do not give the snapshot hash")
	}
	return out
}

func appHashAt(t *testing.T, a *app.App, h int64) []byte {
	t.Helper()
	v, err := a.Store().At(h)
	if err != nil {
		t.Fatal(err)
	}
	return v.AppHash()
}

func offer(t *testing.T, a *app.App, sn *abci.Snapshot, appHash []byte) abci.ResponseOfferSnapshot_Result {
	t.Helper()
	res, err := a.OfferSnapshot(context.Background(), &abci.RequestOfferSnapshot{Snapshot: sn, AppHash: appHash})
	if err != nil {
		t.Fatal(err)
	}
	return res.Result
}

func apply(t *testing.T, a *app.App, i uint32, chunk []byte, sender string) *abci.ResponseApplySnapshotChunk {
	t.Helper()
	res, err := a.ApplySnapshotChunk(context.Background(), &abci.RequestApplySnapshotChunk{Index: i, Chunk: chunk, Sender: sender})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// restoreAll offers a snapshot and applies all its chunks, expecting success.
func restoreAll(t *testing.T, a *app.App, sn *abci.Snapshot, cs [][]byte, appHash []byte) {
	t.Helper()
	if r := offer(t, a, sn, appHash); r != abci.ResponseOfferSnapshot_ACCEPT {
		t.Fatalf("offer: %v", r)
	}
	for i, c := range cs {
		if r := apply(t, a, uint32(i), c, "peer-1"); r.Result != abci.ResponseApplySnapshotChunk_ACCEPT {
			t.Fatalf("chunk %d: %v", i, r.Result)
		}
	}
}

// TestSnapshotRestore takes snapshots every 3 blocks in small chunks,
// restores the latest into a fresh app on goleveldb, and checks that the
// restored app answers Info, queries and proofs as the source does, survives
// a restart, and computes the same AppHash for the blocks that follow.
func TestSnapshotRestore(t *testing.T) {
	ctx := context.Background()
	c := newChain(t, 12)
	s := newSnapshots(t, 3, 2, 700)
	src := openApp(t, "", withSnapshots(s))
	c.f.initChain(t, src)
	for h := int64(1); h <= 10; h++ {
		c.run(t, src, h, h)
		s.Wait() // a snapshot height reached while one is being written is skipped
	}
	sns := listSnapshots(t, src)
	if len(sns) != 2 || sns[0].Height != 9 || sns[1].Height != 6 {
		t.Fatalf("snapshots kept: %v (want heights 9 and 6)", heightsOf(sns))
	}
	sn := sns[0]
	if sn.Format != app.SnapshotFormat || sn.Chunks < 3 {
		t.Fatalf("snapshot %d: format %d, %d chunks (want several of 700 bytes)", sn.Height, sn.Format, sn.Chunks)
	}
	cs := chunks(t, src, sn)
	for i, ch := range cs {
		if len(ch) > 700 || (i < len(cs)-1 && len(ch) != 700) {
			t.Fatalf("chunk %d has %d bytes", i, len(ch))
		}
	}
	// Another node with the same blocks offers a byte-identical snapshot.
	ts := newSnapshots(t, 9, 1, 700)
	twin := openApp(t, "", withSnapshots(ts))
	c.f.initChain(t, twin)
	c.run(t, twin, 1, 9)
	ts.Wait()
	tsn := listSnapshots(t, twin)
	if len(tsn) != 1 || !bytes.Equal(tsn[0].Hash, sn.Hash) || !bytes.Equal(tsn[0].Metadata, sn.Metadata) {
		t.Fatal("two nodes' snapshots of the same height differ")
	}

	dir := t.TempDir()
	ds := newSnapshots(t, 0, 2, 700)
	dst := openApp(t, dir, withSnapshots(ds))
	trusted := appHashAt(t, src, 9)
	restoreAll(t, dst, sn, cs, trusted)
	info, err := dst.Info(ctx, &abci.RequestInfo{})
	if err != nil || info.LastBlockHeight != 9 || !bytes.Equal(info.LastBlockAppHash, trusted) {
		t.Fatalf("Info after restore: %d %X (%v), want 9 %X", info.LastBlockHeight, info.LastBlockAppHash, err, trusted)
	}
	if entries, _ := os.ReadDir(ds.Dir()); len(entries) != 0 {
		t.Fatalf("restore left files behind: %v", entries)
	}
	for _, q := range []abci.RequestQuery{
		{Path: "/store/grants/key", Data: []byte("G-9-1"), Prove: true},
		{Path: "/store/payments/key", Data: []byte("P-G-4-2"), Prove: true},
		{Path: "/store/grants/key", Data: []byte("G-404"), Prove: true},
		{Path: "/grant/G-2-0"},
		{Path: "/totals/agency-1/EUR", Prove: true},
	} {
		qa, err1 := src.Query(ctx, &abci.RequestQuery{Path: q.Path, Data: q.Data, Prove: q.Prove, Height: 9})
		qb, err2 := dst.Query(ctx, &abci.RequestQuery{Path: q.Path, Data: q.Data, Prove: q.Prove})
		if err1 != nil || err2 != nil || qb.Height != 9 {
			t.Fatalf("query %s: %v %v height %d", q.Path, err1, err2, qb.Height)
		}
		x, _ := qa.Marshal()
		y, _ := qb.Marshal()
		if !bytes.Equal(x, y) {
			t.Fatalf("query %s differs after restore:\n%+v\n%+v", q.Path, qa, qb)
		}
	}
	if q, _ := dst.Query(ctx, &abci.RequestQuery{Path: "/grant/G-1-0", Height: 8}); q.Code == 0 {
		t.Fatal("a restored node has no state before the snapshot height")
	}
	// CheckTx works on the restored state (it knows the chain id and nonces).
	replay := c.txs[9][0]
	if res, err := dst.CheckTx(ctx, &abci.RequestCheckTx{Tx: replay}); err != nil || res.Code != uint32(ledger.ErrNonceReplayed.Code) {
		t.Fatalf("CheckTx of a tx of block 9 after restore: %v %+v", err, res)
	}
	if res, err := dst.CheckTx(ctx, &abci.RequestCheckTx{Tx: c.txs[10][0]}); err != nil || res.Code != 0 {
		t.Fatalf("CheckTx of a new tx after restore: %v %+v", err, res)
	}

	// Restart the restored node from its directory: nothing is lost.
	if err := dst.Store().Close(); err != nil {
		t.Fatal(err)
	}
	dst = openApp(t, dir, withSnapshots(newSnapshots(t, 0, 2, 700)))
	defer dst.Store().Close()
	info, err = dst.Info(ctx, &abci.RequestInfo{})
	if err != nil || info.LastBlockHeight != 9 || !bytes.Equal(info.LastBlockAppHash, trusted) {
		t.Fatalf("Info after restart: %d %X (%v)", info.LastBlockHeight, info.LastBlockAppHash, err)
	}
	// A node that executed the blocks itself (history before 9) refuses
	// even the snapshot of its own height and AppHash.
	if r := offer(t, twin, sn, trusted); r != abci.ResponseOfferSnapshot_REJECT {
		t.Fatalf("offer to a node with history: %v", r)
	}
	// Another snapshot is refused by a node with state.
	if r := offer(t, dst, sns[1], appHashAt(t, src, 6)); r != abci.ResponseOfferSnapshot_REJECT {
		t.Fatalf("offer of snapshot 6 to a node with state: %v", r)
	}
	// The very snapshot it restored is accepted again, checked and not
	// imported: a crash after the import, before CometBFT recorded the end
	// of state sync, makes CometBFT offer snapshots again at restart (the
	// node would be stuck if it refused).
	restoreAll(t, dst, sn, cs, trusted)
	info, err = dst.Info(ctx, &abci.RequestInfo{})
	if err != nil || info.LastBlockHeight != 9 || !bytes.Equal(info.LastBlockAppHash, trusted) {
		t.Fatalf("Info after the snapshot was offered again: %d %X (%v)", info.LastBlockHeight, info.LastBlockAppHash, err)
	}
	c.run(t, src, 11, 12)
	for h := int64(10); h <= 12; h++ {
		res := c.run(t, dst, h, h)
		if want := appHashAt(t, src, h); !bytes.Equal(res.AppHash, want) {
			t.Fatalf("height %d after restore: AppHash %X, source %X", h, res.AppHash, want)
		}
	}
}

// TestOfferSnapshotRefusals: only well-formed offers of format 1 to an
// empty node are accepted.
func TestOfferSnapshotRefusals(t *testing.T) {
	c := newChain(t, 3)
	s := newSnapshots(t, 3, 1, 500)
	src := openApp(t, "", withSnapshots(s))
	c.f.initChain(t, src)
	c.run(t, src, 1, 3)
	s.Wait()
	sn := listSnapshots(t, src)[0]
	trusted := appHashAt(t, src, 3)

	bare := openApp(t, "")
	if r := offer(t, bare, sn, trusted); r != abci.ResponseOfferSnapshot_ABORT {
		t.Fatalf("app without a snapshot directory: %v", r)
	}
	dst := openApp(t, "", withSnapshots(newSnapshots(t, 0, 1, 500)))
	mod := func(f func(s *abci.Snapshot)) *abci.Snapshot {
		cp := *sn
		f(&cp)
		return &cp
	}
	for _, tc := range []struct {
		name string
		sn   *abci.Snapshot
		hash []byte
		want abci.ResponseOfferSnapshot_Result
	}{
		{"nil", nil, trusted, abci.ResponseOfferSnapshot_REJECT},
		{"format 2", mod(func(s *abci.Snapshot) { s.Format = 2 }), trusted, abci.ResponseOfferSnapshot_REJECT_FORMAT},
		{"height 0", mod(func(s *abci.Snapshot) { s.Height = 0 }), trusted, abci.ResponseOfferSnapshot_REJECT},
		{"no chunks", mod(func(s *abci.Snapshot) { s.Chunks = 0; s.Metadata = nil }), trusted, abci.ResponseOfferSnapshot_REJECT},
		{"short metadata", mod(func(s *abci.Snapshot) { s.Metadata = s.Metadata[1:] }), trusted, abci.ResponseOfferSnapshot_REJECT},
		{"chunks beyond metadata", mod(func(s *abci.Snapshot) { s.Chunks++ }), trusted, abci.ResponseOfferSnapshot_REJECT},
		{"huge chunk count", mod(func(s *abci.Snapshot) { s.Chunks = 1 << 31 }), trusted, abci.ResponseOfferSnapshot_REJECT},
		{"short hash", mod(func(s *abci.Snapshot) { s.Hash = s.Hash[:8] }), trusted, abci.ResponseOfferSnapshot_REJECT},
		{"no trusted AppHash", sn, nil, abci.ResponseOfferSnapshot_REJECT},
	} {
		if r := offer(t, dst, tc.sn, tc.hash); r != tc.want {
			t.Fatalf("%s: %v, want %v", tc.name, r, tc.want)
		}
	}
	if r := offer(t, src, sn, trusted); r != abci.ResponseOfferSnapshot_REJECT {
		t.Fatalf("node with state: %v", r)
	}
	if r := apply(t, dst, 0, []byte("x"), "p").Result; r != abci.ResponseApplySnapshotChunk_ABORT {
		t.Fatalf("chunk without an accepted offer: %v", r)
	}
}

// TestApplySnapshotChunkFailures: a corrupt chunk is fetched again from
// another peer; a snapshot whose content does not give the trusted AppHash
// is rejected and leaves nothing behind, and a good one restores afterwards.
func TestApplySnapshotChunkFailures(t *testing.T) {
	c := newChain(t, 4)
	s := newSnapshots(t, 4, 1, 400)
	src := openApp(t, "", withSnapshots(s))
	c.f.initChain(t, src)
	c.run(t, src, 1, 4)
	s.Wait()
	sn := listSnapshots(t, src)[0]
	cs := chunks(t, src, sn)
	trusted := appHashAt(t, src, 4)
	dst := openApp(t, "", withSnapshots(newSnapshots(t, 0, 1, 400)))
	empty := func(what string) {
		t.Helper()
		if v := dst.Store().Version(); v != 0 {
			t.Fatalf("%s: state at version %d", what, v)
		}
		info, _ := dst.Info(context.Background(), &abci.RequestInfo{})
		if info.LastBlockHeight != 0 {
			t.Fatalf("%s: Info height %d", what, info.LastBlockHeight)
		}
	}

	// A corrupt chunk from one peer: refetch it, reject that peer.
	if r := offer(t, dst, sn, trusted); r != abci.ResponseOfferSnapshot_ACCEPT {
		t.Fatal(r)
	}
	if r := apply(t, dst, 0, cs[0], "good"); r.Result != abci.ResponseApplySnapshotChunk_ACCEPT {
		t.Fatal(r.Result)
	}
	bad := bytes.Clone(cs[1])
	bad[10] ^= 1
	r := apply(t, dst, 1, bad, "evil")
	if r.Result != abci.ResponseApplySnapshotChunk_RETRY || len(r.RefetchChunks) != 1 || r.RefetchChunks[0] != 1 ||
		len(r.RejectSenders) != 1 || r.RejectSenders[0] != "evil" {
		t.Fatalf("corrupt chunk: %+v", r)
	}
	if r := apply(t, dst, 0, cs[0], "good"); r.Result != abci.ResponseApplySnapshotChunk_ACCEPT {
		t.Fatalf("re-applied chunk: %v", r.Result)
	}
	for i := 1; i < len(cs); i++ {
		if r := apply(t, dst, uint32(i), cs[i], "good"); r.Result != abci.ResponseApplySnapshotChunk_ACCEPT {
			t.Fatalf("chunk %d: %v", i, r.Result)
		}
	}
	if v := dst.Store().Version(); v != 4 {
		t.Fatalf("restored version %d", v)
	}

	// The same snapshot against a different trusted AppHash is rejected
	// at its first chunk, whose header declares other store roots.
	dst = openApp(t, "", withSnapshots(newSnapshots(t, 0, 1, 400)))
	if r := offer(t, dst, sn, appHashAt(t, src, 3)); r != abci.ResponseOfferSnapshot_ACCEPT {
		t.Fatal(r)
	}
	r = apply(t, dst, 0, cs[0], "liar")
	if r.Result != abci.ResponseApplySnapshotChunk_REJECT_SNAPSHOT || len(r.RejectSenders) != 1 || r.RejectSenders[0] != "liar" {
		t.Fatalf("first chunk of a snapshot that is not the trusted state: %v, senders %v", r.Result, r.RejectSenders)
	}
	if r := apply(t, dst, 1, cs[1], "liar"); r.Result != abci.ResponseApplySnapshotChunk_ABORT {
		t.Fatalf("chunk after the rejection: %v", r.Result)
	}
	empty("wrong AppHash")

	// A forged snapshot whose chunks, metadata and hash agree, but whose
	// content is altered: the imported trees do not give the trusted roots.
	stream := bytes.Join(cs, nil)
	for _, at := range []int{len(stream) / 2, len(stream) - 40} {
		forged := bytes.Clone(stream)
		forged[at] ^= 0x40
		fsn, fcs := cut(sn.Height, forged, 400)
		if r := offer(t, dst, fsn, trusted); r != abci.ResponseOfferSnapshot_ACCEPT {
			t.Fatal(r)
		}
		var last *abci.ResponseApplySnapshotChunk
		for i, ch := range fcs {
			last = apply(t, dst, uint32(i), ch, "forger")
		}
		if last.Result != abci.ResponseApplySnapshotChunk_REJECT_SNAPSHOT {
			t.Fatalf("forged byte %d: %v", at, last.Result)
		}
		empty(fmt.Sprintf("forged byte %d", at))
	}

	// Chunks that match the metadata but not the snapshot hash.
	lying := *sn
	lying.Hash = bytes.Repeat([]byte{1}, 32)
	if r := offer(t, dst, &lying, trusted); r != abci.ResponseOfferSnapshot_ACCEPT {
		t.Fatal(r)
	}
	var last *abci.ResponseApplySnapshotChunk
	for i, ch := range cs {
		last = apply(t, dst, uint32(i), ch, "p")
	}
	if last.Result != abci.ResponseApplySnapshotChunk_REJECT_SNAPSHOT {
		t.Fatalf("wrong snapshot hash: %v", last.Result)
	}
	empty("wrong snapshot hash")

	// A new offer replaces an unfinished restore; the good snapshot restores.
	if r := offer(t, dst, sn, trusted); r != abci.ResponseOfferSnapshot_ACCEPT {
		t.Fatal(r)
	}
	apply(t, dst, 0, cs[0], "p")
	restoreAll(t, dst, sn, cs, trusted)
	info, _ := dst.Info(context.Background(), &abci.RequestInfo{})
	if info.LastBlockHeight != 4 || !bytes.Equal(info.LastBlockAppHash, trusted) {
		t.Fatalf("after failures: %d %X", info.LastBlockHeight, info.LastBlockAppHash)
	}
	if r := apply(t, dst, uint32(len(cs)+3), cs[0], "p"); r.Result != abci.ResponseApplySnapshotChunk_ABORT {
		t.Fatalf("chunk after the restore finished: %v", r.Result)
	}
}

// cut makes the snapshot of a stream as the app would.
func cut(height uint64, stream []byte, size int) (*abci.Snapshot, [][]byte) {
	sn := &abci.Snapshot{Height: height, Format: app.SnapshotFormat}
	var cs [][]byte
	for len(stream) > 0 {
		n := min(size, len(stream))
		cs = append(cs, stream[:n])
		h := sha256.Sum256(stream[:n])
		sn.Metadata = append(sn.Metadata, h[:]...)
		stream = stream[n:]
	}
	all := sha256.Sum256(bytes.Join(cs, nil))
	sn.Hash, sn.Chunks = all[:], uint32(len(cs))
	return sn, cs
}

// TestSnapshotsWhileBlocksFlow takes a snapshot after every block on
// goleveldb while blocks keep coming (run with -race: the export must not
// share IAVL nodes with FinalizeBlock's writes), then restores the newest.
func TestSnapshotsWhileBlocksFlow(t *testing.T) {
	c := newChain(t, 25)
	s := newSnapshots(t, 1, 3, 256)
	src := openApp(t, t.TempDir(), withSnapshots(s))
	defer src.Store().Close()
	c.f.initChain(t, src)
	c.run(t, src, 1, 25)
	s.Close()
	sns := listSnapshots(t, src)
	if len(sns) == 0 || len(sns) > 3 {
		t.Fatalf("%d snapshots kept, want 1 to 3", len(sns))
	}
	sn := sns[0]
	dst := openApp(t, "", withSnapshots(newSnapshots(t, 0, 1, 256)))
	restoreAll(t, dst, sn, chunks(t, src, sn), appHashAt(t, src, int64(sn.Height)))
	// Closed: no new snapshot starts.
	finalize(t, src, 26)
	s.Wait()
	if got := listSnapshots(t, src); got[0].Height != sn.Height {
		t.Fatalf("snapshot %d taken after Close", got[0].Height)
	}
}

// TestSnapshotDirectoryRecovery: leftovers of an interrupted snapshot or
// restore are removed at start, unknown entries are not listed, missing
// chunks are answered as missing, and an interrupted import's state is
// deleted before the state is opened.
func TestSnapshotDirectoryRecovery(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "snapshots")
	for _, d := range []string{".tmp-123", "17", "junk"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ".restore-9"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := app.OpenSnapshots(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{".tmp-123", ".restore-9"} {
		if _, err := os.Stat(filepath.Join(dir, gone)); !os.IsNotExist(err) {
			t.Fatalf("%s left behind", gone)
		}
	}
	a := openApp(t, "", withSnapshots(s))
	if sns := listSnapshots(t, a); len(sns) != 0 {
		t.Fatalf("incomplete snapshot listed: %+v", sns)
	}
	res, err := a.LoadSnapshotChunk(context.Background(), &abci.RequestLoadSnapshotChunk{Height: 17, Format: 1})
	if err != nil || res.Chunk != nil {
		t.Fatalf("chunk of an incomplete snapshot: %v %v", res.Chunk, err)
	}

	called := 0
	remove := func() error { called++; return nil }
	if err := s.RecoverRestore(remove); err != nil || called != 0 {
		t.Fatalf("no marker: %v, called %d", err, called)
	}
	if err := os.WriteFile(filepath.Join(dir, "RESTORING"), []byte("9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.RecoverRestore(remove); err != nil || called != 1 {
		t.Fatalf("marker: %v, called %d", err, called)
	}
	if err := s.RecoverRestore(remove); err != nil || called != 1 {
		t.Fatalf("marker removed: %v, called %d", err, called)
	}
}
