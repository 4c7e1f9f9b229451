// Package store keeps the ledger's state in one IAVL tree per named store,
// all in one embedded goleveldb database, and computes the AppHash and the
// ICS23 proofs exactly as the Cosmos SDK multistore does, so that generic
// IBC/ICS23 tooling can verify them.
//
// Versions are block heights. Writes go to the working trees (FinalizeBlock);
// Commit saves every tree at the same version. Reads at a committed version
// use immutable trees; those that run concurrently with writes go through a
// Reader (or DetachedAt), whose trees share nothing with the working ones.
//
// This package imports IAVL, ICS23 and CometBFT's merkle hashing only (and
// the crash tests' hook, empty in a normal build); it
// knows nothing of ABCI or of the ledger's rules beyond the store names.
package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/cometbft/cometbft/crypto/merkle"
	"github.com/cosmos/iavl"
	idb "github.com/cosmos/iavl/db"
	ics23 "github.com/cosmos/ics23/go"
	lerrors "github.com/syndtr/goleveldb/leveldb/errors"
	"github.com/syndtr/goleveldb/leveldb/opt"

	"github.com/civicledger/civicledger/internal/crashpoint"
)

// Options configure a MultiStore.
type Options struct {
	// CacheSize is the IAVL node cache size per tree, in nodes.
	CacheSize int
	// InitialVersion is the first block height (CometBFT's initial_height).
	InitialVersion int64
	// LevelDB are the goleveldb options of Open (nil: LevelDBOptions).
	LevelDB *opt.Options
}

// DefaultCacheSize is the IAVL node cache per tree, in nodes, of
// DefaultOptions and of a node's default state_cache_size: a larger cache
// makes garbage collection, not reads, the cost that grows with the state.
const DefaultCacheSize = 30_000

// DefaultOptions: a node cache of DefaultCacheSize nodes per tree.
func DefaultOptions() Options { return Options{CacheSize: DefaultCacheSize, InitialVersion: 1} }

// MultiStore is the set of named IAVL trees that make up the state.
type MultiStore struct {
	mu       sync.RWMutex // guards trees' working state against concurrent readers of Latest
	db       idb.DB
	del      func([]byte) error
	prefixed func([]byte) idb.DB
	names    []string
	trees    map[string]*iavl.MutableTree
	opts     Options
	fails    *readFailures
}

// ErrUnknownStore is returned for a store name that does not exist.
var ErrUnknownStore = errors.New("unknown store")

// ErrCorrupt is returned by Open for a state database that fails its
// integrity check.
var ErrCorrupt = errors.New("state database is corrupted")

// Open opens (or creates) the state database "application" in dir. It first
// reads every sorted table of the database once, verifying the checksum of
// every block (see verifyTables): a damaged table fails Open with
// ErrCorrupt, naming the file, before any of its state is loaded or served.
func Open(dir string, names []string, opts Options) (*MultiStore, error) {
	lopts := opts.LevelDB
	if lopts == nil {
		lopts = LevelDBOptions()
	}
	db, err := idb.NewGoLevelDBWithOpts("application", dir, lopts)
	if err != nil {
		if lerrors.IsCorrupted(err) {
			return nil, fmt.Errorf("%w: %s: %v; %s", ErrCorrupt, filepath.Join(dir, "application.db"), err, corruptAdvice)
		}
		return nil, fmt.Errorf("open state db: %w", err)
	}
	if err := verifyTables(db.RawDB(), filepath.Join(dir, "application.db")); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("%w: %s: %v; %s", ErrCorrupt, filepath.Join(dir, "application.db"), err, corruptAdvice)
	}
	return newMultiStore(db, func(p []byte) idb.DB { return idb.NewPrefixDB(db, p) }, db.Delete, names, opts)
}

const corruptAdvice = "the node refuses to start on it: restore the data directory from a backup, or empty it and rejoin by state sync (see docs/reliability.md, Faults injected)"

// OpenMem opens an in-memory store (tests and benchmarks of logic only).
func OpenMem(names []string, opts Options) (*MultiStore, error) {
	db := idb.NewMemDB()
	return newMultiStore(db, func(p []byte) idb.DB { return idb.NewPrefixDB(db, p) }, db.Delete, names, opts)
}

