package client_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/node"
)

// TestCollectMisbehaviour signs two conflicting prevotes with agency-2's
// validator key, hands the evidence to a real network (/broadcast_evidence)
// and reads it back with CollectMisbehaviour: unverified without an anchor,
// verified and named by agency from the verified header, absent from a
// range that ends before it, and refused when the anchor is not the chain's
// header.
func TestCollectMisbehaviour(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	net, err := node.StartNetwork(ctx, filepath.Join(t.TempDir(), "net"), node.NetworkOptions{Agencies: 4, ChainID: "civic-misbehaviour"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(net.Stop)
	a := net.Testnet.Agencies
	c, _ := client.New(a[0].RPC)
	if err := c.WaitForHeight(ctx, 3); err != nil {
		t.Fatal(err)
	}

	// Two prevotes by agency-2 at height 2, round 0, for two different
	// blocks: what a second process with its key would sign.
	const offence = int64(2)
	key := validatorKey(t, a[1].Home)
	h := offence
	vres, err := c.RPC().Validators(ctx, &h, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	vals, err := cmttypes.ValidatorSetFromExistingValidators(vres.Validators)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := c.RPC().Block(ctx, &h)
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := vals.GetByAddress(key.PubKey().Address())
	vote := func(fill byte) *cmttypes.Vote {
		v := &cmttypes.Vote{Type: cmtproto.PrevoteType, Height: offence, Round: 0, Timestamp: blk.Block.Time,
			BlockID:          cmttypes.BlockID{Hash: bytes.Repeat([]byte{fill}, 32), PartSetHeader: cmttypes.PartSetHeader{Total: 1, Hash: bytes.Repeat([]byte{fill}, 32)}},
			ValidatorAddress: key.PubKey().Address(), ValidatorIndex: idx}
		sig, err := key.Sign(cmttypes.VoteSignBytes(net.Testnet.ChainID, v.ToProto()))
		if err != nil {
			t.Fatal(err)
		}
		v.Signature = sig
		return v
	}
	ev, err := cmttypes.NewDuplicateVoteEvidence(vote(0xA1), vote(0xB2), blk.Block.Time, vals)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RPC().BroadcastEvidence(ctx, ev); err != nil {
		t.Fatalf("broadcast evidence: %v", err)
	}
	var committed int64
	for hh := int64(1); committed == 0; {
		if err := c.WaitForHeight(ctx, hh); err != nil {
			t.Fatalf("the evidence was not committed: %v", err)
		}
		b, err := c.RPC().Block(ctx, &hh)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Block.Evidence.Evidence) > 0 {
			committed = hh
		}
		hh++
	}
	top := committed + 1 // state height audited
	if err := c.WaitForHeight(ctx, top+1); err != nil {
		t.Fatal(err)
	}
	check := func(rep *client.MisbehaviourReport, verified bool) {
		t.Helper()
		if len(rep.Failures) != 0 || len(rep.Evidence) != 1 {
			t.Fatalf("want one piece of evidence and no failure: %+v", rep)
		}
		m := rep.Evidence[0]
		if m.Agency != a[1].ID || m.Type != client.MisbehaviourDuplicateVote || m.Height != offence || m.Block != committed ||
			m.Validator != key.PubKey().Address().String() || m.Power != 10 || m.Verified != verified {
			t.Fatalf("evidence reported as %+v; want agency-2's duplicate vote at %d in block %d, verified %t", m, offence, committed, verified)
		}
		if rep.Scanned != top {
			t.Fatalf("scanned %d headers, want %d", rep.Scanned, top)
		}
	}

	// Trusting the node.
	rep, err := c.CollectMisbehaviour(ctx, client.MisbehaviourOptions{From: 1, To: top, ChainID: net.Testnet.ChainID})
	if err != nil {
		t.Fatal(err)
	}
	check(rep, false)

	// From the verified header top+1.
	home := t.TempDir()
	if _, err := client.InitTrustFromGenesis(ctx, home, net.Testnet.Genesis, a[1].RPC); err != nil {
		t.Fatal(err)
	}
	v, err := client.NewVerifier(ctx, home, a[0].RPC, []string{a[1].RPC})
	if err != nil {
		t.Fatal(err)
	}
	anchor, err := v.LightBlock(ctx, top+1)
	if err != nil {
		t.Fatal(err)
	}
	rep, err = c.CollectMisbehaviour(ctx, client.MisbehaviourOptions{From: 1, To: top, ChainID: net.Testnet.ChainID, Anchor: anchor})
	if err != nil {
		t.Fatal(err)
	}
	check(rep, true)

	// A range that ends before the block holding it.
	before, err := v.LightBlock(ctx, committed)
	if err != nil {
		t.Fatal(err)
	}
	rep, err = c.CollectMisbehaviour(ctx, client.MisbehaviourOptions{From: 1, To: committed - 1, ChainID: net.Testnet.ChainID, Anchor: before})
	if err != nil || len(rep.Evidence) != 0 || len(rep.Failures) != 0 {
		t.Fatalf("blocks 1..%d: %v %+v; want no evidence", committed-1, err, rep)
	}

	// An anchor that is not the chain's header: the first link fails, no
	// evidence is reported.
	forged := *anchor.SignedHeader.Header
	forged.LastBlockID.Hash = bytes.Repeat([]byte{0xEE}, 32)
	bad := &cmttypes.LightBlock{SignedHeader: &cmttypes.SignedHeader{Header: &forged, Commit: anchor.Commit}, ValidatorSet: anchor.ValidatorSet}
	rep, err = c.CollectMisbehaviour(ctx, client.MisbehaviourOptions{From: 1, To: top, ChainID: net.Testnet.ChainID, Anchor: bad})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Failures) != 1 || rep.Failures[0].Kind != client.DiscMisbehaviourCheck || len(rep.Evidence) != 0 {
		t.Fatalf("a forged anchor: %+v; want one %s failure and no evidence", rep, client.DiscMisbehaviourCheck)
	}
	t.Logf("%s", rep.Failures[0].Detail)
}
