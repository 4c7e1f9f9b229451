package store

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// TestReader: a Reader serves every committed version, refuses one not yet
// committed, and sees a commit made after it was opened.
func TestReader(t *testing.T) {
	m, err := Open(t.TempDir(), []string{"a", "b"}, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	r := m.NewReader(100)
	defer r.Close()
	if _, err := r.At(1); !errors.Is(err, ErrVersionNotFound) {
		t.Fatalf("before any commit: %v", err)
	}
	for v := 1; v <= 3; v++ {
		if err := m.Set("a", []byte("k"), fmt.Appendf(nil, "v%d", v)); err != nil {
			t.Fatal(err)
		}
		if err := m.Set("b", []byte("seed"), []byte("1")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := m.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	// Written but not committed: invisible to the reader.
	if err := m.Set("a", []byte("k"), []byte("v4")); err != nil {
		t.Fatal(err)
	}
	if r.Latest() != 3 {
		t.Fatalf("latest %d", r.Latest())
	}
	for v := int64(1); v <= 3; v++ {
		view, err := r.At(v)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := view.Get("a", []byte("k"))
		want, _ := m.At(v)
		if !bytes.Equal(got, fmt.Appendf(nil, "v%d", v)) || !bytes.Equal(view.AppHash(), want.AppHash()) {
			t.Fatalf("version %d: %q, AppHash %X want %X", v, got, view.AppHash(), want.AppHash())
		}
	}
	if _, err := r.At(4); !errors.Is(err, ErrVersionNotFound) {
		t.Fatalf("uncommitted version: %v", err)
	}
}

// TestRangeProofArguments: a start key that exists, or no limit, is refused.
func TestRangeProofArguments(t *testing.T) {
	m, err := OpenMem([]string{"a"}, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	_ = m.Set("a", []byte("k1"), []byte("1"))
	if _, _, err := m.Commit(); err != nil {
		t.Fatal(err)
	}
	view, _ := m.At(1)
	if _, err := view.RangeProof("a", []byte("k1"), nil, 10); err == nil {
		t.Error("range proof from a present start key")
	}
	if _, err := view.RangeProof("a", []byte("k0"), nil, 0); err == nil {
		t.Error("range proof without a limit")
	}
	if _, err := view.RangeProof("nope", []byte("k0"), nil, 1); !errors.Is(err, ErrUnknownStore) {
		t.Errorf("unknown store: %v", err)
	}
	rp, err := view.RangeProof("a", []byte("k0"), nil, 10)
	if err != nil || len(rp.Keys) != 1 || string(rp.Keys[0]) != "k1" || len(rp.Proof.GetCompressed().Entries) != 2 {
		t.Fatalf("range proof: %+v %v", rp, err)
	}
}