func newMultiStore(db idb.DB, prefixed func([]byte) idb.DB, del func([]byte) error, names []string, opts Options) (*MultiStore, error) {
	if opts.CacheSize <= 0 {
		opts.CacheSize = DefaultOptions().CacheSize
	}
	if opts.InitialVersion <= 0 {
		opts.InitialVersion = 1
	}
	names = slices.Clone(names)
	slices.Sort(names)
	m := &MultiStore{db: db, del: del, prefixed: prefixed, names: names, trees: map[string]*iavl.MutableTree{}, opts: opts, fails: &readFailures{}}
	for _, n := range names {
		if n == "" || bytes.ContainsAny([]byte(n), "/") {
			return nil, fmt.Errorf("store name %q: must be non-empty ASCII without '/'", n)
		}
		m.trees[n] = m.newTree(n)
	}
	if err := m.load(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return m, nil
}

// load brings every tree to the same, latest common version. A crash between
// the trees' SaveVersion calls can leave some trees one version ahead: they
// are rolled back, and CometBFT's handshake replays the block.
func (m *MultiStore) load() error {
	latest := make(map[string]int64, len(m.names))
	common := int64(-1)
	for _, n := range m.names {
		v, err := m.trees[n].Load()
		if err != nil {
			return fmt.Errorf("load store %s: %w", n, err)
		}
		latest[n] = v
		if common < 0 || v < common {
			common = v
		}
	}
	if common <= 0 {
		// A crash during the very first Commit: the stores that saved it are
		// wiped, InitChain runs again and the first block is replayed.
		for _, n := range m.names {
			if latest[n] > 0 {
				if err := m.wipe(n); err != nil {
					return fmt.Errorf("reset store %s after an interrupted first commit: %w", n, err)
				}
			}
		}
		return nil
	}
	for _, n := range m.names {
		if latest[n] != common {
			if err := m.trees[n].LoadVersionForOverwriting(common); err != nil {
				return fmt.Errorf("roll back store %s to %d: %w", n, common, err)
			}
		}
	}
	return nil
}

func (m *MultiStore) treePrefix(name string) []byte { return []byte("s/k:" + name + "/") }

// treeDB is the database of one store's tree, its failed reads counted.
func (m *MultiStore) treeDB(name string) idb.DB {
	return watchedDB{DB: m.prefixed(m.treePrefix(name)), f: m.fails}
}

// readFailures counts the failed reads of the state database by the trees.
// IAVL's iterator (cosmos/iavl v1.3.6, Iterator.Next) drops the error of a
// node it cannot load and simply ends, which would turn a damaged or
// unreadable block into a listing that stops short without an error: the
// iterations of this package compare the count before and after, and fail
// instead.
type readFailures struct {
	n    atomic.Int64
	mu   sync.Mutex
	last error
}

func (f *readFailures) add(err error) {
	f.mu.Lock()
	f.last = err
	f.mu.Unlock()
	f.n.Add(1)
}

// since returns the last read failure if there was any after count n.
func (f *readFailures) since(n int64) error {
	if f.n.Load() == n {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

// watchedDB counts the failed reads of a tree's database.
type watchedDB struct {
	idb.DB
	f *readFailures
}

func (d watchedDB) Get(key []byte) ([]byte, error) {
	v, err := d.DB.Get(key)
	if err != nil {
		d.f.add(err)
	}
	return v, err
}

func (d watchedDB) Has(key []byte) (bool, error) {
	ok, err := d.DB.Has(key)
	if err != nil {
		d.f.add(err)
	}
	return ok, err
}

// iterate walks [start, end) of tree in ascending order, calling fn, and
// fails rather than return a listing that stopped short: IAVL's iterator
// ends without an error when it cannot load a node (goleveldb answers "not
// found" for a key in a damaged block). A walk that was not stopped by fn
// must have delivered as many keys as the tree holds in the range (from the
// subtree sizes along two paths), and no read of the state database may
// have failed meanwhile.
func iterate(f *readFailures, store string, tree *iavl.ImmutableTree, start, end []byte, fn func(k, v []byte) bool) error {
	before := f.n.Load()
	it, err := tree.Iterator(start, end, true)
	if err != nil {
		return err
	}
	defer it.Close()
	var got int64
	stopped := false
	for ; it.Valid(); it.Next() {
		got++
		if !fn(it.Key(), it.Value()) {
			stopped = true
			break
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	if err := f.since(before); err != nil {
		return fmt.Errorf("store %s: a read of the state database failed during the iteration, so the listing would be incomplete: %w", store, err)
	}
	if stopped {
		return nil
	}
	lo, hi := int64(0), tree.Size()
	if start != nil {
		if lo, _, err = tree.GetWithIndex(start); err != nil {
			return fmt.Errorf("store %s: %w", store, err)
		}
	}
	if end != nil {
		if hi, _, err = tree.GetWithIndex(end); err != nil {
			return fmt.Errorf("store %s: %w", store, err)
		}
	}
	if want := max(hi-lo, 0); got != want {
		return fmt.Errorf("store %s: the iteration ended after %d of the %d keys in its range: the state database could not be read (damaged or missing data)", store, got, want)
	}
	return nil
}

func (m *MultiStore) newTree(name string) *iavl.MutableTree {
	return iavl.NewMutableTree(m.treeDB(name), m.opts.CacheSize, true, iavl.NewNopLogger(),
		iavl.InitialVersionOption(uint64(m.opts.InitialVersion)))
}

// wipe deletes every key of one tree and replaces it with a fresh, empty one.
func (m *MultiStore) wipe(name string) error {
	prefix := m.treePrefix(name)
	it, err := m.db.Iterator(prefix, prefixEnd(prefix))
	if err != nil {
		return err
	}
	var keys [][]byte
	for ; it.Valid(); it.Next() {
		keys = append(keys, bytes.Clone(it.Key()))
	}
	if err := it.Close(); err != nil {
		return err
	}
	for _, k := range keys {
		if err := m.del(k); err != nil {
			return err
		}
	}
	t := m.newTree(name)
	if _, err := t.Load(); err != nil {
		return err
	}
	m.trees[name] = t
	return nil
}

func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// Close closes the database.
func (m *MultiStore) Close() error { return m.db.Close() }

// Names returns the store names, sorted.
func (m *MultiStore) Names() []string { return slices.Clone(m.names) }

func (m *MultiStore) tree(name string) (*iavl.MutableTree, error) {
	t, ok := m.trees[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownStore, name)
	}
	return t, nil
}

// Version returns the last committed version (0 before the first commit).
func (m *MultiStore) Version() int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.trees[m.names[0]].Version()
}

// Get reads the working (uncommitted) state.
func (m *MultiStore) Get(store string, key []byte) ([]byte, error) {
	t, err := m.tree(store)
	if err != nil {
		return nil, err
	}
	return t.Get(key)
}

// Set writes to the working state. Values must not be empty.
func (m *MultiStore) Set(store string, key, value []byte) error {
	t, err := m.tree(store)
	if err != nil {
		return err
	}
	if len(value) == 0 {
		return fmt.Errorf("store %s key %q: empty value", store, key)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, err = t.Set(key, value)
	return err
}

// Delete removes a key from the working state.
func (m *MultiStore) Delete(store string, key []byte) error {
	t, err := m.tree(store)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, _, err = t.Remove(key)
	return err
}

// Iterate walks the working state in ascending key order.
func (m *MultiStore) Iterate(store string, start, end []byte, fn func(k, v []byte) bool) error {
	t, err := m.tree(store)
	if err != nil {
		return err
	}
	return iterate(m.fails, store, t.ImmutableTree, start, end, fn)
}

// WorkingHash is the AppHash of the working state: what Commit will produce.
func (m *MultiStore) WorkingHash() []byte {
	m.mu.RLock()
	defer m.mu.RUnlock()
	roots := make([][]byte, len(m.names))
	for i, n := range m.names {
		roots[i] = m.trees[n].WorkingHash()
	}
	return AppHash(m.names, roots)
}

// Commit saves every tree at the next version and returns the AppHash and
// the version.
func (m *MultiStore) Commit() ([]byte, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	roots := make([][]byte, len(m.names))
	var version int64
	for i, n := range m.names {
		h, v, err := m.trees[n].SaveVersion()
		if err != nil {
			return nil, 0, fmt.Errorf("save store %s: %w", n, err)
		}
		if i > 0 && v != version {
			return nil, 0, fmt.Errorf("store %s saved version %d, others %d", n, v, version)
		}
		version = v
		roots[i] = h
		if i == 0 {
			crashpoint.Hit(crashpoint.StoreBetweenSaves)
		}
	}
	return AppHash(m.names, roots), version, nil
}

// LastHash is the AppHash of the last committed version (nil before any).
func (m *MultiStore) LastHash() ([]byte, error) {
	v := m.Version()
	if v == 0 {
		return nil, nil
	}
	view, err := m.At(v)
	if err != nil {
		return nil, err
	}
	return view.AppHash(), nil
}

// View is the immutable state at one committed version.
type View struct {
	version int64
	names   []string
	trees   map[string]*iavl.ImmutableTree
	fails   *readFailures
}

// ErrVersionNotFound is returned for a version that was never committed or
// has been pruned.
var ErrVersionNotFound = errors.New("version not available")

// At returns the committed state at version.
func (m *MultiStore) At(version int64) (*View, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	v := &View{version: version, names: m.names, trees: make(map[string]*iavl.ImmutableTree, len(m.names)), fails: m.fails}
	for _, n := range m.names {
		if !m.trees[n].VersionExists(version) {
			return nil, fmt.Errorf("%w: %d", ErrVersionNotFound, version)
		}
		it, err := m.trees[n].GetImmutable(version)
		if err != nil {
			return nil, fmt.Errorf("store %s version %d: %w", n, version, err)
		}
		v.trees[n] = it
	}
	return v, nil
}

// DetachedAt returns the committed state at version through IAVL trees of
// its own over the same database (as Export does), sharing no node objects
// with the working trees: unlike At's views, it may be read concurrently with
// Set and Commit of later versions, at the cost of a cold node cache of
// cacheSize nodes per store. Call release when done, before Close.
func (m *MultiStore) DetachedAt(version int64, cacheSize int) (view *View, release func(), err error) {
	if version <= 0 || version > m.Version() {
		return nil, nil, fmt.Errorf("%w: %d (latest is %d)", ErrVersionNotFound, version, m.Version())
	}
	v := &View{version: version, names: m.names, trees: make(map[string]*iavl.ImmutableTree, len(m.names)), fails: m.fails}
	var opened []*iavl.MutableTree
	release = func() {
		for _, t := range opened {
			_ = t.Close()
		}
	}
	for _, n := range m.names {
		mt := iavl.NewMutableTree(m.treeDB(n), cacheSize, true, iavl.NewNopLogger())
		opened = append(opened, mt)
		it, err := mt.GetImmutable(version)
		if err != nil {
			release()
			return nil, nil, fmt.Errorf("store %s version %d: %w", n, version, err)
		}
		v.trees[n] = it
	}
	return v, release, nil
}

// Reader serves committed versions to readers that run concurrently with
// block execution (the ABCI query connection): its IAVL trees are its own,
// over the same database, never written, sharing no node objects with the
// working trees, so reads through its views need no lock held by Set or
// Commit. Unlike DetachedAt, the trees and their node cache are kept between
// reads. A Reader's methods are safe for concurrent use.
type Reader struct {
	m     *MultiStore
	trees map[string]*iavl.MutableTree
}

// NewReader opens a Reader with a node cache of cacheSize nodes per store.
// Close it before the MultiStore.
func (m *MultiStore) NewReader(cacheSize int) *Reader {
	r := &Reader{m: m, trees: make(map[string]*iavl.MutableTree, len(m.names))}
	for _, n := range m.names {
		r.trees[n] = iavl.NewMutableTree(m.treeDB(n), cacheSize, true, iavl.NewNopLogger())
	}
	return r
}

// Latest is the last committed version (0 before the first commit).
func (r *Reader) Latest() int64 { return r.m.Version() }

// At returns the committed state at version, which must not be above the
// last committed one.
func (r *Reader) At(version int64) (*View, error) {
	if latest := r.m.Version(); version <= 0 || version > latest {
		return nil, fmt.Errorf("%w: %d (latest is %d)", ErrVersionNotFound, version, latest)
	}
	v := &View{version: version, names: r.m.names, trees: make(map[string]*iavl.ImmutableTree, len(r.m.names)), fails: r.m.fails}
	for _, n := range r.m.names {
		it, err := r.trees[n].GetImmutable(version)
		if err != nil {
			return nil, fmt.Errorf("%w: %d (store %s: %v)", ErrVersionNotFound, version, n, err)
		}
		v.trees[n] = it
	}
	return v, nil
}

// Close releases the Reader's trees.
func (r *Reader) Close() {
	for _, t := range r.trees {
		_ = t.Close()
	}
}

// Version is the view's version (block height).
func (v *View) Version() int64 { return v.version }

// Get reads a key; nil if absent.
func (v *View) Get(store string, key []byte) ([]byte, error) {
	t, ok := v.trees[store]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownStore, store)
	}
	return t.Get(key)
}

// Iterate walks keys in [start, end) in ascending order.
func (v *View) Iterate(store string, start, end []byte, fn func(k, val []byte) bool) error {
	t, ok := v.trees[store]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownStore, store)
	}
	return iterate(v.fails, store, t, start, end, fn)
}

