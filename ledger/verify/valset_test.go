package verify_test

// Verification across a validator set change, with real networks.
//
// Governance cannot change validators yet, so the change is made through
// genesis: network B (see header_test.go) is network A with agency-4's
// validator key replaced and its power raised to 60. Agencies 1-3 sign both
// chains with the same keys, so A's and B's validator sets overlap: 30 of
// A's 40 (more than 2/3) and 30 of B's 90. A skip from an A block to a B
// block stands for a step across a validator set change, which verify.Next
// refuses whatever the overlap (only adjacent steps may change the set); C,
// which shares no key, stands for a change with no overlap.

import (
	"bytes"
	"slices"
	"testing"
	"time"

	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/civicledger/civicledger/ledger/verify"
)

// verifiedFrom returns block h of n verified from n's genesis.
func verifiedFrom(t *testing.T, n *liveNet, h int64) *cmttypes.LightBlock {
	t.Helper()
	lb1 := n.block(t, 1)
	if err := verify.FirstBlock(n.genesis, lb1); err != nil {
		t.Fatalf("block 1 of %s: %v", n.name, err)
	}
	if h == 1 {
		return lb1
	}
	lb, err := verify.Chain(lb1, []*cmttypes.LightBlock{n.block(t, h)}, time.Now())
	if err != nil {
		t.Fatalf("block %d of %s: %v", h, n.name, err)
	}
	return lb
}

// signedBy reports whether every address in addrs signed lb's commit.
func signedBy(lb *cmttypes.LightBlock, addrs []string) bool {
	var got []string
	for _, s := range verify.CommitSigners(lb.ValidatorSet, lb.Commit, nil) {
		got = append(got, s.Address)
	}
	for _, a := range addrs {
		if !slices.Contains(got, a) {
			return false
		}
	}
	return true
}

// absentExcept marks absent every commit signature of lb whose validator is
// not in keep. The remaining signatures stay valid: each signs its own vote.
func absentExcept(lb *cmttypes.LightBlock, keep []string) {
	for i, cs := range lb.Commit.Signatures {
		if cs.BlockIDFlag == cmttypes.BlockIDFlagCommit && !slices.Contains(keep, cs.ValidatorAddress.String()) {
			lb.Commit.Signatures[i] = cmttypes.NewCommitSigAbsent()
		}
	}
}

func TestValsetGenesisPerNetwork(t *testing.T) {
	f := live(t)
	nets := []*liveNet{f.A, f.B, f.C}
	now := time.Now()

	// The sets: B shares agencies 1-3 with A and nothing with C.
	sets := map[string]*cmttypes.ValidatorSet{}
	for _, n := range nets {
		vs, err := verify.GenesisValidators(n.genesis)
		if err != nil {
			t.Fatal(err)
		}
		sets[n.name] = vs
		if lb := n.block(t, 1); !bytes.Equal(lb.ValidatorsHash, vs.Hash()) {
			t.Fatalf("block 1 of %s does not name its genesis set", n.name)
		}
	}
	shared := func(x, y string) (n int) {
		for _, v := range sets[x].Validators {
			if sets[y].HasAddress(v.Address) {
				n++
			}
		}
		return n
	}
	if shared("A", "B") != 3 || shared("A", "C") != 0 || shared("B", "C") != 0 {
		t.Fatalf("shared validators: A-B %d, A-C %d, B-C %d", shared("A", "B"), shared("A", "C"), shared("B", "C"))
	}
	if sets["A"].TotalVotingPower() != 40 || sets["B"].TotalVotingPower() != 90 {
		t.Fatalf("powers: A %d, B %d", sets["A"].TotalVotingPower(), sets["B"].TotalVotingPower())
	}

	for _, n := range nets {
		// Each network's own blocks verify from its own genesis, adjacent
		// and skipping ...
		lb1 := n.block(t, 1)
		if err := verify.FirstBlock(n.genesis, lb1); err != nil {
			t.Errorf("%s: block 1 rejected with its own genesis: %v", n.name, err)
			continue
		}
		var adjacent []*cmttypes.LightBlock
		for h := int64(2); h <= 9; h++ {
			adjacent = append(adjacent, n.block(t, h))
		}
		if _, err := verify.Chain(lb1, adjacent, now); err != nil {
			t.Errorf("%s: adjacent chain 1..9 rejected: %v", n.name, err)
		}
		if _, err := verify.Chain(lb1, []*cmttypes.LightBlock{n.block(t, 5), n.block(t, 9)}, now); err != nil {
			t.Errorf("%s: chain 1→5→9 rejected: %v", n.name, err)
		}
		// ... and never from another network's genesis, whatever the overlap.
		for _, o := range nets {
			if o == n {
				continue
			}
			wantHeaderErr(t, n.name+" block 1 with "+o.name+"'s genesis", verify.FirstBlock(o.genesis, n.block(t, 1)), 1, "not the genesis validator set")
		}
	}
}

