package verify_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	cmtprotoversion "github.com/cometbft/cometbft/proto/tendermint/version"
	cmttypes "github.com/cometbft/cometbft/types"
	cmtversion "github.com/cometbft/cometbft/version"

	"github.com/civicledger/civicledger/ledger/verify"
)

// synthChain makes a chain of n blocks signed by 4 validators whose set
// changes every eraLen blocks (one key rotated each time; eraLen 0: never).
func synthChain(tb testing.TB, n, eraLen int) map[int64]*cmttypes.LightBlock {
	tb.Helper()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	keysAt := func(h int64) []cmted25519.PrivKey {
		era := 0
		if eraLen > 0 {
			era = int((h - 1) / int64(eraLen))
		}
		keys := keysFrom("base", 4)
		// Era e has key e%4 replaced by a key of its own.
		if era > 0 {
			keys[era%4] = cmted25519.GenPrivKeyFromSecret(fmt.Appendf(nil, "era-%d", era))
		}
		return keys
	}
	setOf := func(keys []cmted25519.PrivKey) *cmttypes.ValidatorSet {
		vals := make([]*cmttypes.Validator, len(keys))
		for i, k := range keys {
			vals[i] = cmttypes.NewValidator(k.PubKey(), 10)
		}
		return cmttypes.NewValidatorSet(vals)
	}
	out := map[int64]*cmttypes.LightBlock{}
	var lastID cmttypes.BlockID
	for h := int64(1); h <= int64(n); h++ {
		keys := keysAt(h)
		vals, next := setOf(keys), setOf(keysAt(h+1))
		hdr := &cmttypes.Header{
			Version: cmtprotoversion.Consensus{Block: cmtversion.BlockProtocol, App: 1},
			ChainID: unitChain, Height: h, Time: t0.Add(time.Duration(h) * time.Second), LastBlockID: lastID,
			ValidatorsHash: vals.Hash(), NextValidatorsHash: next.Hash(), AppHash: bytes.Repeat([]byte{byte(h)}, 32),
			ConsensusHash: bytes.Repeat([]byte{9}, 32), EvidenceHash: cmttypes.EvidenceList{}.Hash(),
			DataHash: cmttypes.Txs{}.Hash(), LastResultsHash: cmttypes.NewResults(nil).Hash(),
			ProposerAddress: vals.Validators[0].Address,
		}
		id := cmttypes.BlockID{Hash: hdr.Hash(), PartSetHeader: cmttypes.PartSetHeader{Total: 1, Hash: bytes.Repeat([]byte{1}, 32)}}
		commit := &cmttypes.Commit{Height: h, BlockID: id, Signatures: make([]cmttypes.CommitSig, vals.Size())}
		for _, k := range keys {
			idx, _ := vals.GetByAddress(k.PubKey().Address())
			commit.Signatures[idx] = cmttypes.CommitSig{BlockIDFlag: cmttypes.BlockIDFlagCommit, ValidatorAddress: k.PubKey().Address(), Timestamp: hdr.Time}
		}
		for _, k := range keys {
			idx, _ := vals.GetByAddress(k.PubKey().Address())
			sig, err := k.Sign(commit.VoteSignBytes(unitChain, idx))
			if err != nil {
				tb.Fatal(err)
			}
			commit.Signatures[idx].Signature = sig
		}
		out[h] = &cmttypes.LightBlock{SignedHeader: &cmttypes.SignedHeader{Header: hdr, Commit: commit}, ValidatorSet: vals}
		lastID = id
	}
	return out
}

// TestChainAcrossEras checks BundleChain through many changes of validator
// set: it finds the last and first header of every era, and the result
// verifies with Chain; a skip over any change fails.
func TestChainAcrossEras(t *testing.T) {
	blocks := synthChain(t, 400, 50)
	now := blocks[400].Time.Add(time.Minute)
	fetched := 0
	chain, err := verify.BundleChain(blocks[1], []*cmttypes.LightBlock{blocks[400]}, func(lo, hi int64) (*cmttypes.LightBlock, error) {
		fetched++
		return blocks[lo+(hi-lo)/2], nil
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]bool{}
	for _, lb := range chain {
		got[lb.Height] = true
	}
	for e := int64(50); e < 400; e += 50 {
		if !got[e] || !got[e+1] {
			t.Errorf("the chain lacks header %d or %d, the change of era", e, e+1)
		}
	}
	if _, err := verify.Chain(chain[0], chain[1:], now); err != nil {
		t.Fatal(err)
	}
	t.Logf("1 → 400 across 7 changes: %d headers, %d fetched", len(chain), fetched)
	if err := verify.Next(blocks[49], blocks[52], now); err == nil {
		t.Error("skipped across the change at 51")
	}
}

// BenchmarkChainAcrossEras measures verifying header 1,000 from header 1
// (what a verifier or a bundle does from the genesis trust root), with no
// change of validator set and with one every 100 or every 10 blocks.
func BenchmarkChainAcrossEras(b *testing.B) {
	for _, eraLen := range []int{0, 100, 10} {
		blocks := synthChain(b, 1000, eraLen)
		now := blocks[1000].Time.Add(time.Minute)
		name := "no-change"
		if eraLen > 0 {
			name = fmt.Sprintf("change-every-%d", eraLen)
		}
		b.Run(name, func(b *testing.B) {
			var headers, fetched int
			for b.Loop() {
				fetched = 0
				chain, err := verify.BundleChain(blocks[1], []*cmttypes.LightBlock{blocks[1000]}, func(lo, hi int64) (*cmttypes.LightBlock, error) {
					fetched++
					return blocks[lo+(hi-lo)/2], nil
				}, now)
				if err != nil {
					b.Fatal(err)
				}
				headers = len(chain)
			}
			b.ReportMetric(float64(headers), "headers")
			b.ReportMetric(float64(fetched), "fetched")
		})
	}
}