// StoreRoot returns the root hash of one store at this version.
func (v *View) StoreRoot(store string) ([]byte, error) {
	t, ok := v.trees[store]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownStore, store)
	}
	return t.Hash(), nil
}

// Size returns the number of keys of one store at this version.
func (v *View) Size(store string) (int64, error) {
	t, ok := v.trees[store]
	if !ok {
		return 0, fmt.Errorf("%w %q", ErrUnknownStore, store)
	}
	return t.Size(), nil
}

// AppHash is the multistore root at this version.
func (v *View) AppHash() []byte {
	roots := make([][]byte, len(v.names))
	for i, n := range v.names {
		roots[i] = v.trees[n].Hash()
	}
	return AppHash(v.names, roots)
}

// Proof returns the two ICS23 commitment proofs for key in store: the IAVL
// proof (membership if the key exists, else non-membership) up to the
// store's root, and the simple-Merkle proof of the store root up to the
// AppHash. The value is nil when the key is absent.
func (v *View) Proof(store string, key []byte) (value []byte, iavlProof, storeProof *ics23.CommitmentProof, err error) {
	t, ok := v.trees[store]
	if !ok {
		return nil, nil, nil, fmt.Errorf("%w %q", ErrUnknownStore, store)
	}
	value, err = t.Get(key)
	if err != nil {
		return nil, nil, nil, err
	}
	if value != nil {
		iavlProof, err = t.GetMembershipProof(key)
	} else {
		iavlProof, err = t.GetNonMembershipProof(key)
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("iavl proof: %w", err)
	}
	roots := make([][]byte, len(v.names))
	idx := -1
	for i, n := range v.names {
		roots[i] = v.trees[n].Hash()
		if n == store {
			idx = i
		}
	}
	storeProof, err = StoreProof(v.names, roots, idx)
	if err != nil {
		return nil, nil, nil, err
	}
	return value, iavlProof, storeProof, nil
}

