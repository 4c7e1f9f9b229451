package store

import (
	"bytes"
	"fmt"
	"testing"

	ics23 "github.com/cosmos/ics23/go"
)

var names = []string{"alpha", "beta", "gamma"}

func fill(t *testing.T, m *MultiStore, version int) {
	t.Helper()
	for _, n := range names {
		for i := 0; i < 20; i++ {
			if err := m.Set(n, []byte(fmt.Sprintf("k%03d", i)), []byte(fmt.Sprintf("%s-v%d-%d", n, version, i))); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestCrashBetweenTreeSaves simulates a kill -9 after some trees saved
// version 3 and others did not: reopening rolls every tree back to the last
// common version, with the AppHash committed for it.
func TestCrashBetweenTreeSaves(t *testing.T) {
	dir := t.TempDir()
	m, err := Open(dir, names, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	var hash2 []byte
	for v := 1; v <= 2; v++ {
		fill(t, m, v)
		want := m.WorkingHash()
		h, ver, err := m.Commit()
		if err != nil || ver != int64(v) || !bytes.Equal(h, want) {
			t.Fatalf("commit %d: %X %d %v (working %X)", v, h, ver, err, want)
		}
		hash2 = h
	}
	fill(t, m, 3)
	want3 := m.WorkingHash()
	if _, _, err := m.trees["alpha"].SaveVersion(); err != nil { // only one tree reaches version 3
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m, err = Open(dir, names, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Version() != 2 {
		t.Fatalf("version after reopen = %d, want 2", m.Version())
	}
	if h, err := m.LastHash(); err != nil || !bytes.Equal(h, hash2) {
		t.Fatalf("hash after reopen %X, want %X (%v)", h, hash2, err)
	}
	// Block 3 can be replayed and committed again, to the state it would
	// have had without the crash, and the store goes on from there.
	fill(t, m, 3)
	if h, v, err := m.Commit(); err != nil || v != 3 || !bytes.Equal(h, want3) {
		t.Fatalf("recommit 3: version %d hash %X (%v), want version 3 hash %X", v, h, err, want3)
	}
	fill(t, m, 4)
	want4 := m.WorkingHash()
	if h, v, err := m.Commit(); err != nil || v != 4 || !bytes.Equal(h, want4) {
		t.Fatalf("commit 4 after the replay: version %d hash %X (%v), want %X", v, h, err, want4)
	}
	for _, n := range names {
		view, err := m.At(3)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := view.Get(n, []byte("k007")); err != nil || string(got) != n+"-v3-7" {
			t.Fatalf("store %s at 3: k007 = %q (%v)", n, got, err)
		}
	}
}

// TestProofs checks both proof steps with ics23 for present and absent keys,
// for every store position in the multistore (first, middle, last).
func TestProofs(t *testing.T) {
	m, err := OpenMem(names, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	fill(t, m, 1)
	appHash, _, err := m.Commit()
	if err != nil {
		t.Fatal(err)
	}
	view, err := m.At(1)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		for _, k := range []string{"k005", "k999", "a"} {
			v, ip, sp, err := view.Proof(n, []byte(k))
			if err != nil {
				t.Fatal(err)
			}
			root, err := ip.Calculate()
			if err != nil {
				t.Fatal(err)
			}
			if v != nil {
				if !ics23.VerifyMembership(ics23.IavlSpec, root, ip, []byte(k), v) {
					t.Fatalf("%s/%s: membership fails", n, k)
				}
			} else if !ics23.VerifyNonMembership(ics23.IavlSpec, root, ip, []byte(k)) {
				t.Fatalf("%s/%s: non-membership fails", n, k)
			}
			if !ics23.VerifyMembership(ics23.TendermintSpec, appHash, sp, []byte(n), root) {
				t.Fatalf("%s: store proof fails", n)
			}
			// The store proof does not prove another store's root.
			other := names[(indexOf(n)+1)%len(names)]
			otherRoot, _ := view.StoreRoot(other)
			if ics23.VerifyMembership(ics23.TendermintSpec, appHash, sp, []byte(other), otherRoot) {
				t.Fatalf("%s proof verifies for %s", n, other)
			}
		}
	}
	if _, err := m.At(7); err == nil {
		t.Fatal("At(uncommitted version) must fail")
	}
}

func indexOf(n string) int {
	for i, x := range names {
		if x == n {
			return i
		}
	}
	return -1
}

func TestStoreProofAllSizes(t *testing.T) {
	for total := 1; total <= 9; total++ {
		var ns []string
		var roots [][]byte
		for i := 0; i < total; i++ {
			ns = append(ns, fmt.Sprintf("s%d", i))
			roots = append(roots, bytes.Repeat([]byte{byte(i + 1)}, 32))
		}
		app := AppHash(ns, roots)
		for i := range ns {
			p, err := StoreProof(ns, roots, i)
			if err != nil {
				t.Fatal(err)
			}
			if !ics23.VerifyMembership(ics23.TendermintSpec, app, p, []byte(ns[i]), roots[i]) {
				t.Fatalf("total %d index %d: proof fails", total, i)
			}
		}
	}
}
