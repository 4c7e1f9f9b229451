package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	idb "github.com/cosmos/iavl/db"
)

// corruptFixture commits versions of a few hundred keys per store to a
// goleveldb store in dir and reopens it once, so that goleveldb moves its
// journal into a sorted table (.ldb). It returns every key and value at
// the last version and its AppHash.
func corruptFixture(t *testing.T, dir string) (map[string][]byte, []byte, int64) {
	t.Helper()
	m, err := Open(dir, names, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	for v := 1; v <= 5; v++ {
		for _, n := range names {
			for i := 0; i < 200; i++ {
				key := fmt.Sprintf("key-%04d", (i*37+v)%400)
				if err := m.Set(n, []byte(key), []byte(fmt.Sprintf("%s value %d at %d", n, i, v))); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, _, err := m.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m, err = Open(dir, names, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	want, hash := readAll(t, m)
	return want, hash, m.Version()
}

func readAll(t *testing.T, m *MultiStore) (map[string][]byte, []byte) {
	t.Helper()
	view, err := m.At(m.Version())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, n := range names {
		if err := view.Iterate(n, nil, nil, func(k, v []byte) bool {
			out[n+"/"+string(k)] = bytes.Clone(v)
			return true
		}); err != nil {
			t.Fatalf("iterate %s: %v", n, err)
		}
	}
	return out, view.AppHash()
}

// TestOpenDetectsFlippedTableByte flips one byte of the state database's
// sorted table, at offsets spread over the whole file and at every byte of
// its footer, and opens the store each time: Open must fail with
// ErrCorrupt, naming the database and the table file. Damaged state is
// never served.
func TestOpenDetectsFlippedTableByte(t *testing.T) {
	dir := t.TempDir()
	want, wantHash, version := corruptFixture(t, dir)
	tables, _ := filepath.Glob(filepath.Join(dir, "application.db", "*.ldb"))
	if len(tables) == 0 {
		t.Fatal("the fixture has no .ldb table")
	}
	slices.Sort(tables)
	table := tables[len(tables)-1]
	orig, err := os.ReadFile(table)
	if err != nil {
		t.Fatal(err)
	}
	var offsets []int
	for k := 0; k < 200; k++ {
		offsets = append(offsets, k*(len(orig)-49)/199)
	}
	for off := len(orig) - 48; off < len(orig); off++ {
		offsets = append(offsets, off)
	}
	for _, off := range offsets {
		bad := bytes.Clone(orig)
		bad[off] ^= 0x20
		if err := os.WriteFile(table, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := Open(dir, names, DefaultOptions())
		if err == nil {
			got, hash := readAll(t, m)
			_ = m.Close()
			t.Fatalf("byte %d of %d flipped: Open accepted the table (version %d, AppHash %X, %d keys; want AppHash %X, %d keys)",
				off, len(orig), version, hash, len(got), wantHash, len(want))
		}
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "application.db") || !strings.Contains(err.Error(), filepath.Base(table)) {
			t.Fatalf("byte %d of %d flipped: Open error %q does not say ErrCorrupt, application.db and %s", off, len(orig), err, filepath.Base(table))
		}
	}
	if err := os.WriteFile(table, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Open(dir, names, DefaultOptions())
	if err != nil {
		t.Fatalf("the restored table: %v", err)
	}
	_ = m.Close()
	t.Logf("%s (%d bytes): each of %d flipped bytes (the last 48 are the footer) detected at Open", filepath.Base(table), len(orig), len(offsets))
}

// TestIterateReportsDamagedBlock opens a state database with a flipped byte
// in a table without the start-up check (as if the block went bad while the
// node ran) and lists every store at the last version: each listing must
// either be complete and exact or fail with an error. IAVL's own iterator
// ends early without one.
func TestIterateReportsDamagedBlock(t *testing.T) {
	dir := t.TempDir()
	want, _, _ := corruptFixture(t, dir)
	tables, _ := filepath.Glob(filepath.Join(dir, "application.db", "*.ldb"))
	slices.Sort(tables)
	table := tables[len(tables)-1]
	orig, err := os.ReadFile(table)
	if err != nil {
		t.Fatal(err)
	}
	const tries = 30
	failed := 0
	for k := 1; k < tries; k++ {
		off := k * (len(orig) - 1) / tries
		bad := bytes.Clone(orig)
		bad[off] ^= 0x20
		if err := os.WriteFile(table, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		db, err := idb.NewGoLevelDB("application", dir)
		if err != nil {
			continue // goleveldb refused it itself
		}
		m, err := newMultiStore(db, func(p []byte) idb.DB { return idb.NewPrefixDB(db, p) }, db.Delete, names, DefaultOptions())
		if err != nil {
			continue // newMultiStore closed db
		}
		view, err := m.At(m.Version())
		if err != nil {
			_ = m.Close()
			continue
		}
		for _, n := range names {
			got := 0
			err := view.Iterate(n, nil, nil, func(key, v []byte) bool {
				if !bytes.Equal(want[n+"/"+string(key)], v) {
					t.Fatalf("byte %d flipped: store %s key %s = %q, want %q", off, n, key, v, want[n+"/"+string(key)])
				}
				got++
				return true
			})
			if err != nil {
				if !strings.Contains(err.Error(), "store "+n) {
					t.Fatalf("byte %d flipped: the error does not name store %s: %v", off, n, err)
				}
				failed++
				break
			}
			if got != len(want)/len(names) {
				t.Fatalf("byte %d flipped: store %s listed %d keys without an error, want %d", off, n, got, len(want)/len(names))
			}
		}
		_ = m.Close()
	}
	if failed == 0 {
		t.Fatal("no flipped byte made a listing fail: the test did not reach a damaged block")
	}
	t.Logf("%d of %d flipped bytes made a listing fail with an error; every other listing was complete and exact", failed, tries-1)
}

// TestVerifyTablesHealthy: a healthy database of several tables (levels 0
// and 1 after compactions, filter and snappy-compressed blocks) passes the
// start-up check, every live table counted.
func TestVerifyTablesHealthy(t *testing.T) {
	dir := t.TempDir()
	m, err := Open(dir, names, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	val := bytes.Repeat([]byte("grant record "), 20)
	for v := 0; v < 6; v++ {
		for i := 0; i < 5000; i++ {
			if err := m.Set(names[i%len(names)], []byte(fmt.Sprintf("record/%07d", v*5000+i)), val); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := m.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := idb.NewGoLevelDB("application", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	prop, err := db.RawDB().GetProperty("leveldb.sstables")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(liveTable.FindAllString(prop, -1)); n < 2 {
		t.Fatalf("%d live tables, want several:\n%s", n, prop)
	}
	if err := verifyTables(db.RawDB(), filepath.Join(dir, "application.db")); err != nil {
		t.Fatalf("a healthy database: %v", err)
	}
}
