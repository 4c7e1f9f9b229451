package app

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cometbft/cometbft/libs/log"

	"github.com/civicledger/civicledger/internal/crashpoint"
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

// Snapshots is the file-backed snapshot store: it keeps a node's state-sync
// snapshots in a directory (create, list, load chunk) and restores a
// snapshot offered by peers (offer, apply chunk; see snapshots_restore.go).
// The App's ABCI snapshot methods delegate to it. Set Interval, KeepRecent,
// ChunkSize and MaxRestoreBytes before giving it to New, which validates
// them.
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

// validate checks the fields set after OpenSnapshots; its error starts with
// the field's name.
func (s *Snapshots) validate() error {
	switch {
	case s.Interval < 0:
		return fmt.Errorf("Interval is %d: must be 0 (never) or a number of blocks", s.Interval)
	case s.KeepRecent < 0:
		return fmt.Errorf("KeepRecent is %d: must be 0 (keep all) or more", s.KeepRecent)
	case s.ChunkSize < 0 || s.ChunkSize > DefaultSnapshotChunkSize:
		return fmt.Errorf("ChunkSize is %d: must be 0 (%d) to %d bytes", s.ChunkSize, DefaultSnapshotChunkSize, DefaultSnapshotChunkSize)
	case s.MaxRestoreBytes < 0:
		return fmt.Errorf("MaxRestoreBytes is %d: must be 0 (no cap) or more", s.MaxRestoreBytes)
	}
	return nil
}

// afterCommit starts the snapshot of a just committed height of st when it
// is due and returns at once; the snapshot is written in the background.
// A nil Snapshots takes none. The App calls it from Commit, holding its mu.
func (s *Snapshots) afterCommit(st *store.MultiStore, version int64, appHash []byte) {
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
	chunk, keep := s.ChunkSize, s.KeepRecent
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
	crashpoint.Hit(crashpoint.SnapshotCreate)
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

// LoadChunk reads chunk index of the snapshot of height in format; nil, and
// no error, when there is no such chunk (e.g. the snapshot has since been
// deleted) or it is over the chunk size.
func (s *Snapshots) LoadChunk(height uint64, format, index uint32) ([]byte, error) {
	if format != SnapshotFormat {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	info, err := s.info(height)
	if err != nil || index >= info.Chunks {
		return nil, nil
	}
	path := filepath.Join(s.dir, strconv.FormatUint(height, 10), chunkName(index))
	f, err := os.Open(path)
	if err != nil {
		return nil, nil
	}
	defer f.Close()
	bz, err := io.ReadAll(io.LimitReader(f, DefaultSnapshotChunkSize+1))
	if err != nil {
		return nil, fmt.Errorf("read snapshot %d chunk %d: %w", height, index, err)
	}
	if len(bz) > DefaultSnapshotChunkSize {
		return nil, nil
	}
	return bz, nil
}
