package verify_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/civicledger/civicledger/ledger/verify"
)

// FuzzBundle: an evidence bundle file, parsed (ParseBundle) and verified
// (VerifyBundle) against the fixture's real genesis, never panics, not even
// a panic VerifyBundle would recover as "malformed bundle" (every shape
// must be refused by a check). A parsed bundle's encoding is canonical
// (Marshal, ParseBundle, Marshal gives the same bytes); a refusal is a
// *BundleError naming a step, and the report's last step is that failure;
// an accepted bundle has a VERIFIED outcome and verifies the same after an
// encoding round trip. Seeds are the fixture's real bundles of every kind.
func FuzzBundle(f *testing.F) {
	fx := newFixture(f)
	for _, b := range []*verify.Bundle{
		fx.recordBundle(f, "grant", "G-1", 5),
		fx.recordBundle(f, "grant", "G-404", 5),
		fx.recordBundle(f, "total", "agency-1/EUR", 2),
		fx.recordBundle(f, "agency", "agency-1", 1),
		fx.txBundle(f, 1),
		fx.txBundle(f, 2),
		fx.firstBlockTxBundle(),
	} {
		bz, err := b.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(bz)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	now := fx.now()

	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := verify.ParseBundle(data)
		if err != nil {
			if b != nil {
				t.Fatal("ParseBundle returned a bundle with an error")
			}
			return
		}
		enc, err := b.Marshal()
		if err != nil {
			return // a parsed value the encoder cannot write (e.g. an invalid time): VerifyBundle must still refuse it cleanly
		}
		b2, err := verify.ParseBundle(enc)
		if err != nil {
			t.Fatalf("re-encoded bundle does not parse: %v\n%s", err, enc)
		}
		enc2, err := b2.Marshal()
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("bundle encoding not canonical (%v):\n %s\n %s", err, enc, enc2)
		}

		rep, err := verify.VerifyBundle(b, fx.genesis, fx.genesisSum, now)
		if rep == nil {
			t.Fatal("no report")
		}
		if err != nil {
			if strings.Contains(err.Error(), "malformed bundle:") {
				t.Fatalf("VerifyBundle recovered a panic: %v", err)
			}
			var be *verify.BundleError
			if !errors.As(err, &be) || be.Step == "" {
				t.Fatalf("refusal is not a *BundleError naming its step: %v", err)
			}
			if len(rep.Steps) == 0 || rep.Steps[len(rep.Steps)-1].Name != be.Step {
				t.Fatalf("report's last step is not the failure %q: %+v", be.Step, rep.Steps)
			}
			if rep.Outcome != "" {
				t.Fatalf("refused bundle with outcome %q", rep.Outcome)
			}
			return
		}
		if !strings.HasPrefix(rep.Outcome, "VERIFIED") {
			t.Fatalf("accepted bundle with outcome %q", rep.Outcome)
		}
		rep2, err := verify.VerifyBundle(b2, fx.genesis, fx.genesisSum, now)
		if err != nil || rep2.Outcome != rep.Outcome {
			t.Fatalf("accepted bundle refused after a round trip: %v (%q, %q)", err, rep.Outcome, rep2.Outcome)
		}
	})
}
