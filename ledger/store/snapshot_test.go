package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"testing"
)

// mutate applies version v's deterministic changes: new keys, updates and
// deletions in every store, so that trees hold nodes of many versions.
func mutate(t *testing.T, m *MultiStore, v int) {
	t.Helper()
	for si, n := range m.Names() {
		for i := 0; i < 12; i++ {
			k := fmt.Sprintf("k%03d", (v*7+i*5+si)%60)
			if err := m.Set(n, []byte(k), []byte(fmt.Sprintf("%s=%d/%d", n, v, i))); err != nil {
				t.Fatal(err)
			}
		}
		if v%2 == 0 {
			if err := m.Delete(n, []byte(fmt.Sprintf("k%03d", (v*11+si)%60))); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// build commits versions from..to with mutate and returns their AppHashes.
func build(t *testing.T, m *MultiStore, from, to int) map[int64][]byte {
	t.Helper()
	out := map[int64][]byte{}
	for v := from; v <= to; v++ {
		mutate(t, m, v)
		h, ver, err := m.Commit()
		if err != nil || ver != int64(v) {
			t.Fatalf("commit %d: version %d, %v", v, ver, err)
		}
		out[ver] = h
	}
	return out
}

func export(t *testing.T, m *MultiStore, v int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := m.Export(v, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sameProofs checks that two views hold the same values and give
// byte-identical ICS23 proofs for present and absent keys of every store.
func sameProofs(t *testing.T, a, b *View) {
	t.Helper()
	for _, n := range a.names {
		for i := 0; i <= 60; i += 3 {
			for _, k := range []string{fmt.Sprintf("k%03d", i), fmt.Sprintf("k%03dx", i)} {
				va, ia, sa, err := a.Proof(n, []byte(k))
				if err != nil {
					t.Fatal(err)
				}
				vb, ib, sb, err := b.Proof(n, []byte(k))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(va, vb) {
					t.Fatalf("%s/%s: value %q vs %q", n, k, va, vb)
				}
				for _, p := range [][2]interface{ Marshal() ([]byte, error) }{{ia, ib}, {sa, sb}} {
					pa, err1 := p[0].Marshal()
					pb, err2 := p[1].Marshal()
					if err1 != nil || err2 != nil || !bytes.Equal(pa, pb) {
						t.Fatalf("%s/%s: proofs differ (%v %v)", n, k, err1, err2)
					}
				}
			}
		}
	}
}

func openBackend(t *testing.T, backend, dir string, ns []string) *MultiStore {
	t.Helper()
	var m *MultiStore
	var err error
	if backend == "mem" {
		m, err = OpenMem(ns, DefaultOptions())
	} else {
		m, err = Open(dir, ns, DefaultOptions())
	}
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestExportImport exports a store at a past version, imports it into
// fresh stores (memory and goleveldb) and checks that the result cannot be
// told apart from the original: AppHash, proofs, re-export, re-open, and the
// hashes of the blocks committed after it.
func TestExportImport(t *testing.T) {
	src, err := OpenMem(names, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	hashes := build(t, src, 1, 9)
	const at = 5
	stream := export(t, src, at)
	if again := export(t, src, at); !bytes.Equal(stream, again) {
		t.Fatal("two exports of the same version differ")
	}
	// A store that reached the same state on its own exports the same bytes.
	other, _ := OpenMem(names, DefaultOptions())
	build(t, other, 1, at)
	if !bytes.Equal(export(t, other, at), stream) {
		t.Fatal("exports of equal states differ")
	}
	srcView, err := src.At(at)
	if err != nil {
		t.Fatal(err)
	}
	for _, backend := range []string{"mem", "goleveldb"} {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			dst := openBackend(t, backend, dir, names)
			defer func() { _ = dst.Close() }()
			if err := dst.Import(at, bytes.NewReader(stream)); err != nil {
				t.Fatal(err)
			}
			check := func(what string) {
				t.Helper()
				if v := dst.Version(); v != at {
					t.Fatalf("%s: version %d, want %d", what, v, at)
				}
				if h, err := dst.LastHash(); err != nil || !bytes.Equal(h, hashes[at]) {
					t.Fatalf("%s: LastHash %X (%v), want %X", what, h, err, hashes[at])
				}
				if !bytes.Equal(dst.WorkingHash(), hashes[at]) {
					t.Fatalf("%s: working hash differs", what)
				}
				view, err := dst.At(at)
				if err != nil {
					t.Fatal(err)
				}
				sameProofs(t, srcView, view)
				if _, err := dst.At(at - 1); !errors.Is(err, ErrVersionNotFound) {
					t.Fatalf("%s: At(%d) before the imported version: %v", what, at-1, err)
				}
				if !bytes.Equal(export(t, dst, at), stream) {
					t.Fatalf("%s: re-export differs", what)
				}
			}
			check("after import")
			if backend == "goleveldb" {
				if err := dst.Close(); err != nil {
					t.Fatal(err)
				}
				dst = openBackend(t, backend, dir, names)
				check("after re-open")
			}
			got := build(t, dst, at+1, 9)
			for v := int64(at + 1); v <= 9; v++ {
				if !bytes.Equal(got[v], hashes[v]) {
					t.Fatalf("version %d after import: %X, original %X", v, got[v], hashes[v])
				}
			}
			if backend == "goleveldb" {
				if err := dst.Close(); err != nil {
					t.Fatal(err)
				}
				dst = openBackend(t, backend, dir, names)
				if h, err := dst.LastHash(); err != nil || !bytes.Equal(h, hashes[9]) || dst.Version() != 9 {
					t.Fatalf("re-open after further commits: %d %X %v", dst.Version(), h, err)
				}
			}
		})
	}
}

// TestExportImportEmptyStore covers a store with no keys at all (an empty
// IAVL tree) beside non-empty ones.
func TestExportImportEmptyStore(t *testing.T) {
	ns := []string{"alpha", "empty"}
	src, _ := OpenMem(ns, DefaultOptions())
	for v := 1; v <= 3; v++ {
		if err := src.Set("alpha", []byte(fmt.Sprintf("k%d", v)), []byte("v")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := src.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	want, _ := src.LastHash()
	dst, _ := OpenMem(ns, DefaultOptions())
	if err := dst.Import(3, bytes.NewReader(export(t, src, 3))); err != nil {
		t.Fatal(err)
	}
	if h, _ := dst.LastHash(); !bytes.Equal(h, want) {
		t.Fatalf("AppHash %X, want %X", h, want)
	}
	for _, m := range []*MultiStore{src, dst} {
		if err := m.Set("empty", []byte("x"), []byte("y")); err != nil {
			t.Fatal(err)
		}
	}
	h1, _, err1 := src.Commit()
	h2, _, err2 := dst.Commit()
	if err1 != nil || err2 != nil || !bytes.Equal(h1, h2) {
		t.Fatalf("next commit: %X %X %v %v", h1, h2, err1, err2)
	}
}

// TestImportRefusals: only an empty store imports, only its own version and
// stores, and a wrong expected AppHash is refused before anything is written.
func TestImportRefusals(t *testing.T) {
	src, _ := OpenMem(names, DefaultOptions())
	hashes := build(t, src, 1, 3)
	stream := export(t, src, 3)

	committed, _ := OpenMem(names, DefaultOptions())
	build(t, committed, 1, 1)
	if err := committed.Import(3, bytes.NewReader(stream)); err == nil {
		t.Fatal("import into a store with a committed version must fail")
	}
	if committed.Version() != 1 {
		t.Fatal("refused import changed the store")
	}
	dirty, _ := OpenMem(names, DefaultOptions())
	if err := dirty.Set("alpha", []byte("a"), []byte("b")); err != nil {
		t.Fatal(err)
	}
	if err := dirty.Import(3, bytes.NewReader(stream)); err == nil {
		t.Fatal("import into a store with uncommitted changes must fail")
	}

	m, _ := OpenMem(names, DefaultOptions())
	if err := m.Import(2, bytes.NewReader(stream)); !errors.Is(err, ErrBadSnapshot) {
		t.Fatalf("version mismatch: %v", err)
	}
	if err := m.ImportChecked(3, bytes.NewReader(stream), hashes[2]); !errors.Is(err, ErrBadSnapshot) {
		t.Fatalf("wrong AppHash: %v", err)
	}
	otherNames, _ := OpenMem([]string{"alpha", "beta", "delta"}, DefaultOptions())
	if err := otherNames.Import(3, bytes.NewReader(stream)); !errors.Is(err, ErrBadSnapshot) {
		t.Fatalf("other store names: %v", err)
	}
	if m.Version() != 0 {
		t.Fatal("refused imports left a version")
	}
	if err := m.ImportChecked(3, bytes.NewReader(stream), hashes[3]); err != nil {
		t.Fatal(err)
	}
	if err := m.Import(3, bytes.NewReader(stream)); err == nil {
		t.Fatal("second import must fail")
	}
	for _, v := range []int64{0, -1, 4} {
		if err := src.Export(v, io.Discard); err == nil {
			t.Fatalf("Export(%d) must fail", v)
		}
	}
}

// TestImportCorruptStream truncates the stream at many lengths and flips
// bytes all over it: every import fails with an error (no panic), leaves the
// store empty, and the same store then imports the good stream.
func TestImportCorruptStream(t *testing.T) {
	src, _ := OpenMem(names, DefaultOptions())
	hashes := build(t, src, 1, 4)
	stream := export(t, src, 4)
	dst, _ := OpenMem(names, DefaultOptions())
	fail := func(what string, bz []byte) {
		t.Helper()
		err := dst.Import(4, bytes.NewReader(bz))
		if !errors.Is(err, ErrBadSnapshot) {
			t.Fatalf("%s: import gave %v, want ErrBadSnapshot", what, err)
		}
		if dst.Version() != 0 {
			t.Fatalf("%s: store at version %d after a failed import", what, dst.Version())
		}
		for _, n := range names {
			if !dst.trees[n].IsEmpty() {
				t.Fatalf("%s: store %s not empty after a failed import", what, n)
			}
		}
	}
	// Every offset of the header, the first nodes and the checksum; a
	// sample in between (each import is a few milliseconds under -race).
	var offsets []int
	step := max(1, len(stream)/150)
	for i := 0; i < len(stream); i++ {
		if i < 300 || i >= len(stream)-40 || i%step == 0 {
			offsets = append(offsets, i)
		}
	}
	for _, n := range offsets {
		fail(fmt.Sprintf("truncated to %d of %d", n, len(stream)), stream[:n])
	}
	fail("trailing byte", append(append([]byte(nil), stream...), 0))
	for _, i := range offsets {
		bad := append([]byte(nil), stream...)
		bad[i] ^= 0x20
		fail(fmt.Sprintf("byte %d of %d flipped", i, len(stream)), bad)
	}
	// Huge lengths are refused before anything is allocated.
	hdr := append([]byte(nil), snapshotMagic...)
	hdr = binary.AppendUvarint(hdr, SnapshotFormat)
	hdr = binary.AppendUvarint(hdr, 4)
	hdr = binary.AppendUvarint(hdr, 1)
	for _, l := range []uint64{1 << 62, 1 << 40, 1 << 20} {
		err := dst.Import(4, bytes.NewReader(binary.AppendUvarint(append([]byte(nil), hdr...), l)))
		if !errors.Is(err, ErrBadSnapshot) {
			t.Fatalf("name length %d: %v", l, err)
		}
	}
	// A node whose key claims a terabyte.
	bad := append([]byte(nil), snapshotMagic...)
	bad = binary.AppendUvarint(bad, SnapshotFormat)
	bad = binary.AppendUvarint(bad, 4)
	bad = binary.AppendUvarint(bad, uint64(len(names)))
	for _, n := range names {
		bad = binary.AppendUvarint(bad, uint64(len(n)))
		bad = append(bad, n...)
		bad = binary.AppendUvarint(bad, 32)
		bad = append(bad, make([]byte, 32)...)
		bad = binary.AppendUvarint(bad, 1)
	}
	bad = append(bad, tagNode, 0)
	bad = binary.AppendUvarint(bad, 1)
	bad = binary.AppendUvarint(bad, 1<<40)
	if err := dst.Import(4, bytes.NewReader(bad)); !errors.Is(err, ErrBadSnapshot) {
		t.Fatalf("huge key: %v", err)
	}
	// A reader failing half-way (after whole stores were committed).
	err := dst.Import(4, io.MultiReader(bytes.NewReader(stream[:len(stream)*3/4]), iotestErrReader{}))
	if err == nil || dst.Version() != 0 {
		t.Fatalf("failing reader: %v, version %d", err, dst.Version())
	}
	if err := dst.Import(4, bytes.NewReader(stream)); err != nil {
		t.Fatalf("good stream after failures: %v", err)
	}
	if h, _ := dst.LastHash(); !bytes.Equal(h, hashes[4]) {
		t.Fatal("AppHash after failures")
	}
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

// TestDiscardImport wipes an import back to empty, and refuses a store with
// history.
func TestDiscardImport(t *testing.T) {
	dir := t.TempDir()
	src, _ := OpenMem(names, DefaultOptions())
	build(t, src, 1, 3)
	stream := export(t, src, 3)
	if err := src.DiscardImport(); err == nil {
		t.Fatal("DiscardImport on a store with history must fail")
	}
	m, err := Open(dir, names, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Import(3, bytes.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	if err := m.DiscardImport(); err != nil {
		t.Fatal(err)
	}
	if m.Version() != 0 {
		t.Fatalf("version %d after discard", m.Version())
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m, err = Open(dir, names, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if m.Version() != 0 {
		t.Fatalf("version %d after discard and re-open", m.Version())
	}
	if err := m.Import(3, bytes.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	_ = m.Close()
	if err := RemoveDatabase(dir); err != nil {
		t.Fatal(err)
	}
	m, err = Open(dir, names, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Version() != 0 {
		t.Fatal("RemoveDatabase left state behind")
	}
}

// TestExportWhileCommitting exports a committed version again and again
// while later blocks are written and committed (run with -race: Export must
// not share IAVL nodes with the working trees).
func TestExportWhileCommitting(t *testing.T) {
	m, err := Open(t.TempDir(), names, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	build(t, m, 1, 3)
	want := export(t, m, 3)
	done := make(chan error)
	go func() {
		for i := 0; i < 20; i++ {
			var buf bytes.Buffer
			if err := m.Export(3, &buf); err != nil {
				done <- err
				return
			}
			if !bytes.Equal(buf.Bytes(), want) {
				done <- errors.New("export changed while committing")
				return
			}
		}
		done <- nil
	}()
	build(t, m, 4, 40)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestDetachedAtWhileCommitting: a detached view reads the same values and
// AppHash as At's view while later versions are written and committed
// concurrently (run with -race: it must share nothing with the working
// trees).
func TestDetachedAtWhileCommitting(t *testing.T) {
	m, err := Open(t.TempDir(), names, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	hashes := build(t, m, 1, 3)
	type kv struct{ store, key, value string }
	var want []kv
	at, err := m.At(3)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := at.Iterate(n, nil, nil, func(k, v []byte) bool {
			want = append(want, kv{n, string(k), string(v)})
			return true
		}); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error)
	go func() {
		for i := 0; i < 20; i++ {
			v, release, err := m.DetachedAt(3, 100)
			if err != nil {
				done <- err
				return
			}
			if !bytes.Equal(v.AppHash(), hashes[3]) {
				release()
				done <- fmt.Errorf("detached AppHash %X, committed %X", v.AppHash(), hashes[3])
				return
			}
			for _, w := range want {
				got, err := v.Get(w.store, []byte(w.key))
				if err != nil || string(got) != w.value {
					release()
					done <- fmt.Errorf("%s/%s: %q %v, want %q", w.store, w.key, got, err, w.value)
					return
				}
			}
			release()
		}
		done <- nil
	}()
	build(t, m, 4, 40)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.DetachedAt(41, 100); !errors.Is(err, ErrVersionNotFound) {
		t.Fatalf("uncommitted version: %v", err)
	}
}

// TestPeekSnapshot: the header of a stream's first bytes gives its version
// and AppHash; a prefix cut inside the header says so; garbage is refused.
func TestPeekSnapshot(t *testing.T) {
	m, err := OpenMem(names, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	hashes := build(t, m, 1, 5)
	stream := export(t, m, 5)
	v, h, err := PeekSnapshot(stream[:600])
	if err != nil || v != 5 || !bytes.Equal(h, hashes[5]) {
		t.Fatalf("peek: %d %X %v, want 5 %X", v, h, err, hashes[5])
	}
	if _, _, err := PeekSnapshot(stream[:12]); !errors.Is(err, ErrShortHeader) {
		t.Fatalf("cut header: %v", err)
	}
	if _, _, err := PeekSnapshot([]byte("not a snapshot at all")); !errors.Is(err, ErrBadSnapshot) {
		t.Fatalf("garbage: %v", err)
	}
}
