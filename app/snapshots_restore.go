package app

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/libs/log"

	"github.com/civicledger/civicledger/ledger/store"
)

// The restore side of the snapshot store: a snapshot offered by peers is
// checked against the trusted AppHash, spooled chunk by chunk and imported
// into the (empty) store. The App calls offer and applyChunk holding its mu,
// so at most one restore runs, and logs through logger (the App's).

// restore is a snapshot being received: its chunks are checked and spooled
// to a file in order; the last one triggers the import.
type restore struct {
	snapshot *abci.Snapshot
	appHash  []byte   // light-client verified
	hashes   [][]byte // per chunk, from the metadata
	next     uint32   // index of the next chunk to append
	spool    *os.File
	written  int64 // bytes spooled
	limit    int64 // most bytes the offer allows spooling
	sum      hash.Hash
	senders  []string
	// already: the state holds this very snapshot (a crash came after the
	// import, before CometBFT recorded the end of state sync); the chunks
	// are checked, not imported again.
	already bool
}

// close drops the restore's spool file.
func (r *restore) close() {
	if r == nil || r.spool == nil {
		return
	}
	name := r.spool.Name()
	_ = r.spool.Close()
	_ = os.Remove(name)
	r.spool = nil
}

// decodeChunkHashes splits snapshot metadata into its chunk hashes.
func decodeChunkHashes(meta []byte, chunks uint32) ([][]byte, error) {
	if chunks == 0 || chunks > maxSnapshotChunks {
		return nil, fmt.Errorf("%d chunks", chunks)
	}
	if len(meta) != sha256.Size*int(chunks) {
		return nil, fmt.Errorf("metadata of %d bytes for %d chunks", len(meta), chunks)
	}
	out := make([][]byte, chunks)
	for i := range out {
		out[i] = meta[i*sha256.Size : (i+1)*sha256.Size]
	}
	return out, nil
}

// offer starts restoring the offered snapshot into st when st has no state
// yet (nothing committed), the format is ours and the metadata is well
// formed, and answers OfferSnapshot. req.AppHash is the AppHash that
// CometBFT's light client verified for the snapshot's height: the restored
// state must match it.
func (s *Snapshots) offer(st *store.MultiStore, req *abci.RequestOfferSnapshot, logger log.Logger) *abci.ResponseOfferSnapshot {
	reject := func(result abci.ResponseOfferSnapshot_Result, why string) *abci.ResponseOfferSnapshot {
		logger.Info("snapshot refused", "why", why, "result", result.String())
		return &abci.ResponseOfferSnapshot{Result: result}
	}
	s.restore.close() // a new offer replaces any earlier restore
	s.restore = nil
	sn := req.Snapshot
	switch {
	case sn == nil:
		return reject(abci.ResponseOfferSnapshot_REJECT, "no snapshot")
	case sn.Format != SnapshotFormat:
		return reject(abci.ResponseOfferSnapshot_REJECT_FORMAT, fmt.Sprintf("format %d", sn.Format))
	case st.Version() != 0 && !holds(st, sn, req.AppHash):
		return reject(abci.ResponseOfferSnapshot_REJECT, fmt.Sprintf("the state already holds height %d", st.Version()))
	case sn.Height == 0 || sn.Height > math.MaxInt64:
		return reject(abci.ResponseOfferSnapshot_REJECT, fmt.Sprintf("height %d", sn.Height))
	case len(sn.Hash) != sha256.Size:
		return reject(abci.ResponseOfferSnapshot_REJECT, "hash is not a sha256")
	case len(req.AppHash) != sha256.Size:
		return reject(abci.ResponseOfferSnapshot_REJECT, "no trusted AppHash")
	}
	hashes, err := decodeChunkHashes(sn.Metadata, sn.Chunks)
	if err != nil {
		return reject(abci.ResponseOfferSnapshot_REJECT, "metadata: "+err.Error())
	}
	// The offer declares its size: at most Chunks chunks of at most
	// DefaultSnapshotChunkSize bytes (no node cuts larger ones). Refuse
	// before spooling a byte what the operator's cap or the disk cannot
	// hold: the spool and the imported state each need about that much.
	limit := int64(sn.Chunks) * DefaultSnapshotChunkSize
	if s.MaxRestoreBytes > 0 && limit > s.MaxRestoreBytes {
		return reject(abci.ResponseOfferSnapshot_REJECT, fmt.Sprintf("%d chunks may hold up to %d bytes, over the restore cap of %d bytes", sn.Chunks, limit, s.MaxRestoreBytes))
	}
	if free, ok, err := diskFree(s.dir); err != nil {
		logger.Error("cannot read the free disk space for a snapshot", "err", err)
		return &abci.ResponseOfferSnapshot{Result: abci.ResponseOfferSnapshot_ABORT}
	} else if ok && uint64(limit) > free/2 {
		return reject(abci.ResponseOfferSnapshot_REJECT, fmt.Sprintf("%d chunks may hold up to %d bytes; the spool and the imported state need twice that, and %s has %d bytes free", sn.Chunks, limit, s.dir, free))
	}
	spool, err := os.CreateTemp(s.dir, ".restore-")
	if err != nil {
		logger.Error("cannot spool a snapshot", "err", err)
		return &abci.ResponseOfferSnapshot{Result: abci.ResponseOfferSnapshot_ABORT}
	}
	s.restore = &restore{snapshot: sn, appHash: bytes.Clone(req.AppHash), hashes: hashes, spool: spool, sum: sha256.New(),
		limit: limit, already: st.Version() != 0}
	logger.Info("restoring state-sync snapshot", "height", sn.Height, "chunks", sn.Chunks)
	return &abci.ResponseOfferSnapshot{Result: abci.ResponseOfferSnapshot_ACCEPT}
}