func TestSkippingAcrossValidatorSetChange(t *testing.T) {
	f := live(t)
	now := time.Now()
	var sharedAddrs []string // agencies 1-3, validators of both A and B
	for _, v := range f.A.genesis.Validators[:3] {
		sharedAddrs = append(sharedAddrs, v.Address.String())
	}
	for _, v := range f.B.genesis.Validators[:3] {
		if !slices.Contains(sharedAddrs, v.Address.String()) {
			t.Fatalf("B's validator %s is not A's", v.Name)
		}
	}

	// Trusted: A's block 2. Untrusted: a later B block signed by all three
	// shared validators (30 of A's 40: more than 2/3 of the trusted power,
	// and a valid commit of B's own set). CometBFT's skipping rule would
	// accept it; ours never skips across a change of validator set.
	trustedA := verifiedFrom(t, f.A, 2)
	var untrustedB *cmttypes.LightBlock
	for h := int64(4); h <= f.B.fetched-1 && untrustedB == nil; h++ {
		lb := f.B.block(t, h)
		if lb.Time.After(trustedA.Time) && signedBy(lb, sharedAddrs) {
			untrustedB = lb
		}
	}
	if untrustedB == nil {
		t.Fatalf("no B block in 4..%d signed by agencies 1-3 and later than A's block 2", f.B.fetched-1)
	}
	hB := untrustedB.Height
	if bytes.Equal(untrustedB.ValidatorsHash, trustedA.ValidatorsHash) || bytes.Equal(untrustedB.ValidatorsHash, trustedA.NextValidatorsHash) {
		t.Fatal("A's and B's validator sets are the same")
	}
	if err := untrustedB.ValidatorSet.VerifyCommitLightAllSignatures(liveChainID, untrustedB.Commit.BlockID, hB, untrustedB.Commit); err != nil {
		t.Fatalf("B %d is not a valid B commit: %v", hB, err)
	}
	wantHeaderErr(t, "skipping from A to B (3 of 4 kept)", verify.Next(trustedA, untrustedB, now), hB, "never skipped across")

	// Adjacent steps cannot change the set either: the trusted header names
	// the next set, and B's is not it.
	checked := false
	for h := int64(3); h <= f.B.fetched && !checked; h++ {
		trusted, b := verifiedFrom(t, f.A, h-1), f.B.block(t, h)
		if checked = b.Time.After(trusted.Time); checked { // else the time check would fail first
			wantHeaderErr(t, "adjacent A→B step", verify.Next(trusted, b, now), h, "announced")
		}
	}
	if !checked {
		t.Error("no B block later than A's block of the height before")
	}

	// The other way round, and with no overlap at all (C): refused alike.
	trustedB := verifiedFrom(t, f.B, 2)
	hA := f.OfficersChanged + 1 // produced after B's block 2
	untrustedA := f.verifiedA(t, hA)
	if !untrustedA.Time.After(trustedB.Time) {
		t.Fatalf("A %d (%v) is not later than B 2 (%v)", hA, untrustedA.Time, trustedB.Time)
	}
	wantHeaderErr(t, "skipping from B to A", verify.Next(trustedB, untrustedA, now), hA, "never skipped across")
	checked = false
	for h := int64(4); h <= f.C.fetched && !checked; h++ {
		c := f.C.block(t, h)
		if checked = c.Time.After(trustedA.Time); checked {
			wantHeaderErr(t, "skipping from A to C (no shared validator)", verify.Next(trustedA, c, now), h, "never skipped across")
		}
	}
	if !checked {
		t.Error("no C block later than A's block 2")
	}

	// Inside one era, skipping needs more than 2/3 of the set's power: with
	// two of A's four signatures left, a later A block is refused.
	lb := f.A.block(t, 9)
	absentExcept(lb, sharedAddrs[:2])
	wantHeaderErr(t, "skipping inside A's era with 2 of 4 signatures", verify.Next(trustedA, lb, now), 9, "2/3")
	if err := verify.Next(trustedA, f.A.block(t, 9), now); err != nil {
		t.Errorf("skipping inside A's era rejected: %v", err)
	}
}

func names2addr(names map[string]string, name string) string {
	for a, n := range names {
		if n == name {
			return a
		}
	}
	return ""
}
