package app

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/libs/log"

	"github.com/civicledger/civicledger/ledger/store"
)

// State-sync snapshots (ABCI ListSnapshots, LoadSnapshotChunk,
// OfferSnapshot, ApplySnapshotChunk).
//
// A snapshot of height H is the store's export stream of version H (see
// store.MultiStore.Export: a deterministic function of the state), cut into
// chunks of ChunkSize bytes. Snapshot.Hash is the sha256 of the whole stream
// and Snapshot.Metadata the chunks' sha256 hashes, concatenated in order (32
// bytes each), so that every node of the network offers byte-identical
// snapshots of a height and a restoring node checks every chunk as it
// arrives, whoever sent it. The state is trusted only through the AppHash
// that CometBFT's light client verified (RequestOfferSnapshot.AppHash): the
// stream's declared store roots must give it before anything is written, and
// the imported trees must give those roots.
//
// Before a byte is spooled, an offer's declared size (its chunk count times
// DefaultSnapshotChunkSize, the largest chunk any node cuts) must stay within
// Snapshots.MaxRestoreBytes and half the free disk space (the spool and the
// imported state each need about that much); a chunk over the chunk size
// whose hash the metadata lists rejects the snapshot before it is written,
// and the spool never grows past the declared size.
//
// On disk, under the snapshot directory (<home>/data/snapshots):
//
//	<height>/chunk-000000 …   the chunks
//	<height>/snapshot.json    SnapshotInfo
//
// A snapshot is written in a temporary directory (.tmp-*) and renamed into
// place when complete, so a crash never leaves a partial snapshot listed.
//
// Taking a snapshot: Commit starts it in a goroutine and returns. The export
// reads IAVL trees of its own over the database, never the app's working
// trees (IAVL shares node objects between committed versions and the working
// tree, and FinalizeBlock writes into them), so it runs concurrently with
// later blocks without a race and without holding the app's lock; versions
// are never pruned under it. One snapshot is written at a time: a snapshot
// height reached while the previous one is still being written is skipped.
const (
	// SnapshotFormat is the only snapshot format: the store's stream format
	// 1 in chunks.
	SnapshotFormat = 1
	// DefaultSnapshotChunkSize is the largest chunk: 4 MiB (CometBFT's
	// chunk messages are limited to 16 MB).
	DefaultSnapshotChunkSize = 4 << 20
	// maxSnapshotChunks bounds the chunks of an offered snapshot (16 TB of
	// state at the default chunk size); the metadata of that many chunks
	// still fits CometBFT's 4 MB snapshot message.
	maxSnapshotChunks = 100_000
	snapshotInfoFile  = "snapshot.json"
	restoreMarkerFile = "RESTORING"
)

// SnapshotInfo is a snapshot's snapshot.json.
type SnapshotInfo struct {
	Height      uint64   `json:"height"`
	Format      uint32   `json:"format"`
	Chunks      uint32   `json:"chunks"`
	Bytes       int64    `json:"bytes"`
	Hash        string   `json:"hash"`         // sha256 of the stream, hex
	ChunkHashes []string `json:"chunk_hashes"` // sha256 of each chunk, hex
	AppHash     string   `json:"app_hash"`     // the state's AppHash (in header height+1), hex
}

// Snapshots keeps a node's state-sync snapshots in a directory and restores
// a snapshot offered by peers. Set Interval, KeepRecent and ChunkSize before
// the first block.
type Snapshots struct {
	// Interval: a snapshot is taken after every Commit of a height that is
	// a multiple of Interval (0: never; restoring works regardless).
	Interval int64
	// KeepRecent: the number of most recent snapshots kept; older ones are
	// deleted (0 keeps every snapshot).
	KeepRecent int
	// ChunkSize is the largest chunk in bytes (DefaultSnapshotChunkSize).
	// Every node must use the same size to offer identical snapshots.
	ChunkSize int
	// MaxRestoreBytes caps the bytes a restore may spool (0: no cap but
	// the free disk space; see OfferSnapshot).
	MaxRestoreBytes int64

	dir    string
	logger log.Logger

	mu     sync.Mutex // guards the directory's contents, taking and closed
	taking bool
	closed bool
	wg     sync.WaitGroup

	// restore is the restore in progress: used only by OfferSnapshot and
	// ApplySnapshotChunk, which hold the App's mu.
	restore *restore
}