// storeLeaf is the multistore leaf of one store:
// uvarint(len(name)) || name || uvarint(32) || sha256(root).
func storeLeaf(name string, root []byte) []byte {
	h := sha256.Sum256(root)
	out := binary.AppendUvarint(nil, uint64(len(name)))
	out = append(out, name...)
	out = binary.AppendUvarint(out, uint64(len(h)))
	return append(out, h[:]...)
}

// AppHash computes the Cosmos SDK multistore root over store names (sorted)
// and their IAVL roots.
func AppHash(names []string, roots [][]byte) []byte {
	leaves := make([][]byte, len(names))
	for i, n := range names {
		leaves[i] = storeLeaf(n, roots[i])
	}
	return merkle.HashFromByteSlices(leaves)
}

// StoreProof builds the ICS23 existence proof (TendermintSpec) that store
// names[idx] has root roots[idx] under AppHash(names, roots).
func StoreProof(names []string, roots [][]byte, idx int) (*ics23.CommitmentProof, error) {
	if idx < 0 || idx >= len(names) {
		return nil, fmt.Errorf("store index %d out of range", idx)
	}
	leaves := make([][]byte, len(names))
	for i, n := range names {
		leaves[i] = storeLeaf(n, roots[i])
	}
	_, proofs := merkle.ProofsFromByteSlices(leaves)
	p := proofs[idx]
	ex := &ics23.ExistenceProof{
		Key:   []byte(names[idx]),
		Value: roots[idx],
		Leaf:  ics23.TendermintSpec.LeafSpec,
		Path:  innerOps(p.Index, p.Total, p.Aunts),
	}
	return &ics23.CommitmentProof{Proof: &ics23.CommitmentProof_Exist{Exist: ex}}, nil
}

