package verify_test

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	cmtmath "github.com/cometbft/cometbft/libs/math"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/civicledger/civicledger/ledger/verify"
)

// forge signs a copy of header hdr (with the validator set vals named in it)
// with keys only, as a coalition holding those keys could.
func forge(t *testing.T, chainID string, hdr cmttypes.Header, vals *cmttypes.ValidatorSet, keys []cmted25519.PrivKey) *cmttypes.LightBlock {
	t.Helper()
	hdr.ValidatorsHash, hdr.NextValidatorsHash = vals.Hash(), vals.Hash()
	hdr.ProposerAddress = vals.Validators[0].Address
	id := cmttypes.BlockID{Hash: hdr.Hash(), PartSetHeader: cmttypes.PartSetHeader{Total: 1, Hash: bytes.Repeat([]byte{0xF0}, 32)}}
	commit := &cmttypes.Commit{Height: hdr.Height, BlockID: id, Signatures: make([]cmttypes.CommitSig, vals.Size())}
	for i := range commit.Signatures {
		commit.Signatures[i] = cmttypes.NewCommitSigAbsent()
	}
	for _, k := range keys {
		idx, _ := vals.GetByAddress(k.PubKey().Address())
		if idx < 0 {
			t.Fatalf("key %X is not in the set", k.PubKey().Address())
		}
		commit.Signatures[idx] = cmttypes.CommitSig{BlockIDFlag: cmttypes.BlockIDFlagCommit, ValidatorAddress: k.PubKey().Address(), Timestamp: hdr.Time}
		sig, err := k.Sign(commit.VoteSignBytes(chainID, idx))
		if err != nil {
			t.Fatal(err)
		}
		commit.Signatures[idx].Signature = sig
	}
	return &cmttypes.LightBlock{SignedHeader: &cmttypes.SignedHeader{Header: &hdr, Commit: commit}, ValidatorSet: vals}
}

// The fixture's set A (genesis) hands over to set B at height 4: from there
// A's keys are retired. Two of A's four keys (half its power: more than the
// 1/3 CometBFT's skipping rule asks of a trusted set) sign a header at height
// 6 with a validator set of their own (themselves) and a made-up AppHash —
// that of state version 2, in which grant G-1 has an old value — and build a
// bundle that skips from the first block straight to it. It must not verify;
// nor may the same two keys sign for the whole genesis set.
func TestBundleRetiredKeysForgery(t *testing.T) {
	f := newFixture(t)
	keysA := keysFrom("a", 4)
	retired := keysA[:2]
	own := valSet(t, retired)
	genesisSet := f.blocks[1].ValidatorSet

	hdr := *f.blocks[6].Header
	hdr.AppHash = f.appHashes[2]
	forgedOwn := forge(t, f.chainID, hdr, own, retired)
	forgedGenesisSet := forge(t, f.chainID, hdr, genesisSet, retired)

	// The forgeries are well made: each commit really holds the two
	// retired keys' valid signatures, and under CometBFT's light-client
	// skipping rule the first would pass.
	if err := own.VerifyCommitLightAllSignatures(f.chainID, forgedOwn.Commit.BlockID, 6, forgedOwn.Commit); err != nil {
		t.Fatalf("forged commit does not verify under its own set: %v", err)
	}
	oneThird := func(lb *cmttypes.LightBlock) error {
		return genesisSet.VerifyCommitLightTrusting(f.chainID, lb.Commit, cmtmath.Fraction{Numerator: 1, Denominator: 3})
	}
	if err := oneThird(forgedOwn); err != nil {
		t.Fatalf("forged commit lacks a third of the genesis power: %v", err)
	}

	for name, forged := range map[string]*cmttypes.LightBlock{"own validator set": forgedOwn, "genesis validator set": forgedGenesisSet} {
		t.Run(name, func(t *testing.T) {
			b := f.recordBundle(t, "grant", "G-1", 5)
			b.Query = f.query(t, "grants", []byte("G-1"), 2)
			b.Query.Response.Height = 5
			b.LightBlocks = []*cmttypes.LightBlock{f.blocks[1], forged}
			rep, err := verify.VerifyBundle(roundTrip(t, b), f.genesis, f.genesisSum, f.now())
			if err == nil {
				t.Fatalf("forged bundle VERIFIED: %+v", rep.Steps)
			}
			var be *verify.BundleError
			if !asBundleErr(err, &be) || be.Step != verify.StepHeaderChain {
				t.Fatalf("failed at %v, want the header chain", err)
			}
			if rep.Outcome != "" {
				t.Fatalf("outcome %q", rep.Outcome)
			}
			t.Logf("refused: %v", err)
		})
	}
	// Nor can the forgery be reached through the real headers of A's era.
	b := f.recordBundle(t, "grant", "G-1", 5)
	b.Query = f.query(t, "grants", []byte("G-1"), 2)
	b.Query.Response.Height = 5
	b.LightBlocks = []*cmttypes.LightBlock{f.blocks[1], f.blocks[2], forgedOwn}
	if _, err := verify.VerifyBundle(b, f.genesis, f.genesisSum, f.now()); err == nil || !strings.Contains(err.Error(), "never skipped across") {
		t.Fatalf("forgery after header 2: %v", err)
	}
	// Header 3 announces B: from it, only header 4 may follow.
	if err := verify.Next(f.blocks[3], f.blocks[5], f.now()); err == nil || !strings.Contains(err.Error(), "verified only adjacently") {
		t.Fatalf("skip from the last header of an era: %v", err)
	}
}

func asBundleErr(err error, be **verify.BundleError) bool { return errors.As(err, be) }

// A second light block at a verified height, with a validator set and
// commit made up by keys that never were validators, names the "signers".
// It must be refused, not skipped.
func TestBundleDuplicateLightBlock(t *testing.T) {
	f := newFixture(t)
	strangers := keysFrom("mallory", 3)
	set := valSet(t, strangers)

	good := f.recordBundle(t, "grant", "G-1", 5)
	rep, err := verify.VerifyBundle(good, f.genesis, f.genesisSum, f.now())
	if err != nil {
		t.Fatal(err)
	}
	realSigners := rep.Headers[0].Signers

	for name, dup := range map[string]*cmttypes.LightBlock{
		// The same header (same hash), with another set and commit.
		"same header, made-up commit": func() *cmttypes.LightBlock {
			lb := forge(t, f.chainID, *f.blocks[6].Header, set, strangers)
			lb.SignedHeader.Header = f.blocks[6].Header
			return lb
		}(),
		"identical copy": f.blocks[6],
	} {
		t.Run(name, func(t *testing.T) {
			b := clone(t, good)
			b.LightBlocks = append(b.LightBlocks, dup)
			rep, err := verify.VerifyBundle(roundTrip(t, b), f.genesis, f.genesisSum, f.now())
			if err == nil {
				t.Fatalf("bundle with a duplicate light block at height 6 VERIFIED, signers %+v", rep.Headers[0].Signers)
			}
			var be *verify.BundleError
			if !asBundleErr(err, &be) || be.Step != verify.StepHeaderChain || !strings.Contains(err.Error(), "one light block per height") {
				t.Fatalf("got %v", err)
			}
			for _, h := range rep.Headers {
				for _, s := range h.Signers {
					if !slices.Contains(realSigners, s) {
						t.Errorf("report names signer %+v", s)
					}
				}
			}
		})
	}
}
