package store

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// rewriteRootKey re-encodes an export stream, replacing the key of the root
// (last inner node) of the first store with newKey, and re-computes the
// trailing checksum. Inner-node keys are not part of IAVL node hashes.
func rewriteRootKey(t *testing.T, stream []byte, newKey []byte) []byte {
	t.Helper()
	r := bufio.NewReader(bytes.NewReader(stream[:len(stream)-sha256.Size]))
	var out []byte
	u := func() uint64 {
		v, err := binary.ReadUvarint(r)
		if err != nil {
			t.Fatal(err)
		}
		out = binary.AppendUvarint(out, v)
		return v
	}
	raw := func(n int) []byte {
		p := make([]byte, n)
		if _, err := r.Read(p); err != nil && n > 0 {
			t.Fatal(err)
		}
		return p
	}
	bs := func() []byte { n := u(); p := raw(int(n)); out = append(out, p...); return p }
	out = append(out, raw(len(snapshotMagic))...)
	u()
	u()
	count := u()
	for i := uint64(0); i < count; i++ {
		bs()
		bs()
		u()
	}
	for s := uint64(0); s < count; s++ {
		var lastInner = -1
		for {
			tag := raw(1)[0]
			out = append(out, tag)
			if tag == tagEnd {
				break
			}
			h := raw(1)[0]
			out = append(out, h)
			u()
			at := len(out)
			bs()
			if h == 0 {
				bs()
			} else {
				lastInner = at
			}
		}
		if s == 0 {
			if lastInner < 0 {
				t.Fatal("no inner node")
			}
			// re-encode the root key
			kr := bytes.NewReader(out[lastInner:])
			n, _ := binary.ReadUvarint(kr)
			hdr := len(out[lastInner:]) - kr.Len()
			end := lastInner + hdr + int(n)
			var rep []byte
			rep = binary.AppendUvarint(rep, uint64(len(newKey)))
			rep = append(rep, newKey...)
			out = append(append(append([]byte{}, out[:lastInner]...), rep...), out[end:]...)
		}
	}
	sum := sha256.Sum256(out)
	return append(out, sum[:]...)
}

// TestImportRefusesForgedInnerKeys: a stream whose inner-node (split) key was
// altered still matches every hash (IAVL does not hash inner keys) and the
// trusted AppHash, but would route lookups wrongly (existing keys reading as
// absent). Import must refuse it by the key-order check.
func TestImportRefusesForgedInnerKeys(t *testing.T) {
	src, err := OpenMem([]string{"a", "b"}, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	hashes := build(t, src, 1, 6)
	stream := export(t, src, 6)
	forged := rewriteRootKey(t, stream, []byte("\x00"))
	if bytes.Equal(forged, stream) {
		t.Fatal("setup: nothing changed")
	}
	dst, err := OpenMem([]string{"a", "b"}, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	err = dst.ImportChecked(6, bytes.NewReader(forged), hashes[6])
	if !errors.Is(err, ErrBadSnapshot) || !strings.Contains(err.Error(), "smallest key of its right subtree") {
		t.Fatalf("forged split key: %v, want a refused snapshot", err)
	}
	if dst.Version() != 0 {
		t.Fatalf("refused import left version %d", dst.Version())
	}
	// The same stream unforged imports.
	if err := dst.ImportChecked(6, bytes.NewReader(stream), hashes[6]); err != nil {
		t.Fatal(err)
	}
}