// OpenSnapshots opens (creating it if needed) the snapshot directory dir and
// removes what an interrupted snapshot or restore left in it.
func OpenSnapshots(dir string, logger log.Logger) (*Snapshots, error) {
	if logger == nil {
		logger = log.NewNopLogger()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("snapshot directory: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("snapshot directory: %w", err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") || strings.HasPrefix(e.Name(), ".restore-") {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return nil, fmt.Errorf("snapshot directory: %w", err)
			}
		}
	}
	return &Snapshots{dir: dir, logger: logger, KeepRecent: 2, ChunkSize: DefaultSnapshotChunkSize}, nil
}

// Dir is the snapshot directory.
func (s *Snapshots) Dir() string { return s.dir }

// RecoverRestore handles a restore that a crash interrupted while it was
// importing: such a partial state cannot be opened, so removeState deletes
// it (before the state is opened) and state sync starts again from empty
// state. It does nothing otherwise.
func (s *Snapshots) RecoverRestore(removeState func() error) error {
	marker := filepath.Join(s.dir, restoreMarkerFile)
	if _, err := os.Stat(marker); err != nil {
		return nil
	}
	s.logger.Error("a state-sync restore was interrupted: deleting its partial state")
	if err := removeState(); err != nil {
		return fmt.Errorf("remove the state of an interrupted restore: %w", err)
	}
	return os.Remove(marker)
}

// Close waits for a snapshot being written; none starts after it. Call it
// before closing the store. A nil Snapshots is fine.
func (s *Snapshots) Close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.wg.Wait()
}

// Wait waits for a snapshot being written (tests).
func (s *Snapshots) Wait() { s.wg.Wait() }

// snapshotAfterCommit starts the snapshot of a just committed height when it
// is due. Caller holds a.mu.
func (a *App) snapshotAfterCommit(version int64, appHash []byte) {
	s := a.Snapshots
	if s == nil || s.Interval <= 0 || version%s.Interval != 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if s.taking {
		s.logger.Info("snapshot skipped: the previous one is still being written", "height", version)
		return
	}
	s.taking = true
	s.wg.Add(1)
	st, chunk, keep := a.store, s.ChunkSize, s.KeepRecent
	if chunk <= 0 || chunk > DefaultSnapshotChunkSize {
		chunk = DefaultSnapshotChunkSize
	}
	go func() {
		defer s.wg.Done()
		start := time.Now()
		info, err := s.create(st, version, appHash, chunk, keep)
		s.mu.Lock()
		s.taking = false
		s.mu.Unlock()
		if err != nil {
			s.logger.Error("state-sync snapshot failed", "height", version, "err", err)
			return
		}
		s.logger.Info("state-sync snapshot written", "height", version, "chunks", info.Chunks,
			"bytes", info.Bytes, "took", time.Since(start).Round(time.Millisecond))
	}()
}