// applyChunk checks a chunk against the offered metadata (a bad one is
// fetched again from another peer, and its sender rejected), spools it, and
// after the last one imports the state into st and checks it against the
// trusted AppHash; a snapshot that fails is rejected and nothing of it
// stays. It answers ApplySnapshotChunk and, once st holds the snapshot,
// returns its height (0 before). A nil Snapshots has no restore in
// progress.
func (s *Snapshots) applyChunk(st *store.MultiStore, req *abci.RequestApplySnapshotChunk, logger log.Logger) (*abci.ResponseApplySnapshotChunk, int64) {
	var r *restore
	if s != nil {
		r = s.restore
	}
	result := func(res abci.ResponseApplySnapshotChunk_Result) (*abci.ResponseApplySnapshotChunk, int64) {
		return &abci.ResponseApplySnapshotChunk{Result: res}, 0
	}
	if r == nil {
		logger.Error("snapshot chunk without an accepted snapshot", "index", req.Index)
		return result(abci.ResponseApplySnapshotChunk_ABORT)
	}
	if req.Index >= uint32(len(r.hashes)) {
		return s.rejectRestore(logger, fmt.Sprintf("chunk index %d of %d", req.Index, len(r.hashes)), nil)
	}
	if len(req.Chunk) == 0 || len(req.Chunk) > DefaultSnapshotChunkSize {
		// Its hash is in the metadata, so the snapshot itself is bad: no
		// node cuts empty chunks or chunks over the chunk size.
		if sum := sha256.Sum256(req.Chunk); bytes.Equal(sum[:], r.hashes[req.Index]) {
			return s.rejectRestore(logger, fmt.Sprintf("chunk %d holds %d bytes (1 to %d allowed)", req.Index, len(req.Chunk), DefaultSnapshotChunkSize), senders(req.Sender))
		}
	}
	if sum := sha256.Sum256(req.Chunk); !bytes.Equal(sum[:], r.hashes[req.Index]) {
		logger.Info("snapshot chunk does not match its hash: fetching it again", "index", req.Index, "sender", req.Sender)
		res := &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_RETRY, RefetchChunks: []uint32{req.Index}}
		if req.Sender != "" {
			res.RejectSenders = []string{req.Sender}
		}
		return res, 0
	}
	if req.Index == 0 && r.next == 0 {
		// Refuse at once a stream whose header does not claim the trusted
		// state, rather than after spooling all of it.
		v, h, err := store.PeekSnapshot(req.Chunk)
		switch {
		case errors.Is(err, store.ErrShortHeader):
			// A tiny chunk size: the full check after the last chunk decides.
		case err != nil:
			return s.rejectRestore(logger, "chunk 0: "+err.Error(), senders(req.Sender))
		case v != int64(r.snapshot.Height) || !bytes.Equal(h, r.appHash):
			return s.rejectRestore(logger, fmt.Sprintf("chunk 0 declares height %d AppHash %X; trusted: height %d AppHash %X", v, h, r.snapshot.Height, r.appHash), senders(req.Sender))
		}
	}
	switch {
	case req.Index < r.next:
		return result(abci.ResponseApplySnapshotChunk_ACCEPT) // applied already
	case req.Index > r.next:
		// CometBFT applies chunks in order; start over rather than guess.
		logger.Error("snapshot chunk out of order", "index", req.Index, "expected", r.next)
		return result(abci.ResponseApplySnapshotChunk_RETRY_SNAPSHOT)
	}
	if r.written+int64(len(req.Chunk)) > r.limit {
		return s.rejectRestore(logger, fmt.Sprintf("chunk %d would spool %d bytes, over the %d the snapshot declared", req.Index, r.written+int64(len(req.Chunk)), r.limit), senders(req.Sender))
	}
	if _, err := r.spool.Write(req.Chunk); err != nil {
		logger.Error("cannot spool a snapshot chunk", "err", err)
		r.close()
		s.restore = nil
		return result(abci.ResponseApplySnapshotChunk_ABORT)
	}
	r.written += int64(len(req.Chunk))
	r.sum.Write(req.Chunk)
	r.next++
	if req.Sender != "" && !slices.Contains(r.senders, req.Sender) {
		r.senders = append(r.senders, req.Sender)
	}
	if r.next < uint32(len(r.hashes)) {
		return result(abci.ResponseApplySnapshotChunk_ACCEPT)
	}
	if !bytes.Equal(r.sum.Sum(nil), r.snapshot.Hash) {
		return s.rejectRestore(logger, "the chunks do not give the snapshot's hash", r.senders)
	}
	if r.already {
		r.close()
		s.restore = nil
		logger.Info("state-sync snapshot already restored before a restart", "height", r.snapshot.Height)
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_ACCEPT}, int64(r.snapshot.Height)
	}
	return s.importSnapshot(st, r, logger)
}

