package store

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cosmos/iavl"
)

// Snapshot streams. Export writes the state at one committed version as a
// single byte stream that Import turns back into a store holding exactly that
// version; the app cuts it into state-sync chunks. The stream is a function
// of the state alone (IAVL's node versions are part of every node's hash, so
// equal AppHashes mean equal trees and equal streams): every node of a
// network exports the same bytes for the same height.
//
// Format 1, all integers unsigned varints, "bytes" = uvarint(len) || data:
//
//	magic      "CIVSNAP\x00"
//	format     1
//	version    the committed version (block height)
//	stores     number of stores, then per store in name order:
//	             bytes name, bytes root (32-byte IAVL root hash), uvarint leaves
//	per store, in the same order, IAVL's export (depth-first post-order):
//	             per node: 0x01, height (one byte, 0 = leaf), uvarint node
//	             version, bytes key, and for leaves bytes value
//	             then 0x00 (end of store)
//	checksum   sha256 of every byte before it (32 bytes), then end of stream
//
// Every length read is bounded (MaxSnapshotKeyBytes, MaxSnapshotValueBytes,
// and small limits for names and counts), so corrupt input costs at most one
// bounded allocation before it is refused.
const (
	// SnapshotFormat is the stream format Export writes and Import reads.
	SnapshotFormat = 1
	// MaxSnapshotKeyBytes bounds one key in a stream.
	MaxSnapshotKeyBytes = 64 << 10
	// MaxSnapshotValueBytes bounds one value in a stream (records are JSON
	// documents far below it; the tx size limit is 32 KiB by default).
	MaxSnapshotValueBytes = 16 << 20
)

var snapshotMagic = []byte("CIVSNAP\x00")

const (
	maxSnapshotStores   = 256
	maxSnapshotNameLen  = 255
	maxSnapshotNodeHigh = 127 // an AVL tree of 2^63 leaves is below 92
	tagNode             = 0x01
	tagEnd              = 0x00
)

// ErrBadSnapshot wraps every error that comes from the content of a stream
// (as opposed to a storage or I/O failure).
var ErrBadSnapshot = errors.New("bad snapshot stream")

func badSnapshot(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadSnapshot, fmt.Sprintf(format, args...))
}