// create writes the snapshot of version into a temporary directory, renames
// it into place and deletes the snapshots beyond the keep most recent.
func (s *Snapshots) create(st *store.MultiStore, version int64, appHash []byte, chunkSize, keep int) (*SnapshotInfo, error) {
	tmp, err := os.MkdirTemp(s.dir, ".tmp-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp) // gone after the rename
	cw := &chunkWriter{dir: tmp, size: chunkSize, h: sha256.New(), all: sha256.New()}
	err = st.Export(version, cw)
	if cerr := cw.finish(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if len(cw.hashes) > maxSnapshotChunks {
		return nil, fmt.Errorf("%d chunks: more than %d", len(cw.hashes), maxSnapshotChunks)
	}
	info := &SnapshotInfo{
		Height: uint64(version), Format: SnapshotFormat, Chunks: uint32(len(cw.hashes)), Bytes: cw.total,
		Hash: hex.EncodeToString(cw.all.Sum(nil)), AppHash: hex.EncodeToString(appHash),
	}
	for _, h := range cw.hashes {
		info.ChunkHashes = append(info.ChunkHashes, hex.EncodeToString(h))
	}
	bz, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeFileSync(filepath.Join(tmp, snapshotInfoFile), bz); err != nil {
		return nil, err
	}
	if err := syncDir(tmp); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	final := filepath.Join(s.dir, strconv.FormatInt(version, 10))
	if _, err := os.Stat(final); err == nil {
		return info, nil // already taken (a block replayed after a restart)
	}
	if err := os.Rename(tmp, final); err != nil {
		return nil, err
	}
	if err := syncDir(s.dir); err != nil {
		return nil, err
	}
	if keep > 0 {
		heights, err := s.heights()
		if err != nil {
			return nil, err
		}
		for _, h := range heights[min(keep, len(heights)):] {
			if err := os.RemoveAll(filepath.Join(s.dir, strconv.FormatUint(h, 10))); err != nil {
				return nil, err
			}
		}
	}
	return info, nil
}

// chunkWriter cuts a stream into chunk files and hashes them.
type chunkWriter struct {
	dir    string
	size   int
	f      *os.File
	n      int       // bytes in the current chunk
	h      hash.Hash // current chunk
	all    hash.Hash // whole stream
	total  int64
	hashes [][]byte
}

func (c *chunkWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		if c.f == nil {
			f, err := os.Create(filepath.Join(c.dir, chunkName(uint32(len(c.hashes)))))
			if err != nil {
				return written, err
			}
			c.f, c.n = f, 0
			c.h.Reset()
		}
		k := min(len(p), c.size-c.n)
		if _, err := c.f.Write(p[:k]); err != nil {
			return written, err
		}
		c.h.Write(p[:k])
		c.all.Write(p[:k])
		c.n += k
		c.total += int64(k)
		written += k
		p = p[k:]
		if c.n == c.size {
			if err := c.closeChunk(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

func (c *chunkWriter) closeChunk() error {
	err := c.f.Sync()
	if cerr := c.f.Close(); err == nil {
		err = cerr
	}
	c.f = nil
	c.hashes = append(c.hashes, c.h.Sum(nil))
	return err
}

// finish closes the last, partial chunk.
func (c *chunkWriter) finish() error {
	if c.f == nil {
		return nil
	}
	return c.closeChunk()
}

func chunkName(i uint32) string { return fmt.Sprintf("chunk-%06d", i) }

func writeFileSync(path string, bz []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(bz); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// heights lists the complete snapshots' heights, newest first. Caller holds
// s.mu.
func (s *Snapshots) heights() ([]uint64, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, e := range entries {
		h, err := strconv.ParseUint(e.Name(), 10, 64)
		if err != nil || !e.IsDir() || strconv.FormatUint(h, 10) != e.Name() {
			continue
		}
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b uint64) int { return -cmp.Compare(a, b) })
	return out, nil
}

// List returns the snapshots on disk, newest first. Caller must not hold
// s.mu.
func (s *Snapshots) List() ([]*SnapshotInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	heights, err := s.heights()
	if err != nil {
		return nil, err
	}
	var out []*SnapshotInfo
	for _, h := range heights {
		info, err := s.info(h)
		if err != nil {
			s.logger.Error("unreadable snapshot skipped", "height", h, "err", err)
			continue
		}
		out = append(out, info)
	}
	return out, nil
}

// info reads and checks one snapshot's snapshot.json. Caller holds s.mu.
func (s *Snapshots) info(height uint64) (*SnapshotInfo, error) {
	bz, err := os.ReadFile(filepath.Join(s.dir, strconv.FormatUint(height, 10), snapshotInfoFile))
	if err != nil {
		return nil, err
	}
	var info SnapshotInfo
	if err := json.Unmarshal(bz, &info); err != nil {
		return nil, err
	}
	if info.Height != height || info.Format != SnapshotFormat || info.Chunks == 0 || int(info.Chunks) != len(info.ChunkHashes) {
		return nil, errors.New("inconsistent snapshot.json")
	}
	return &info, nil
}

// abciSnapshot is the snapshot as ListSnapshots offers it.
func (info *SnapshotInfo) abciSnapshot() (*abci.Snapshot, error) {
	h, err := hex.DecodeString(info.Hash)
	if err != nil || len(h) != sha256.Size {
		return nil, fmt.Errorf("snapshot %d: bad hash", info.Height)
	}
	meta := make([]byte, 0, sha256.Size*len(info.ChunkHashes))
	for _, ch := range info.ChunkHashes {
		b, err := hex.DecodeString(ch)
		if err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("snapshot %d: bad chunk hash", info.Height)
		}
		meta = append(meta, b...)
	}
	return &abci.Snapshot{Height: info.Height, Format: info.Format, Chunks: info.Chunks, Hash: h, Metadata: meta}, nil
}

// ListSnapshots offers the snapshots on disk to peers that state sync.
func (a *App) ListSnapshots(_ context.Context, _ *abci.RequestListSnapshots) (*abci.ResponseListSnapshots, error) {
	res := &abci.ResponseListSnapshots{}
	if a.Snapshots == nil {
		return res, nil
	}
	infos, err := a.Snapshots.List()
	if err != nil {
		return nil, err
	}
	for _, info := range infos {
		sn, err := info.abciSnapshot()
		if err != nil {
			a.logger.Error("unreadable snapshot skipped", "err", err)
			continue
		}
		res.Snapshots = append(res.Snapshots, sn)
	}
	return res, nil
}

// LoadSnapshotChunk serves one chunk of a snapshot on disk; nil (CometBFT
// answers "missing") when there is no such chunk, e.g. the snapshot has
// since been deleted.
func (a *App) LoadSnapshotChunk(_ context.Context, req *abci.RequestLoadSnapshotChunk) (*abci.ResponseLoadSnapshotChunk, error) {
	s := a.Snapshots
	if s == nil || req.Format != SnapshotFormat {
		return &abci.ResponseLoadSnapshotChunk{}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	info, err := s.info(req.Height)
	if err != nil || req.Chunk >= info.Chunks {
		return &abci.ResponseLoadSnapshotChunk{}, nil
	}
	path := filepath.Join(s.dir, strconv.FormatUint(req.Height, 10), chunkName(req.Chunk))
	f, err := os.Open(path)
	if err != nil {
		return &abci.ResponseLoadSnapshotChunk{}, nil
	}
	defer f.Close()
	bz, err := io.ReadAll(io.LimitReader(f, DefaultSnapshotChunkSize+1))
	if err != nil {
		return nil, fmt.Errorf("read snapshot %d chunk %d: %w", req.Height, req.Chunk, err)
	}
	if len(bz) > DefaultSnapshotChunkSize {
		return &abci.ResponseLoadSnapshotChunk{}, nil
	}
	return &abci.ResponseLoadSnapshotChunk{Chunk: bz}, nil
}

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

// OfferSnapshot accepts a snapshot to restore when this node has no state
// yet (nothing committed), the format is ours and the metadata is well
// formed. req.AppHash is the AppHash that CometBFT's light client verified
// for the snapshot's height: the restored state must match it.
func (a *App) OfferSnapshot(_ context.Context, req *abci.RequestOfferSnapshot) (*abci.ResponseOfferSnapshot, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.Snapshots
	reject := func(result abci.ResponseOfferSnapshot_Result, why string) (*abci.ResponseOfferSnapshot, error) {
		a.logger.Info("snapshot refused", "why", why, "result", result.String())
		return &abci.ResponseOfferSnapshot{Result: result}, nil
	}
	if s == nil {
		return reject(abci.ResponseOfferSnapshot_ABORT, "this node keeps no snapshot directory")
	}
	s.restore.close() // a new offer replaces any earlier restore
	s.restore = nil
	sn := req.Snapshot
	switch {
	case sn == nil:
		return reject(abci.ResponseOfferSnapshot_REJECT, "no snapshot")
	case sn.Format != SnapshotFormat:
		return reject(abci.ResponseOfferSnapshot_REJECT_FORMAT, fmt.Sprintf("format %d", sn.Format))
	case a.store.Version() != 0 && !a.holds(sn, req.AppHash):
		return reject(abci.ResponseOfferSnapshot_REJECT, fmt.Sprintf("the state already holds height %d", a.store.Version()))
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
		a.logger.Error("cannot read the free disk space for a snapshot", "err", err)
		return &abci.ResponseOfferSnapshot{Result: abci.ResponseOfferSnapshot_ABORT}, nil
	} else if ok && uint64(limit) > free/2 {
		return reject(abci.ResponseOfferSnapshot_REJECT, fmt.Sprintf("%d chunks may hold up to %d bytes; the spool and the imported state need twice that, and %s has %d bytes free", sn.Chunks, limit, s.dir, free))
	}
	spool, err := os.CreateTemp(s.dir, ".restore-")
	if err != nil {
		a.logger.Error("cannot spool a snapshot", "err", err)
		return &abci.ResponseOfferSnapshot{Result: abci.ResponseOfferSnapshot_ABORT}, nil
	}
	s.restore = &restore{snapshot: sn, appHash: bytes.Clone(req.AppHash), hashes: hashes, spool: spool, sum: sha256.New(),
		limit: limit, already: a.store.Version() != 0}
	a.logger.Info("restoring state-sync snapshot", "height", sn.Height, "chunks", sn.Chunks)
	return &abci.ResponseOfferSnapshot{Result: abci.ResponseOfferSnapshot_ACCEPT}, nil
}

// ApplySnapshotChunk checks a chunk against the offered metadata (a bad one
// is fetched again from another peer, and its sender rejected), spools it,
// and after the last one imports the state and checks it against the
// trusted AppHash; a snapshot that fails is rejected and nothing of it stays.
func (a *App) ApplySnapshotChunk(_ context.Context, req *abci.RequestApplySnapshotChunk) (*abci.ResponseApplySnapshotChunk, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var r *restore
	if a.Snapshots != nil {
		r = a.Snapshots.restore
	}
	result := func(res abci.ResponseApplySnapshotChunk_Result) (*abci.ResponseApplySnapshotChunk, error) {
		return &abci.ResponseApplySnapshotChunk{Result: res}, nil
	}
	if r == nil {
		a.logger.Error("snapshot chunk without an accepted snapshot", "index", req.Index)
		return result(abci.ResponseApplySnapshotChunk_ABORT)
	}
	if req.Index >= uint32(len(r.hashes)) {
		return a.rejectRestore(fmt.Sprintf("chunk index %d of %d", req.Index, len(r.hashes)), nil)
	}
	if len(req.Chunk) == 0 || len(req.Chunk) > DefaultSnapshotChunkSize {
		// Its hash is in the metadata, so the snapshot itself is bad: no
		// node cuts empty chunks or chunks over the chunk size.
		if sum := sha256.Sum256(req.Chunk); bytes.Equal(sum[:], r.hashes[req.Index]) {
			return a.rejectRestore(fmt.Sprintf("chunk %d holds %d bytes (1 to %d allowed)", req.Index, len(req.Chunk), DefaultSnapshotChunkSize), senders(req.Sender))
		}
	}
	if sum := sha256.Sum256(req.Chunk); !bytes.Equal(sum[:], r.hashes[req.Index]) {
		a.logger.Info("snapshot chunk does not match its hash: fetching it again", "index", req.Index, "sender", req.Sender)
		res := &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_RETRY, RefetchChunks: []uint32{req.Index}}
		if req.Sender != "" {
			res.RejectSenders = []string{req.Sender}
		}
		return res, nil
	}
	if req.Index == 0 && r.next == 0 {
		// Refuse at once a stream whose header does not claim the trusted
		// state, rather than after spooling all of it.
		v, h, err := store.PeekSnapshot(req.Chunk)
		switch {
		case errors.Is(err, store.ErrShortHeader):
			// A tiny chunk size: the full check after the last chunk decides.
		case err != nil:
			return a.rejectRestore("chunk 0: "+err.Error(), senders(req.Sender))
		case v != int64(r.snapshot.Height) || !bytes.Equal(h, r.appHash):
			return a.rejectRestore(fmt.Sprintf("chunk 0 declares height %d AppHash %X; trusted: height %d AppHash %X", v, h, r.snapshot.Height, r.appHash), senders(req.Sender))
		}
	}
	switch {
	case req.Index < r.next:
		return result(abci.ResponseApplySnapshotChunk_ACCEPT) // applied already
	case req.Index > r.next:
		// CometBFT applies chunks in order; start over rather than guess.
		a.logger.Error("snapshot chunk out of order", "index", req.Index, "expected", r.next)
		return result(abci.ResponseApplySnapshotChunk_RETRY_SNAPSHOT)
	}
	if r.written+int64(len(req.Chunk)) > r.limit {
		return a.rejectRestore(fmt.Sprintf("chunk %d would spool %d bytes, over the %d the snapshot declared", req.Index, r.written+int64(len(req.Chunk)), r.limit), senders(req.Sender))
	}
	if _, err := r.spool.Write(req.Chunk); err != nil {
		a.logger.Error("cannot spool a snapshot chunk", "err", err)
		r.close()
		a.Snapshots.restore = nil
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
		return a.rejectRestore("the chunks do not give the snapshot's hash", r.senders)
	}
	if r.already {
		r.close()
		a.Snapshots.restore = nil
		a.resetAfterRestore(int64(r.snapshot.Height))
		a.logger.Info("state-sync snapshot already restored before a restart", "height", r.snapshot.Height)
		return result(abci.ResponseApplySnapshotChunk_ACCEPT)
	}
	return a.importSnapshot(r)
}

func senders(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// holds reports whether the state is exactly the offered snapshot's: its only
// committed version is the snapshot's height, with the trusted AppHash. That
// is a node that restored the snapshot and crashed before CometBFT recorded
// the end of state sync; CometBFT then offers snapshots again. Caller holds
// a.mu.
func (a *App) holds(sn *abci.Snapshot, appHash []byte) bool {
	if sn == nil || int64(sn.Height) != a.store.Version() {
		return false
	}
	if _, err := a.store.At(a.store.Version() - 1); err == nil {
		return false // history before it: this node did not start from a snapshot
	}
	h, err := a.store.LastHash()
	return err == nil && bytes.Equal(h, appHash)
}

// rejectRestore drops the restore in progress and rejects its snapshot.
// Caller holds a.mu.
func (a *App) rejectRestore(why string, senders []string) (*abci.ResponseApplySnapshotChunk, error) {
	a.logger.Error("state-sync snapshot rejected", "why", why)
	a.Snapshots.restore.close()
	a.Snapshots.restore = nil
	return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_REJECT_SNAPSHOT, RejectSenders: senders}, nil
}

// importSnapshot imports the spooled stream into the (empty) store, checks
// it against the trusted AppHash and resets the app's state to it. A marker
// file lives in the snapshot directory while the import writes, so that a
// crash in between deletes the partial state at the next start
// (RecoverRestore). Caller holds a.mu.
func (a *App) importSnapshot(r *restore) (*abci.ResponseApplySnapshotChunk, error) {
	s := a.Snapshots
	height := int64(r.snapshot.Height)
	abort := func(err error) (*abci.ResponseApplySnapshotChunk, error) {
		a.logger.Error("state-sync restore failed", "height", height, "err", err)
		r.close()
		s.restore = nil
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_ABORT}, nil
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
	err := a.store.ImportChecked(height, bufio.NewReaderSize(r.spool, 1<<20), r.appHash)
	if err == nil {
		var got []byte
		if got, err = a.store.LastHash(); err == nil && !bytes.Equal(got, r.appHash) {
			err = fmt.Errorf("%w: restored AppHash %X, trusted %X", store.ErrBadSnapshot, got, r.appHash)
			if derr := a.store.DiscardImport(); derr != nil {
				return abort(errors.Join(err, derr))
			}
		}
	}
	if err != nil {
		if !errors.Is(err, store.ErrBadSnapshot) {
			return abort(err) // storage failure; the marker stays: the state is wiped at the next start
		}
		_ = os.Remove(marker) // the import wiped what it wrote
		return a.rejectRestore(err.Error(), r.senders)
	}
	if err := os.Remove(marker); err != nil {
		return abort(err)
	}
	_ = syncDir(s.dir)
	r.close()
	s.restore = nil
	a.resetAfterRestore(height)
	a.logger.Info("state-sync snapshot restored", "height", height, "app_hash", fmt.Sprintf("%X", r.appHash),
		"took", time.Since(start).Round(time.Millisecond))
	return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_ACCEPT}, nil
}

// resetAfterRestore makes the app's in-memory state follow the restored
// store, as if it had just committed height: Info reports it and the next
// FinalizeBlock (height+1) reloads what it needs. Caller holds a.mu.
func (a *App) resetAfterRestore(height int64) {
	a.chainID = "" // read again from the state's seed record
	a.check = nil
	a.lastTime = time.Time{}
	a.pendingHash = nil
	a.pendingHeight = 0
	a.valAgencies = nil
	a.obs = blockObs{}
	a.Metrics.BlockHeight.Set(float64(height))
	a.enqueueMetrics(height)
}
