package app_test

import (
	"bytes"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/civicledger/civicledger/app"
	"github.com/civicledger/civicledger/ledger"
)

// TestGovernanceValidatorUpdates: a passed agency-power proposal is returned
// to CometBFT as a validator update in FinalizeBlock of its effective height
// (and in no other block), and the proposals gauge follows its status.
func TestGovernanceValidatorUpdates(t *testing.T) {
	f := newFixture()
	f.gs.Params.VotingPeriod, f.gs.Params.NoticePeriod = 20, 2
	a := openApp(t, t.TempDir(), func(o *app.Options) { o.Metrics = app.NewMetrics(prometheus.NewRegistry()) })
	f.initChain(t, a)

	change := &ledger.GovPropose{Kind: ledger.ProposalAgencyPower, Title: "Raise agency-2", LegalBasis: "Act s. 1", DocumentHash: doc, Target: "agency-2", Power: 16}
	r := finalizeWith(t, a, 1, nil, nil, f.tx(t, "agency-1", 1, 50, change, "admin"))
	if c := r.TxResults[0].Code; c != 0 {
		t.Fatalf("propose: code %d %s", c, r.TxResults[0].Log)
	}
	r = finalizeWith(t, a, 2, nil, nil,
		f.tx(t, "agency-1", 2, 50, &ledger.GovVote{Proposal: 1, Option: ledger.VoteYes}, "admin"),
		f.tx(t, "agency-2", 3, 50, &ledger.GovVote{Proposal: 1, Option: ledger.VoteYes}, "admin"))
	for i, tr := range r.TxResults {
		if tr.Code != 0 {
			t.Fatalf("vote %d: code %d %s", i, tr.Code, tr.Log)
		}
	}
	a.FlushMetrics()
	gauge(t, a.Metrics().Proposals.WithLabelValues(string(ledger.ProposalNotice)), 1, "proposals in notice")
	gauge(t, a.Metrics().Proposals.WithLabelValues(string(ledger.ProposalVoting)), 0, "proposals voting")
	// Passed at 2, notice 2: effective at height 4.
	if r = finalizeWith(t, a, 3, nil, nil); len(r.ValidatorUpdates) != 0 {
		t.Fatalf("height 3: updates during the notice period: %v", r.ValidatorUpdates)
	}
	r = finalizeWith(t, a, 4, nil, nil)
	if len(r.ValidatorUpdates) != 1 {
		t.Fatalf("height 4: validator updates %v, want one", r.ValidatorUpdates)
	}
	u := r.ValidatorUpdates[0]
	if !bytes.Equal(u.PubKey.GetEd25519(), f.gs.Agencies[1].ValidatorKey) || u.Power != 16 {
		t.Fatalf("update %X power %d, want agency-2's key with 16", u.PubKey.GetEd25519(), u.Power)
	}
	if r = finalizeWith(t, a, 5, nil, nil); len(r.ValidatorUpdates) != 0 {
		t.Fatalf("height 5: updates again: %v", r.ValidatorUpdates)
	}
	a.FlushMetrics()
	gauge(t, a.Metrics().Proposals.WithLabelValues(string(ledger.ProposalNotice)), 0, "proposals in notice")
	gauge(t, a.Metrics().Proposals.WithLabelValues(string(ledger.ProposalExecuted)), 1, "proposals executed")
}