// innerOps turns CometBFT simple-Merkle aunts (bottom-up) into ICS23 inner
// ops, leaf to root: inner node hash = sha256(0x01 || left || right).
func innerOps(index, total int64, aunts [][]byte) []*ics23.InnerOp {
	if total <= 1 || len(aunts) == 0 {
		return nil
	}
	split := splitPoint(total)
	top := aunts[len(aunts)-1]
	rest := aunts[:len(aunts)-1]
	if index < split {
		ops := innerOps(index, split, rest)
		return append(ops, &ics23.InnerOp{Hash: ics23.HashOp_SHA256, Prefix: []byte{1}, Suffix: top})
	}
	ops := innerOps(index-split, total-split, rest)
	return append(ops, &ics23.InnerOp{Hash: ics23.HashOp_SHA256, Prefix: append([]byte{1}, top...)})
}

// splitPoint is the largest power of two strictly less than n (n > 1).
func splitPoint(n int64) int64 {
	k := int64(1)
	for k*2 < n {
		k *= 2
	}
	return k
}

// SetInitialVersion sets the version of the first commit (the chain's
// initial height). Call before the first Commit.
func (m *MultiStore) SetInitialVersion(v int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range m.names {
		m.trees[n].SetInitialVersion(uint64(v))
	}
}
