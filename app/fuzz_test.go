package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"strings"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/civicledger/civicledger/app"
	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/store"
	"github.com/civicledger/civicledger/ledger/verify"
)

// queryApp returns an app with three committed blocks of state (grants,
// payments, a closed grant) and the AppHash of each height.
func queryApp(tb testing.TB) (*app.App, map[int64][]byte) {
	tb.Helper()
	f := newFixture()
	a := openApp(tb, "")
	f.initChain(tb, a)
	hashes := map[int64][]byte{}
	blocks := [][][]byte{
		{f.tx(tb, "agency-1", 1, 100, award("G-1", "500000"), "grants"),
			f.tx(tb, "agency-2", 1, 100, award("G-2", "700000"), "grants")},
		{f.tx(tb, "agency-1", 1, 100, payment("P-1", "G-1", "1000"), "finance"),
			f.tx(tb, "agency-1", 2, 100, award("G-3", "900"), "grants")},
		{f.tx(tb, "agency-1", 3, 100, &ledger.GrantClose{ID: "G-3", Reason: "done", DocumentHash: doc}, "grants")},
	}
	for i, txs := range blocks {
		h := int64(i + 1)
		res := finalize(tb, a, h, txs...)
		for j, r := range res.TxResults {
			if r.Code != 0 {
				tb.Fatalf("block %d tx %d: %d %s", h, j, r.Code, r.Log)
			}
		}
		hashes[h] = res.AppHash
	}
	return a, hashes
}

// FuzzQuery: Query never panics nor returns an error, whatever the path,
// data, height and prove flag; it answers with one of the documented codes
// (0, ledger.QueryCodeBadRequest, QueryCodeNotFound, QueryCodeNoVersion),
// a path no route starts with QueryCodeBadRequest, a height beyond the
// last committed one with QueryCodeNoVersion, and a refusal with no value. Asking twice gives the same answer (queries read
// committed versions only), and a proved answer of a store key verifies
// against the AppHash of its height with the client's own checks
// (verify.StoreValue). Seeds are every route of the query table with
// realistic data.
func FuzzQuery(f *testing.F) {
	seeds := []struct {
		path string
		data string
	}{
		{ledger.QueryStoreKey(ledger.StoreGrants), "G-1"},
		{ledger.QueryStoreKey(ledger.StorePayments), "P-9"},
		{ledger.QueryRecord(ledger.KindGrant, "G-1"), ""},
		{ledger.QueryRecord(ledger.KindLicence, "L-1"), ""},
		{ledger.QueryRecord(ledger.KindPayment, "P-1"), ""},
		{ledger.QueryRecord(ledger.KindAgency, "agency-1"), ""},
		{ledger.QueryRecords(ledger.KindGrant), `{"agency":"agency-1","status":"awarded","limit":2}`},
		{ledger.QueryRecords(ledger.KindPayment), `{"after":"P-0"}`},
		{ledger.QueryRecords(ledger.KindLicence), `{}`},
		{ledger.QueryGrantPayments("G-1"), `{"limit":1}`},
		{ledger.QueryListing("grants"), `{"owner":"agency-1","limit":1}`},
		{ledger.QueryListing("grant-payments"), `{"owner":"G-1"}`},
		{ledger.QueryListing("agencies"), `{}`},
		{ledger.QueryTotals("agency-1", "EUR"), ""},
		{ledger.QueryAgencies, ""},
		{ledger.QueryParams, ""},
		{ledger.QueryProposalID(1), ""},
		{ledger.QueryProposals, `{"status":"open"}`},
		{ledger.QuerySnapshots, ""},
		{"/nowhere", ""},
	}
	heads := map[string]bool{} // the first segment of every routed path
	for i, s := range seeds {
		f.Add(s.path, []byte(s.data), int64(i%5), i%2 == 0)
		if s.path != "/nowhere" {
			heads[strings.SplitN(strings.TrimPrefix(s.path, "/"), "/", 2)[0]] = true
		}
	}

	a, hashes := queryApp(f)
	latest := int64(len(hashes))
	codes := map[uint32]bool{0: true, ledger.QueryCodeBadRequest: true, ledger.QueryCodeNotFound: true, ledger.QueryCodeNoVersion: true}
	storePrefix, storeSuffix := "/store/", "/key"

	f.Fuzz(func(t *testing.T, path string, data []byte, height int64, prove bool) {
		req := &abci.RequestQuery{Path: path, Data: data, Height: height, Prove: prove}
		res, err := a.Query(context.Background(), req)
		if err != nil {
			t.Fatalf("Query returned an error: %v", err)
		}
		if res == nil {
			t.Fatal("Query returned no answer")
		}
		if !codes[res.Code] {
			t.Fatalf("undocumented code %d (%s) for %q", res.Code, res.Log, path)
		}
		if res.Code != 0 && len(res.Value) > 0 {
			t.Fatalf("code %d with a value", res.Code)
		}
		if height > latest && path != ledger.QuerySnapshots && res.Code != ledger.QueryCodeNoVersion {
			t.Fatalf("height %d beyond %d answered with code %d", height, latest, res.Code)
		}
		if head := strings.SplitN(strings.TrimPrefix(path, "/"), "/", 2)[0]; !heads[head] && height >= 0 && height <= latest &&
			res.Code != ledger.QueryCodeBadRequest {
			t.Fatalf("unrouted path %q answered with code %d", path, res.Code)
		}
		again, err := a.Query(context.Background(), req)
		if err != nil || again.Code != res.Code || !bytes.Equal(again.Value, res.Value) || again.Height != res.Height {
			t.Fatalf("asked twice, answered differently: %v %v", res, again)
		}
		if res.Code != 0 || !prove || res.ProofOps == nil || !strings.HasPrefix(path, storePrefix) || !strings.HasSuffix(path, storeSuffix) {
			return
		}
		st := strings.TrimSuffix(strings.TrimPrefix(path, storePrefix), storeSuffix)
		appHash, ok := hashes[res.Height]
		if !ok {
			t.Fatalf("proof at height %d, not a committed height", res.Height)
		}
		if _, err := verify.StoreValue(appHash, st, data, res.Value, res.ProofOps.Ops); err != nil {
			t.Fatalf("proved answer of %s %q does not verify: %v", st, data, err)
		}
	})
}

