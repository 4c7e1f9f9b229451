package app_test

import (
	"bytes"
	"os"
	"strings"
	"syscall"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/civicledger/civicledger/app"
)

// spoolFiles lists what a restore spooled in a snapshot directory.
func spoolFiles(t *testing.T, s *app.Snapshots) []string {
	t.Helper()
	entries, err := os.ReadDir(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".restore-") {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestHostileSnapshotOffers: an offer whose declared size (chunk count ×
// the 4 MiB chunk limit) exceeds the restore cap or half the free disk is
// refused before anything is spooled; a chunk over the limit (its hash in
// the metadata) rejects the snapshot before it is written; a snapshot
// within the cap restores.
func TestHostileSnapshotOffers(t *testing.T) {
	c := newChain(t, 3)
	s := newSnapshots(t, 3, 1, 500)
	src := openApp(t, "", withSnapshots(s))
	c.f.initChain(t, src)
	c.run(t, src, 1, 3)
	s.Wait()
	sn := listSnapshots(t, src)[0]
	cs := chunks(t, src, sn)
	trusted := appHashAt(t, src, 3)
	if sn.Chunks < 3 {
		t.Fatalf("want a snapshot of several chunks, got %d", sn.Chunks)
	}

	ds := newSnapshots(t, 0, 1, 500)
	dst := openApp(t, "", withSnapshots(ds))

	// More chunks than half the free disk can hold (at most the 100,000
	// chunks any offer may have).
	var st syscall.Statfs_t
	if err := syscall.Statfs(ds.Dir(), &st); err != nil {
		t.Fatal(err)
	}
	free := uint64(st.Bavail) * uint64(st.Bsize)
	n := min(free/(2*app.DefaultSnapshotChunkSize)*3/2+1, 100_000)
	huge := &abci.Snapshot{Height: sn.Height, Format: sn.Format, Chunks: uint32(n), Hash: sn.Hash, Metadata: make([]byte, 32*n)}
	want := abci.ResponseOfferSnapshot_REJECT
	if n*app.DefaultSnapshotChunkSize <= free/2 {
		want = abci.ResponseOfferSnapshot_ACCEPT // a disk of over 800 GB free holds any offer
	}
	if r := offer(t, dst, huge, trusted); r != want {
		t.Fatalf("offer of %d chunks with %d bytes free: %v, want %v", n, free, r, want)
	}
	if want == abci.ResponseOfferSnapshot_REJECT {
		if f := spoolFiles(t, ds); len(f) != 0 {
			t.Fatalf("refused offer spooled %v", f)
		}
	}

	// The operator's cap.
	ds.MaxRestoreBytes = int64(sn.Chunks-1) * app.DefaultSnapshotChunkSize
	if r := offer(t, dst, sn, trusted); r != abci.ResponseOfferSnapshot_REJECT {
		t.Fatalf("offer over the restore cap: %v, want REJECT", r)
	}
	if f := spoolFiles(t, ds); len(f) != 0 {
		t.Fatalf("refused offer spooled %v", f)
	}

	// A first chunk over 4 MiB: a valid stream header, then padding.
	stream := bytes.Join(cs, nil)
	big := append(bytes.Clone(stream), make([]byte, app.DefaultSnapshotChunkSize+1-len(stream))...)
	hostile, hcs := cut(sn.Height, append(big, 'x'), app.DefaultSnapshotChunkSize+1)
	ds.MaxRestoreBytes = 0
	if r := offer(t, dst, hostile, trusted); r != abci.ResponseOfferSnapshot_ACCEPT {
		t.Fatalf("offer of 2 chunks: %v", r)
	}
	res := apply(t, dst, 0, hcs[0], "peer-evil")
	if res.Result != abci.ResponseApplySnapshotChunk_REJECT_SNAPSHOT || len(res.RejectSenders) != 1 || res.RejectSenders[0] != "peer-evil" {
		t.Fatalf("oversize chunk: %v (reject senders %v), want REJECT_SNAPSHOT of peer-evil", res.Result, res.RejectSenders)
	}
	if f := spoolFiles(t, ds); len(f) != 0 {
		t.Fatalf("rejected snapshot left %v", f)
	}

	// Within the cap, the real snapshot restores.
	ds.MaxRestoreBytes = int64(sn.Chunks) * app.DefaultSnapshotChunkSize
	restoreAll(t, dst, sn, cs, trusted)
	if got := appHashAt(t, dst, 3); !bytes.Equal(got, trusted) {
		t.Fatalf("restored AppHash %X, want %X", got, trusted)
	}
}
