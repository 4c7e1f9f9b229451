package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.json")
	if err := Write(p, []byte("one"), 0o600, false); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, []byte("two"), 0o600, false); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second non-replacing write: %v, want fs.ErrExist", err)
	}
	if bz, _ := os.ReadFile(p); string(bz) != "one" {
		t.Fatalf("a refused write changed the file: %q", bz)
	}
	if err := Write(p, []byte("three"), 0o600, true); err != nil {
		t.Fatal(err)
	}
	if bz, _ := os.ReadFile(p); string(bz) != "three" {
		t.Fatalf("replacing write: %q", bz)
	}
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm()&0o077 != 0 {
		t.Fatalf("mode %v (%v), want at most 0600", st.Mode(), err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	if err := Write(filepath.Join(dir, "no", "such"), []byte("x"), 0o600, true); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("write into a missing directory: %v", err)
	}
}

// TestWriteRace: of many writers creating one file, exactly one succeeds and
// the file holds its bytes.
func TestWriteRace(t *testing.T) {
	p := filepath.Join(t.TempDir(), "k")
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = Write(p, []byte{byte('a' + i)}, 0o600, false) })
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Fatalf("writers %d and %d both created the file", won, i)
		case err == nil:
			won = i
		case !errors.Is(err, fs.ErrExist):
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	if bz, _ := os.ReadFile(p); won < 0 || string(bz) != string(rune('a'+won)) {
		t.Fatalf("winner %d, file %q", won, bz)
	}
}