func senders(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// holds reports whether st is exactly the offered snapshot's state: its
// only committed version is the snapshot's height, with the trusted AppHash.
// That is a node that restored the snapshot and crashed before CometBFT
// recorded the end of state sync; CometBFT then offers snapshots again.
func holds(st *store.MultiStore, sn *abci.Snapshot, appHash []byte) bool {
	if sn == nil || int64(sn.Height) != st.Version() {
		return false
	}
	if _, err := st.At(st.Version() - 1); err == nil {
		return false // history before it: this node did not start from a snapshot
	}
	h, err := st.LastHash()
	return err == nil && bytes.Equal(h, appHash)
}

// rejectRestore drops the restore in progress and rejects its snapshot.
func (s *Snapshots) rejectRestore(logger log.Logger, why string, senders []string) (*abci.ResponseApplySnapshotChunk, int64) {
	logger.Error("state-sync snapshot rejected", "why", why)
	s.restore.close()
	s.restore = nil
	return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_REJECT_SNAPSHOT, RejectSenders: senders}, 0
}

// importSnapshot imports the spooled stream into the (empty) store st and
// checks it against the trusted AppHash. A marker file lives in the
// snapshot directory while the import writes, so that a crash in between
// deletes the partial state at the next start (RecoverRestore).
func (s *Snapshots) importSnapshot(st *store.MultiStore, r *restore, logger log.Logger) (*abci.ResponseApplySnapshotChunk, int64) {
	height := int64(r.snapshot.Height)
	abort := func(err error) (*abci.ResponseApplySnapshotChunk, int64) {
		logger.Error("state-sync restore failed", "height", height, "err", err)
		r.close()
		s.restore = nil
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_ABORT}, 0
	}
	if _, err := r.spool.Seek(0, io.SeekStart); err != nil {
		return abort(err)
	}
	marker := filepath.Join(s.dir, restoreMarkerFile)
	if err := writeFileSync(marker, []byte(strconv.FormatInt(height, 10)+"\n")); err != nil {
		return abort(err)
	}
	if err := syncDir(s.dir); err != nil {
		return abort(err)
	}
	start := time.Now()
	err := st.ImportChecked(height, bufio.NewReaderSize(r.spool, 1<<20), r.appHash)
	if err == nil {
		var got []byte
		if got, err = st.LastHash(); err == nil && !bytes.Equal(got, r.appHash) {
			err = fmt.Errorf("%w: restored AppHash %X, trusted %X", store.ErrBadSnapshot, got, r.appHash)
			if derr := st.DiscardImport(); derr != nil {
				return abort(errors.Join(err, derr))
			}
		}
	}
	if err != nil {
		if !errors.Is(err, store.ErrBadSnapshot) {
			return abort(err) // storage failure; the marker stays: the state is wiped at the next start
		}
		_ = os.Remove(marker) // the import wiped what it wrote
		return s.rejectRestore(logger, err.Error(), r.senders)
	}
	if err := os.Remove(marker); err != nil {
		return abort(err)
	}
	_ = syncDir(s.dir)
	r.close()
	s.restore = nil
	logger.Info("state-sync snapshot restored", "height", height, "app_hash", fmt.Sprintf("%X", r.appHash),
		"took", time.Since(start).Round(time.Millisecond))
	return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_ACCEPT}, height
}