// FuzzRestoreChunk: a hostile state-sync snapshot, offered and applied as
// one chunk through the ABCI methods, never panics and never aborts the
// restore: the last chunk either restores exactly the offered height and
// the trusted AppHash or rejects the snapshot, leaving no state and no
// spool file behind, and the app takes the next offer. The input is the
// snapshot stream without its trailing checksum; the target appends it,
// declares the offer from the stream's own header (height, AppHash) and
// the metadata and snapshot hash from the chunk's hash, as a peer crafting
// a snapshot would, so the fuzzer reaches the import. One app serves every
// input until a restore succeeds. Seeds are a real app's snapshot stream.
func FuzzRestoreChunk(f *testing.F) {
	src, _ := queryApp(f)
	var buf bytes.Buffer
	if err := src.Store().Export(src.Store().Version(), &buf); err != nil {
		f.Fatal(err)
	}
	stream := buf.Bytes()
	f.Add(stream[:len(stream)-sha256.Size])
	f.Add(stream[:len(stream)/2])
	f.Add([]byte("CIVSNAP\x00"))

	base := f.TempDir()
	var a *app.App
	var snaps *app.Snapshots
	fresh := func(t *testing.T) {
		dir, err := os.MkdirTemp(base, "restore-")
		if err != nil {
			t.Fatal(err)
		}
		if snaps, err = app.OpenSnapshots(dir, nil); err != nil {
			t.Fatal(err)
		}
		st, err := store.OpenMem(ledger.StoreNames, store.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		o := app.DefaultOptions()
		o.Snapshots = snaps
		if a, err = app.New(st, o); err != nil {
			t.Fatal(err)
		}
	}

	f.Fuzz(func(t *testing.T, body []byte) {
		if a == nil {
			fresh(t)
		}
		sum := sha256.Sum256(body)
		chunk := append(bytes.Clone(body), sum[:]...)
		height, appHash, err := store.PeekSnapshot(chunk)
		if err == nil && height > 1<<12 {
			// A real offer's height is one the light client verified an
			// AppHash for, and IAVL's importer allocates 4 bytes per version
			// below it: an offer of height 10^10 with a matching trusted
			// AppHash cannot happen, and would only exhaust the fuzzer.
			return
		}
		if err != nil || height <= 0 {
			height, appHash = 1, sum[:]
		}
		chunkSum := sha256.Sum256(chunk) // one chunk: its hash is the metadata and the snapshot's hash
		sn := &abci.Snapshot{Height: uint64(height), Format: app.SnapshotFormat, Chunks: 1, Hash: chunkSum[:], Metadata: chunkSum[:]}

		if r := offer(t, a, sn, appHash); r != abci.ResponseOfferSnapshot_ACCEPT {
			t.Fatalf("well-formed offer refused: %v", r)
		}
		res := apply(t, a, 0, chunk, "peer-1")
		switch res.Result {
		case abci.ResponseApplySnapshotChunk_ACCEPT:
			info, err := a.Info(context.Background(), &abci.RequestInfo{})
			if err != nil {
				t.Fatal(err)
			}
			if info.LastBlockHeight != height || !bytes.Equal(info.LastBlockAppHash, appHash) {
				t.Fatalf("restored height %d AppHash %X; offered %d %X", info.LastBlockHeight, info.LastBlockAppHash, height, appHash)
			}
			a.Close()
			snaps.Close()
			a = nil // the next input needs an empty state
		case abci.ResponseApplySnapshotChunk_REJECT_SNAPSHOT:
			if v := a.Store().Version(); v != 0 {
				t.Fatalf("rejected snapshot left version %d", v)
			}
		default:
			t.Fatalf("chunk answered %v", res.Result)
		}
		if files := spoolFiles(t, snaps); len(files) > 0 {
			t.Fatalf("spool files left: %v", files)
		}
	})
}