// Export streams every store's IAVL tree at committed version to w in the
// snapshot format above.
//
// It reads through IAVL trees of its own over the same database, not through
// the store's working trees: IAVL shares node objects between committed
// versions and the working tree, which caches children into them while
// blocks are applied, so reading the working trees' versions would race with
// Set/Commit. Committed nodes are never rewritten (versions are not pruned),
// so Export may run concurrently with writes and commits of later versions.
// It must finish before Close.
func (m *MultiStore) Export(version int64, w io.Writer) error {
	if version <= 0 || version > m.Version() {
		return fmt.Errorf("export version %d: %w (latest is %d)", version, ErrVersionNotFound, m.Version())
	}
	if len(m.names) > maxSnapshotStores {
		return fmt.Errorf("export: %d stores, a snapshot holds at most %d", len(m.names), maxSnapshotStores)
	}
	for _, n := range m.names {
		if len(n) > maxSnapshotNameLen {
			return fmt.Errorf("export: store name %q is longer than %d bytes", n, maxSnapshotNameLen)
		}
	}
	view, release, err := m.DetachedAt(version, 10_000)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer release()
	trees := make([]*iavl.ImmutableTree, len(m.names))
	for i, n := range m.names {
		trees[i] = view.trees[n]
	}
	sw := &snapWriter{w: bufio.NewWriterSize(w, 64<<10), h: sha256.New()}
	sw.write(snapshotMagic)
	sw.uvarint(SnapshotFormat)
	sw.uvarint(uint64(version))
	sw.uvarint(uint64(len(m.names)))
	for i, n := range m.names {
		sw.bytes([]byte(n))
		sw.bytes(trees[i].Hash())
		sw.uvarint(uint64(trees[i].Size()))
	}
	for i, n := range m.names {
		if err := exportTree(sw, trees[i]); err != nil {
			return fmt.Errorf("export store %s version %d: %w", n, version, err)
		}
	}
	sum := sw.h.Sum(nil)
	sw.write(sum)
	if sw.err != nil {
		return fmt.Errorf("export: %w", sw.err)
	}
	if err := sw.w.Flush(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

// exportTree writes one tree's nodes and its end tag. IAVL's exporter stops
// silently on a read error, so the node count is checked against the tree's
// size (a full binary tree of n leaves has 2n-1 nodes).
func exportTree(sw *snapWriter, t *iavl.ImmutableTree) error {
	size := t.Size()
	var nodes, leaves int64
	if size > 0 {
		exp, err := t.Export()
		if err != nil {
			return err
		}
		defer exp.Close()
		for {
			n, err := exp.Next()
			if errors.Is(err, iavl.ErrorExportDone) {
				break
			}
			if err != nil {
				return err
			}
			if n.Height < 0 || n.Version <= 0 || len(n.Key) > MaxSnapshotKeyBytes {
				return fmt.Errorf("node %q (height %d, version %d) cannot be exported", n.Key, n.Height, n.Version)
			}
			sw.write([]byte{tagNode, byte(n.Height)})
			sw.uvarint(uint64(n.Version))
			sw.bytes(n.Key)
			if n.Height == 0 {
				if len(n.Value) > MaxSnapshotValueBytes {
					return fmt.Errorf("value of %q is %d bytes, above the snapshot limit %d", n.Key, len(n.Value), MaxSnapshotValueBytes)
				}
				sw.bytes(n.Value)
				leaves++
			}
			nodes++
			if sw.err != nil {
				return sw.err
			}
		}
	}
	if leaves != size || (size > 0 && nodes != 2*size-1) {
		return fmt.Errorf("exported %d nodes and %d leaves of a tree of %d keys: the tree could not be read completely", nodes, leaves, size)
	}
	sw.write([]byte{tagEnd})
	return sw.err
}

// snapWriter writes the stream and hashes it; the first error sticks.
type snapWriter struct {
	w   *bufio.Writer
	h   hash.Hash
	err error
	buf [binary.MaxVarintLen64]byte
}

func (s *snapWriter) write(p []byte) {
	if s.err != nil {
		return
	}
	s.h.Write(p)
	_, s.err = s.w.Write(p)
}

func (s *snapWriter) uvarint(v uint64) { s.write(binary.AppendUvarint(s.buf[:0], v)) }

func (s *snapWriter) bytes(p []byte) {
	s.uvarint(uint64(len(p)))
	s.write(p)
}

// snapReader reads the stream, hashing what it consumes.
type snapReader struct {
	r *bufio.Reader
	h hash.Hash
}

func (s *snapReader) ReadByte() (byte, error) {
	b, err := s.r.ReadByte()
	if err != nil {
		return 0, truncated(err)
	}
	s.h.Write([]byte{b})
	return b, nil
}

func (s *snapReader) full(p []byte) error {
	if _, err := io.ReadFull(s.r, p); err != nil {
		return truncated(err)
	}
	s.h.Write(p)
	return nil
}

func (s *snapReader) uvarint(what string, max uint64) (uint64, error) {
	v, err := binary.ReadUvarint(s)
	if err != nil {
		if errors.Is(err, ErrBadSnapshot) {
			return 0, err
		}
		return 0, badSnapshot("%s: %v", what, err)
	}
	if v > max {
		return 0, badSnapshot("%s %d exceeds the limit %d", what, v, max)
	}
	return v, nil
}

func (s *snapReader) bytes(what string, max int) ([]byte, error) {
	n, err := s.uvarint(what+" length", uint64(max))
	if err != nil {
		return nil, err
	}
	p := make([]byte, n)
	if err := s.full(p); err != nil {
		return nil, err
	}
	return p, nil
}

func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return badSnapshot("stream truncated")
	}
	return err
}

// snapshotHeader is what a stream declares before its nodes.
type snapshotHeader struct {
	version int64
	names   []string
	roots   [][]byte
	sizes   []int64
}

func readSnapshotHeader(sr *snapReader) (*snapshotHeader, error) {
	magic := make([]byte, len(snapshotMagic))
	if err := sr.full(magic); err != nil {
		return nil, err
	}
	if !bytes.Equal(magic, snapshotMagic) {
		return nil, badSnapshot("not a Civic Ledger state snapshot")
	}
	format, err := sr.uvarint("format", 1<<16)
	if err != nil {
		return nil, err
	}
	if format != SnapshotFormat {
		return nil, badSnapshot("format %d, this node reads format %d", format, SnapshotFormat)
	}
	v, err := sr.uvarint("version", 1<<62)
	if err != nil {
		return nil, err
	}
	count, err := sr.uvarint("store count", maxSnapshotStores)
	if err != nil {
		return nil, err
	}
	h := &snapshotHeader{version: int64(v)}
	for i := uint64(0); i < count; i++ {
		name, err := sr.bytes("store name", maxSnapshotNameLen)
		if err != nil {
			return nil, err
		}
		root, err := sr.bytes("root hash", sha256.Size)
		if err != nil {
			return nil, err
		}
		if len(root) != sha256.Size {
			return nil, badSnapshot("store %q: root hash of %d bytes", name, len(root))
		}
		size, err := sr.uvarint("key count", 1<<61)
		if err != nil {
			return nil, err
		}
		h.names = append(h.names, string(name))
		h.roots = append(h.roots, root)
		h.sizes = append(h.sizes, int64(size))
	}
	return h, nil
}

