package app_test

import (
	"context"
	"crypto/ed25519"
	"strings"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/civicledger/civicledger/ledger"
)

// TestCachedTxOverNewSizeLimit: after a params-change lowers max_tx_bytes, a
// tx that one node decoded and cached earlier (CheckTx caches every tx with
// valid signatures, even one it rejects) must get the same result code in
// FinalizeBlock as on a node that never saw it (ErrTxTooLarge), or the nodes'
// LastResultsHash would differ. (It failed before the cache honoured the
// limit: code 9 on one node, 2 on the other.)
func TestCachedTxOverNewSizeLimit(t *testing.T) {
	f := newFixture()
	f.gs.Params.VotingPeriod, f.gs.Params.NoticePeriod = 5, 1
	a1, a2 := openApp(t, ""), openApp(t, "")
	f.initChain(t, a1)
	f.initChain(t, a2)
	np := f.gs.Params
	np.MaxTxBytes = 1024
	change := &ledger.GovPropose{Kind: ledger.ProposalParamsChange, Title: "Smaller txs", LegalBasis: "Act s. 1", DocumentHash: doc, Params: &np}
	b1 := [][]byte{f.tx(t, "agency-1", 1, 50, change, "admin")}
	b2 := [][]byte{
		f.tx(t, "agency-1", 2, 50, &ledger.GovVote{Proposal: 1, Option: ledger.VoteYes}, "admin"),
		f.tx(t, "agency-2", 3, 50, &ledger.GovVote{Proposal: 1, Option: ledger.VoteYes}, "admin"),
	}
	finalize(t, a1, 1, b1...)
	finalize(t, a2, 1, b1...)

	// A tx of ~1.5 KB for another chain id, signed by a real officer.
	k := f.officers["agency-1/grants"]
	g := award("G-big", "100")
	g.Purpose = strings.Repeat("x", 1000)
	body, err := ledger.NewBody("other-chain", "agency-1", k.Public().(ed25519.PublicKey), 9, 50, g)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ledger.SignTx(body, k)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) <= 1024 {
		t.Fatalf("setup: tx of %d bytes", len(raw))
	}
	// Only node 1 sees it in CheckTx (submitted to its RPC while the limit was
	// still 32 KiB).
	if _, err := a1.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: raw}); err != nil {
		t.Fatal(err)
	}
	finalize(t, a1, 2, b2...)
	finalize(t, a2, 2, b2...)
	// Block 3 executes the params change (max_tx_bytes 1024) and, from a
	// byzantine proposer, carries the tx.
	r1 := finalize(t, a1, 3, raw)
	r2 := finalize(t, a2, 3, raw)
	if c := r2.TxResults[0].Code; c != uint32(ledger.ErrTxTooLarge.Code) {
		t.Fatalf("node without the cache: code %d (%s), want tx too large", c, r2.TxResults[0].Log)
	}
	if r1.TxResults[0].Code != r2.TxResults[0].Code {
		t.Fatalf("same block, different result codes: node with cache %d (%s), node without %d (%s)",
			r1.TxResults[0].Code, r1.TxResults[0].Log, r2.TxResults[0].Code, r2.TxResults[0].Log)
	}
}
