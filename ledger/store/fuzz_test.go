package store_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"

	"github.com/civicledger/civicledger/ledger/store"
)

var fuzzStores = []string{"alpha", "beta", "gamma"}

// maxFuzzVersion bounds the version a fuzzed stream may be imported at.
// The version is the caller's trusted height (the restore's is the height
// whose AppHash the light client verified, and ImportChecked compares the
// stream's AppHash before importing), and IAVL's importer allocates 4 bytes
// per version below it: a stream header claiming version 10^10 would make
// the fuzzer, not the node, allocate 40 GB.
const maxFuzzVersion = 1 << 12

// fuzzSeedStream returns a real snapshot stream: the export of a state of
// a few versions over fuzzStores (gamma stays empty), and its version.
func fuzzSeedStream(tb testing.TB, versions, keys int) ([]byte, int64) {
	tb.Helper()
	m, err := store.OpenMem(fuzzStores, store.DefaultOptions())
	if err != nil {
		tb.Fatal(err)
	}
	defer m.Close()
	var v int64
	for i := range versions {
		for k := range keys {
			st := fuzzStores[(i+k)%2]
			if err := m.Set(st, fmt.Appendf(nil, "k%03d", k*(i+1)%97), fmt.Appendf(nil, "value %d at %d", k, i)); err != nil {
				tb.Fatal(err)
			}
		}
		if i > 0 {
			if err := m.Delete(fuzzStores[0], fmt.Appendf(nil, "k%03d", i)); err != nil {
				tb.Fatal(err)
			}
		}
		if _, v, err = m.Commit(); err != nil {
			tb.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := m.Export(v, &buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes(), v
}

// FuzzImport: a hostile snapshot stream is refused without panic. The input
// is a stream without its trailing checksum, which the target appends (a
// hostile peer can compute it too), so the fuzzer reaches every check after
// the framing: store names and roots, the node order and tree shape, IAVL's
// own checks. A refusal wraps ErrBadSnapshot (content, not storage: the
// restore rejects the snapshot rather than aborting) and leaves the store
// empty; an accepted stream is canonical: exporting the imported version
// gives the input back byte for byte, and PeekSnapshot names its version and
// AppHash. Streams claiming a version above maxFuzzVersion are skipped.
// Seeds are real exports.
func FuzzImport(f *testing.F) {
	for _, shape := range [][2]int{{1, 1}, {1, 5}, {3, 8}, {6, 20}} {
		stream, _ := fuzzSeedStream(f, shape[0], shape[1])
		f.Add(stream[:len(stream)-sha256.Size])
	}
	f.Add([]byte("CIVSNAP\x00"))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, body []byte) {
		sum := sha256.Sum256(body)
		stream := append(bytes.Clone(body), sum[:]...)

		version := int64(1)
		peekVersion, peekHash, peekErr := store.PeekSnapshot(stream)
		if peekErr == nil && peekVersion > maxFuzzVersion {
			return
		}
		if peekErr == nil && peekVersion > 0 {
			version = peekVersion
		}

		m, err := store.OpenMem(fuzzStores, store.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		err = m.Import(version, bytes.NewReader(stream))
		if err != nil {
			if !errors.Is(err, store.ErrBadSnapshot) {
				t.Fatalf("refusal is not ErrBadSnapshot: %v", err)
			}
			if v := m.Version(); v != 0 {
				t.Fatalf("refused import left version %d", v)
			}
			return
		}
		if peekErr != nil {
			t.Fatalf("imported a stream PeekSnapshot refuses: %v", peekErr)
		}
		hash, err := m.LastHash()
		if err != nil {
			t.Fatal(err)
		}
		if m.Version() != peekVersion || !bytes.Equal(hash, peekHash) {
			t.Fatalf("imported version %d hash %X; the header says %d %X", m.Version(), hash, peekVersion, peekHash)
		}
		var out bytes.Buffer
		if err := m.Export(version, &out); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), stream) {
			t.Fatalf("imported stream is not canonical:\n in  %x\n out %x", stream, out.Bytes())
		}
	})
}