// ErrShortHeader means a stream prefix ends before the header does.
var ErrShortHeader = errors.New("snapshot header incomplete")

// PeekSnapshot reads the header at the start of a stream (e.g. its first
// chunk) and returns the version and the AppHash its store roots give, so
// that a restore can refuse a stream that does not claim the trusted state
// before spooling the rest of it. It returns ErrShortHeader if prefix ends
// inside the header.
func PeekSnapshot(prefix []byte) (version int64, appHash []byte, err error) {
	sr := &snapReader{r: bufio.NewReader(bytes.NewReader(prefix)), h: sha256.New()}
	h, err := readSnapshotHeader(sr)
	if err != nil {
		if strings.Contains(err.Error(), "stream truncated") {
			return 0, nil, ErrShortHeader
		}
		return 0, nil, err
	}
	return h.version, AppHash(h.names, h.roots), nil
}

// Import restores the state at version from a stream written by Export, into
// a store with no committed version and no uncommitted changes (it refuses
// any other). On success the store is exactly as if it had committed
// version normally: Version, LastHash, At(version) and its proofs, further
// Commits and re-opening all behave the same; only versions before it are
// absent. On any error every store is wiped back to empty.
//
// Each store's imported root is checked against the root the stream
// declares, and the stream's checksum at its end; the caller still compares
// LastHash with the AppHash it trusts (ImportChecked does so up front).
//
// A crash during Import can leave IAVL nodes flushed without a committed
// root, which Open cannot load: a caller that may crash mid-import must
// remember that it is importing and delete the database (RemoveDatabase) on
// restart. IAVL's importer allocates 4 bytes per version below version for
// each store in turn.
func (m *MultiStore) Import(version int64, r io.Reader) error {
	return m.ImportChecked(version, r, nil)
}

// ImportChecked is Import that also requires the AppHash the stream declares
// (from its store roots) to equal appHash, checked before anything is
// written. A nil appHash skips the check.
func (m *MultiStore) ImportChecked(version int64, r io.Reader, appHash []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if version <= 0 {
		return fmt.Errorf("import: version %d must be positive", version)
	}
	for _, n := range m.names {
		t := m.trees[n]
		if v := t.Version(); v != 0 {
			return fmt.Errorf("import: store %s already holds committed version %d: restore only into an empty state", n, v)
		}
		if !t.IsEmpty() {
			return fmt.Errorf("import: store %s has uncommitted changes: restore only into an empty state", n)
		}
	}
	if err := m.importStream(version, r, appHash); err != nil {
		if werr := m.wipeAll(); werr != nil {
			return errors.Join(err, fmt.Errorf("wipe the partial import: %w", werr))
		}
		return err
	}
	return nil
}

func (m *MultiStore) importStream(version int64, r io.Reader, appHash []byte) error {
	sr := &snapReader{r: bufio.NewReaderSize(r, 64<<10), h: sha256.New()}
	hdr, err := readSnapshotHeader(sr)
	if err != nil {
		return err
	}
	if hdr.version != version {
		return badSnapshot("stream holds version %d, not %d", hdr.version, version)
	}
	if !slices.Equal(hdr.names, m.names) {
		return badSnapshot("stream has stores %q, this state has %q", hdr.names, m.names)
	}
	if appHash != nil {
		if got := AppHash(hdr.names, hdr.roots); !bytes.Equal(got, appHash) {
			return badSnapshot("stream's AppHash %X, expected %X", got, appHash)
		}
	}
	for i, n := range m.names {
		if err := m.importTree(sr, n, version, hdr.sizes[i]); err != nil {
			return fmt.Errorf("import store %s: %w", n, err)
		}
		if got := m.trees[n].Hash(); !bytes.Equal(got, hdr.roots[i]) {
			return badSnapshot("store %s: imported root %X, stream declares %X", n, got, hdr.roots[i])
		}
	}
	want := sr.h.Sum(nil)
	got := make([]byte, sha256.Size)
	if _, err := io.ReadFull(sr.r, got); err != nil {
		return truncated(err)
	}
	if !bytes.Equal(got, want) {
		return badSnapshot("checksum mismatch")
	}
	if _, err := sr.r.ReadByte(); err != io.EOF {
		if err != nil {
			return err
		}
		return badSnapshot("trailing data after the checksum")
	}
	// Reload every tree as Open does, so the imported store is
	// indistinguishable from one that committed the version.
	for _, n := range m.names {
		t := m.newTree(n)
		v, err := t.Load()
		if err != nil {
			return fmt.Errorf("reload store %s: %w", n, err)
		}
		if v != version {
			return fmt.Errorf("reload store %s: version %d after importing %d", n, v, version)
		}
		m.trees[n] = t
	}
	return nil
}

