package app_test

import (
	"context"
	"crypto/ed25519"
	"slices"
	"strings"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/civicledger/civicledger/app"
	"github.com/civicledger/civicledger/ledger"
)

func processProposal(t *testing.T, a *app.App, height int64, txs ...[]byte) abci.ResponseProcessProposal_ProposalStatus {
	t.Helper()
	res, err := a.ProcessProposal(context.Background(), &abci.RequestProcessProposal{Height: height, Txs: txs})
	if err != nil {
		t.Fatal(err)
	}
	return res.Status
}

// TestProcessProposalRejectsJunk: a proposal holding a tx that cannot
// decode, is over max_tx_bytes or carries a bad signature is rejected; a tx
// that decodes and verifies but breaks a rule of the state is accepted (it
// is included with its failure code). So is one whose expiry lies beyond
// the replay window. PrepareProposal drops the junk, so an
// honest proposal is always accepted. (Before, ProcessProposal accepted
// anything and PrepareProposal kept every tx.)
func TestProcessProposalRejectsJunk(t *testing.T) {
	f := newFixture()
	f.gs.Params.MaxTxBytes = 1500
	a := openApp(t, "")
	f.initChain(t, a)

	good := f.tx(t, "agency-1", 1, 50, award("G-1", "100"), "grants")
	wrongRole := f.tx(t, "agency-1", 2, 50, award("G-2", "100"), "finance") // decodes and verifies; fails ErrMissingRole
	tooLarge := f.tx(t, "agency-1", 3, 50, &ledger.GrantAward{ID: "G-big", Recipient: acme, Programme: strings.Repeat("p", 250), Purpose: strings.Repeat("x", 1020),
		Amount: "100", Currency: "EUR", PeriodStart: "2026-01-01", PeriodEnd: "2026-12-31", DecisionDate: "2026-01-01", DocumentHash: doc}, "grants")
	if len(tooLarge) <= 1500 {
		t.Fatalf("setup: tx of %d bytes", len(tooLarge))
	}
	badSig := slices.Clone(f.tx(t, "agency-1", 4, 50, award("G-4", "100"), "grants"))
	i := strings.LastIndex(string(badSig), `"signature":"`) + len(`"signature":"`)
	if badSig[i] == 'A' {
		badSig[i] = 'B'
	} else {
		badSig[i] = 'A'
	}
	badField := f.tx(t, "agency-1", 5, 50, award("G-5", "0"), "grants") // amount must be positive
	// Signed and well formed, but its expiry lies beyond the replay window
	// of height 1: FinalizeBlock would refuse it, and no honest proposer
	// includes it (CheckTx refuses it).
	tooFar := f.tx(t, "agency-1", 6, 1+f.gs.Params.ReplayWindow+1, award("G-6", "100"), "grants")

	cases := []struct {
		name string
		txs  [][]byte
		want abci.ResponseProcessProposal_ProposalStatus
	}{
		{"empty", nil, abci.ResponseProcessProposal_ACCEPT},
		{"valid tx", [][]byte{good}, abci.ResponseProcessProposal_ACCEPT},
		{"tx failing a state rule", [][]byte{good, wrongRole}, abci.ResponseProcessProposal_ACCEPT},
		{"bytes that are no tx", [][]byte{good, []byte("junk")}, abci.ResponseProcessProposal_REJECT},
		{"empty tx", [][]byte{{}}, abci.ResponseProcessProposal_REJECT},
		{"tx over max_tx_bytes", [][]byte{tooLarge, good}, abci.ResponseProcessProposal_REJECT},
		{"bad signature", [][]byte{good, badSig}, abci.ResponseProcessProposal_REJECT},
		{"field rule broken", [][]byte{badField}, abci.ResponseProcessProposal_REJECT},
		{"expiry beyond the replay window", [][]byte{good, tooFar}, abci.ResponseProcessProposal_REJECT},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := processProposal(t, a, 1, tc.txs...); got != tc.want {
				t.Fatalf("status %v, want %v", got, tc.want)
			}
		})
	}

	// PrepareProposal keeps the good txs in order and drops the rest.
	all := [][]byte{[]byte("junk"), good, tooLarge, badSig, tooFar, wrongRole, badField}
	prep, err := a.PrepareProposal(context.Background(), &abci.RequestPrepareProposal{Height: 1, MaxTxBytes: 1 << 20, Txs: all})
	if err != nil {
		t.Fatal(err)
	}
	if len(prep.Txs) != 2 || string(prep.Txs[0]) != string(good) || string(prep.Txs[1]) != string(wrongRole) {
		t.Fatalf("PrepareProposal kept %d txs, want [good, wrongRole]", len(prep.Txs))
	}
	if got := processProposal(t, a, 1, prep.Txs...); got != abci.ResponseProcessProposal_ACCEPT {
		t.Fatalf("own proposal: %v", got)
	}
	res := finalize(t, a, 1, prep.Txs...)
	if res.TxResults[0].Code != 0 || res.TxResults[1].Code != uint32(ledger.ErrMissingRole.Code) {
		t.Fatalf("codes %d, %d", res.TxResults[0].Code, res.TxResults[1].Code)
	}
}

// TestProcessProposalSizeLimitInForce: the size limit ProcessProposal and
// PrepareProposal apply is the one in force for the proposed block, also
// when a params-change takes effect at its start.
func TestProcessProposalSizeLimitInForce(t *testing.T) {
	f := newFixture()
	f.gs.Params.VotingPeriod, f.gs.Params.NoticePeriod = 5, 1
	a := openApp(t, "")
	f.initChain(t, a)
	np := f.gs.Params
	np.MaxTxBytes = 1024
	change := &ledger.GovPropose{Kind: ledger.ProposalParamsChange, Title: "Smaller txs", LegalBasis: "Act s. 1", DocumentHash: doc, Params: &np}
	finalize(t, a, 1, f.tx(t, "agency-1", 1, 50, change, "admin"))

	k := f.officers["agency-1/grants"]
	g := award("G-big", "100")
	g.Purpose = strings.Repeat("x", 1000)
	body, err := ledger.NewBody(chainID, "agency-1", k.Public().(ed25519.PublicKey), 9, 50, g)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ledger.SignTx(body, k)
	if err != nil {
		t.Fatal(err)
	}
	if got := processProposal(t, a, 2, raw); got != abci.ResponseProcessProposal_ACCEPT {
		t.Fatalf("under the 32 KiB limit: %v", got)
	}
	finalize(t, a, 2,
		f.tx(t, "agency-1", 2, 50, &ledger.GovVote{Proposal: 1, Option: ledger.VoteYes}, "admin"),
		f.tx(t, "agency-2", 3, 50, &ledger.GovVote{Proposal: 1, Option: ledger.VoteYes}, "admin"))
	// Block 3 executes the change: the 1.5 KB tx no longer fits.
	if got := processProposal(t, a, 3, raw); got != abci.ResponseProcessProposal_REJECT {
		t.Fatalf("over the limit in force at height 3: %v", got)
	}
	prep, err := a.PrepareProposal(context.Background(), &abci.RequestPrepareProposal{Height: 3, MaxTxBytes: 1 << 20, Txs: [][]byte{raw}})
	if err != nil {
		t.Fatal(err)
	}
	if len(prep.Txs) != 0 {
		t.Fatal("PrepareProposal kept a tx over the limit in force")
	}
}