// importTree reads one store's nodes into its (empty) tree and commits them
// at version.
func (m *MultiStore) importTree(sr *snapReader, name string, version, size int64) error {
	imp, err := m.trees[name].Import(version)
	if err != nil {
		return err
	}
	defer imp.Close()
	maxNodes := int64(0)
	if size > 0 {
		maxNodes = 2*size - 1
	}
	var nodes int64
	// IAVL hashes do not cover an inner node's key (the split key), and its
	// importer does not check them: a forged stream could pass every hash
	// check yet route lookups wrongly. So the keys' order is checked here:
	// leaves strictly ascending, and each inner node's key the smallest key
	// of its right subtree (post-order: a stack of subtree key ranges).
	type span struct{ min, max []byte }
	var spans []span
	var lastLeaf []byte
	for {
		tag, err := sr.ReadByte()
		if err != nil {
			return err
		}
		if tag == tagEnd {
			break
		}
		if tag != tagNode {
			return badSnapshot("unknown tag 0x%02x", tag)
		}
		if nodes++; nodes > maxNodes {
			return badSnapshot("more than %d nodes for %d keys", maxNodes, size)
		}
		height, err := sr.ReadByte()
		if err != nil {
			return err
		}
		if height > maxSnapshotNodeHigh {
			return badSnapshot("node height %d", height)
		}
		nv, err := sr.uvarint("node version", uint64(version))
		if err != nil {
			return err
		}
		if nv == 0 {
			return badSnapshot("node version 0")
		}
		key, err := sr.bytes("key", MaxSnapshotKeyBytes)
		if err != nil {
			return err
		}
		node := &iavl.ExportNode{Key: key, Version: int64(nv), Height: int8(height)}
		if height == 0 {
			if node.Value, err = sr.bytes("value", MaxSnapshotValueBytes); err != nil {
				return err
			}
			if lastLeaf != nil && bytes.Compare(key, lastLeaf) <= 0 {
				return badSnapshot("node %d: leaf keys out of order", nodes)
			}
			lastLeaf = key
			spans = append(spans, span{key, key})
		} else {
			if len(spans) < 2 {
				return badSnapshot("node %d: inner node without two subtrees", nodes)
			}
			l, r := spans[len(spans)-2], spans[len(spans)-1]
			if !bytes.Equal(key, r.min) || bytes.Compare(l.max, r.min) >= 0 {
				return badSnapshot("node %d: inner node key is not the smallest key of its right subtree", nodes)
			}
			spans = append(spans[:len(spans)-2], span{l.min, r.max})
		}
		if err := imp.Add(node); err != nil {
			return badSnapshot("node %d: %v", nodes, err)
		}
	}
	if nodes != maxNodes {
		return badSnapshot("%d nodes for %d keys", nodes, size)
	}
	if err := imp.Commit(); err != nil {
		if errors.Is(err, ErrBadSnapshot) {
			return err
		}
		return badSnapshot("commit: %v", err)
	}
	return nil
}

// wipeAll deletes every store's data (a failed or refused import).
func (m *MultiStore) wipeAll() error {
	var errs []error
	for _, n := range m.names {
		if err := m.wipe(n); err != nil {
			errs = append(errs, fmt.Errorf("store %s: %w", n, err))
		}
	}
	return errors.Join(errs...)
}

// DiscardImport wipes a store that holds a single committed version, as
// Import leaves it, back to empty: the app calls it when an imported state
// turns out not to be the one it trusts. It refuses a store with any history
// beyond that one version.
func (m *MultiStore) DiscardImport() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range m.names {
		t := m.trees[n]
		if v := t.Version(); v > 1 && t.VersionExists(v-1) {
			return fmt.Errorf("discard import: store %s holds versions before %d: not a fresh import", n, v)
		}
	}
	return m.wipeAll()
}

// RemoveDatabase deletes the state database that Open(dir, ...) opens (it
// must be closed): the recovery from a crash during Import.
func RemoveDatabase(dir string) error {
	return os.RemoveAll(filepath.Join(dir, "application.db"))
}
