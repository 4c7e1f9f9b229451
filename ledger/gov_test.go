package ledger_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/civicledger/civicledger/ledger"
)

// Governance tests run on the three-agency test genesis: ministry-culture
// (power 10), city-works (10), tax-office (5); total 25. More than 2/3 means
// yes power > 16.67: culture and works together pass a proposal, culture and
// tax (15) do not. A change may move at most 25/3 = 8 power.

var (
	newAdmin     = newOfficer("county-health", "admin")
	newValidator = newOfficer("county-health", "validator").pub
)

const (
	govVoting = 10 // voting period of govChain
	govNotice = 3  // notice period of govChain
)

func govChain(t *testing.T) *chain {
	gs := testGenesis()
	gs.Params.VotingPeriod, gs.Params.NoticePeriod = govVoting, govNotice
	return newChainWith(t, gs)
}

func proposal(kind string) *ledger.GovPropose {
	return &ledger.GovPropose{Kind: kind, Title: "Proposal " + kind, LegalBasis: "Public Ledger Act 2025, s. 12", DocumentHash: docHash}
}

func proposeAdd(id string, valKey []byte, power int64, admin *officer) *ledger.GovPropose {
	p := proposal(ledger.ProposalAgencyAdd)
	p.Target, p.Name, p.Jurisdiction, p.ValidatorKey, p.Power = id, "County Health Board", "Rivertown County", valKey, power
	p.AdminKey, p.AdminName = admin.pub, "Health admin"
	return p
}

func proposeRemove(id string) *ledger.GovPropose {
	p := proposal(ledger.ProposalAgencyRemove)
	p.Target = id
	return p
}

func proposePower(id string, power int64) *ledger.GovPropose {
	p := proposal(ledger.ProposalAgencyPower)
	p.Target, p.Power = id, power
	return p
}

func proposeRotate(id string, key []byte) *ledger.GovPropose {
	p := proposal(ledger.ProposalValidatorRotate)
	p.Target, p.ValidatorKey = id, key
	return p
}

func vote(id uint64, option string) *ledger.GovVote {
	return &ledger.GovVote{Proposal: id, Option: option}
}

func (c *chain) proposal(id uint64) *ledger.Proposal {
	return readJSON[ledger.Proposal](c, ledger.StoreMeta, ledger.ProposalKey(id))
}

// propose submits a proposal and returns its id (from the event).
func (c *chain) propose(o *officer, p *ledger.GovPropose) uint64 {
	c.t.Helper()
	br := c.mustOK(c.tx(o, p))
	e := findEvent(br.results[0].Events, "gov_proposal", "status", ledger.ProposalVoting)
	if e == nil {
		c.t.Fatalf("no gov_proposal event: %+v", br.results[0].Events)
	}
	id, err := strconv.ParseUint(attr(e, "id"), 10, 64)
	if err != nil {
		c.t.Fatal(err)
	}
	return id
}

// idle runs empty blocks until the last committed height is h.
func (c *chain) idle(h int64) []*blockResult {
	var out []*blockResult
	for c.height < h {
		out = append(out, c.block())
	}
	return out
}

func TestGovAdmitsAgencyAfterNotice(t *testing.T) {
	c := govChain(t)
	id := c.propose(cultAdmin, proposeAdd("county-health", newValidator, 5, newAdmin))
	submitted := c.height
	p := c.proposal(id)
	if p.Status != ledger.ProposalVoting || p.VotingEnd != submitted+govVoting || p.Tally.Total != 25 || len(p.Electorate) != 3 {
		t.Fatalf("new proposal: %+v", p)
	}
	if p.Proposer != agCulture || !bytes.Equal(p.ProposerKey, cultAdmin.pub) {
		t.Fatalf("proposer %s %x", p.Proposer, p.ProposerKey)
	}
	c.mustOK(c.tx(cultAdmin, vote(id, ledger.VoteYes)))
	if p := c.proposal(id); p.Status != ledger.ProposalVoting || p.Tally.Yes != 10 {
		t.Fatalf("after one yes: %s, tally %+v", p.Status, p.Tally)
	}
	br := c.mustOK(c.tx(worksAdmin, vote(id, ledger.VoteYes)))
	passed := br.height
	p = c.proposal(id)
	if p.Status != ledger.ProposalNotice || p.PassedHeight != passed || p.Effective != passed+govNotice || p.Tally.Yes != 20 {
		t.Fatalf("after two yes: %+v", p)
	}
	if findEvent(br.results[0].Events, "gov_proposal", "status", ledger.ProposalNotice) == nil {
		t.Fatalf("no notice event: %+v", br.results[0].Events)
	}
	// Voting is over once the proposal passed.
	expectResult(t, c.run(c.tx(taxAdmin, vote(id, ledger.VoteNo))), ledger.ErrVotingClosed)

	// During the notice period nothing changes.
	for c.height < p.Effective-1 {
		br := c.block()
		if len(br.updates) != 0 || c.agency("county-health") != nil {
			t.Fatalf("height %d: change took effect during the notice period", br.height)
		}
	}
	br = c.block()
	if br.height != p.Effective {
		t.Fatalf("height %d, effective %d", br.height, p.Effective)
	}
	if len(br.updates) != 1 || !bytes.Equal(br.updates[0].PubKey, newValidator) || br.updates[0].Power != 5 {
		t.Fatalf("validator updates at the effective height: %+v", br.updates)
	}
	a := c.agency("county-health")
	if a == nil || a.Power != 5 || a.Joined != p.Effective || !a.Active() || a.Officer(newAdmin.pub) == nil {
		t.Fatalf("admitted agency: %+v", a)
	}
	if findEvent(br.begin, "agency", "action", "add") == nil || findEvent(br.begin, "gov_proposal", "status", ledger.ProposalExecuted) == nil {
		t.Fatalf("begin events: %+v", br.begin)
	}
	if p := c.proposal(id); p.Status != ledger.ProposalExecuted || p.ClosedHeight != br.height {
		t.Fatalf("executed proposal: %+v", p)
	}
	// The new agency's admin acts at once.
	c.mustOK(c.tx(newAdmin, addOfficer(newOfficer("county-health", "grants"), ledger.RoleGrants)))
	// The new agency votes on later proposals, not on earlier ones.
	id2 := c.propose(cultAdmin, proposePower(agTax, 7))
	if p := c.proposal(id2); p.Tally.Total != 30 || len(p.Electorate) != 4 {
		t.Fatalf("electorate after admission: %+v", p)
	}
	c.mustOK(c.tx(newAdmin, vote(id2, ledger.VoteYes)))
}

func TestGovRejectedAtDeadline(t *testing.T) {
	c := govChain(t)
	id := c.propose(cultAdmin, proposeRemove(agTax))
	c.mustOK(c.tx(cultAdmin, vote(id, ledger.VoteYes)), c.tx(worksAdmin, vote(id, ledger.VoteNo)))
	c.mustOK(c.tx(taxAdmin, vote(id, ledger.VoteAbstain)))
	p := c.proposal(id)
	if p.Status != ledger.ProposalVoting || p.Tally != (ledger.Tally{Yes: 10, No: 10, Abstain: 5, Total: 25}) {
		t.Fatalf("tally: %+v", p.Tally)
	}
	c.idle(p.VotingEnd)
	if st := c.proposal(id).Status; st != ledger.ProposalVoting {
		t.Fatalf("at the deadline: %s", st)
	}
	br := c.block()
	p = c.proposal(id)
	if p.Status != ledger.ProposalRejected || p.ClosedHeight != br.height || p.Result == "" {
		t.Fatalf("after the deadline: %+v", p)
	}
	if findEvent(br.begin, "gov_proposal", "status", ledger.ProposalRejected) == nil {
		t.Fatalf("no rejection event: %+v", br.begin)
	}
	if len(br.updates) != 0 || !c.agency(agTax).Active() {
		t.Fatal("a rejected proposal changed the validator set")
	}
}

func TestGovVoteRules(t *testing.T) {
	c := govChain(t)
	id := c.propose(cultAdmin, proposePower(agTax, 8))
	c.mustOK(c.tx(cultAdmin, vote(id, ledger.VoteYes)))
	before := c.snapshot()
	expectResult(t, c.run(c.tx(cultAdmin, vote(id, ledger.VoteNo))), ledger.ErrAlreadyVoted)
	expectResult(t, c.run(c.tx(cultGrants, vote(id, ledger.VoteYes))), ledger.ErrMissingRole)
	expectResult(t, c.run(c.tx(worksAdmin, vote(id+1, ledger.VoteYes))), ledger.ErrNotFound)
	expectResult(t, c.run(c.tx(cultFin1, proposeRemove(agWorks))), ledger.ErrMissingRole)
	noChanges(t, before, c.snapshot())
	// A late vote: the deadline has passed (the proposal is rejected in
	// the block after it, so the vote is refused either way).
	c.idle(c.proposal(id).VotingEnd)
	expectResult(t, c.run(c.tx(worksAdmin, vote(id, ledger.VoteYes))), ledger.ErrVotingClosed)
	if st := c.proposal(id).Status; st != ledger.ProposalRejected {
		t.Fatalf("status %s", st)
	}
}

func TestGovVoteAtDeadlineCounts(t *testing.T) {
	c := govChain(t)
	id := c.propose(cultAdmin, proposePower(agTax, 8))
	c.mustOK(c.tx(cultAdmin, vote(id, ledger.VoteYes)))
	c.idle(c.proposal(id).VotingEnd - 1)
	br := c.mustOK(c.tx(worksAdmin, vote(id, ledger.VoteYes)))
	if p := c.proposal(id); br.height != p.VotingEnd || p.Status != ledger.ProposalNotice {
		t.Fatalf("vote at the deadline (height %d): %+v", br.height, p)
	}
}

func TestGovRemoval(t *testing.T) {
	c := govChain(t)
	c.mustOK(c.tx(taxAdmin, award("g-tax", "1000")))
	id := c.propose(worksAdmin, proposeRemove(agTax))
	c.mustOK(c.tx(cultAdmin, vote(id, ledger.VoteYes)), c.tx(worksAdmin, vote(id, ledger.VoteYes)))
	// An open proposal of the agency to be removed.
	late := c.propose(taxAdmin, proposePower(agCulture, 12))
	p := c.proposal(id)
	c.idle(p.Effective - 2)
	// Still an agency until the effective height.
	c.mustOK(c.tx(taxAdmin, award("g-tax-2", "1000")))
	br := c.block()
	if len(br.updates) != 1 || !bytes.Equal(br.updates[0].PubKey, validatorKey(agTax)) || br.updates[0].Power != 0 {
		t.Fatalf("removal updates: %+v", br.updates)
	}
	a := c.agency(agTax)
	if a.Active() || a.Removed != br.height || a.Power != 0 {
		t.Fatalf("removed agency: %+v", a)
	}
	// Its officers lose their rights at once; its records stay.
	before := c.snapshot()
	expectResult(t, c.run(c.tx(taxAdmin, award("g-tax-3", "1000"))), ledger.ErrAgencyRemoved)
	expectResult(t, c.run(c.tx(taxAdmin, proposeRemove(agWorks))), ledger.ErrAgencyRemoved)
	expectResult(t, c.run(c.tx(taxAdmin, vote(late, ledger.VoteYes))), ledger.ErrAgencyRemoved)
	noChanges(t, before, c.snapshot())
	if g := c.grant("g-tax"); g == nil || g.Agency != agTax {
		t.Fatal("the removed agency's grant is gone")
	}
	// It cannot be removed twice, and its id is never reused.
	expectResult(t, c.run(c.tx(cultAdmin, proposeRemove(agTax))), ledger.ErrAgencyRemoved)
	expectResult(t, c.run(c.tx(cultAdmin, proposeAdd(agTax, newValidator, 5, newAdmin))), ledger.ErrAlreadyExists)
	// Later electorates leave it out: total 20, so culture alone does not pass.
	id3 := c.propose(cultAdmin, proposePower(agWorks, 12))
	if p := c.proposal(id3); p.Tally.Total != 20 || len(p.Electorate) != 2 {
		t.Fatalf("electorate after removal: %+v", p)
	}
}

func TestGovGuardRailsAtProposal(t *testing.T) {
	c := govChain(t)
	c.block()
	cases := []struct {
		name string
		p    *ledger.GovPropose
		want *ledger.Error
	}{
		{"add more than a third", proposeAdd("county-health", newValidator, 9, newAdmin), ledger.ErrGovGuard},
		{"remove more than a third", proposeRemove(agCulture), ledger.ErrGovGuard},
		{"power moves more than a third", proposePower(agTax, 14), ledger.ErrGovGuard},
		{"power unchanged", proposePower(agTax, 5), ledger.ErrInvalidField},
		{"existing agency id", proposeAdd(agWorks, newValidator, 5, newAdmin), ledger.ErrAlreadyExists},
		{"validator key in use", proposeAdd("county-health", validatorKey(agWorks), 5, newAdmin), ledger.ErrKeyInUse},
		{"admin key in use", proposeAdd("county-health", newValidator, 5, worksFin), ledger.ErrKeyInUse},
		{"unknown target", proposeRemove("nowhere"), ledger.ErrUnknownAgency},
		{"rotate to a used key", proposeRotate(agTax, validatorKey(agCulture)), ledger.ErrKeyInUse},
		{"params invalid", &ledger.GovPropose{Kind: ledger.ProposalParamsChange, Title: "t", LegalBasis: "l", DocumentHash: docHash, Params: &ledger.Params{}}, ledger.ErrInvalidField},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := c.snapshot()
			expectResult(t, c.run(c.tx(cultAdmin, tc.p)), tc.want)
			noChanges(t, before, c.snapshot())
		})
	}
	// A single agency can never be removed: the set would be empty.
	gs := testGenesis()
	gs.Agencies = gs.Agencies[:1]
	solo := newChainWith(t, gs)
	expectResult(t, solo.run(solo.tx(cultAdmin, proposeRemove(agCulture))), ledger.ErrGovGuard)
}

func TestGovProposeValidateBasic(t *testing.T) {
	add := func(mod func(p *ledger.GovPropose)) *ledger.GovPropose {
		p := proposeAdd("county-health", newValidator, 5, newAdmin)
		mod(p)
		return p
	}
	cases := []struct {
		name string
		p    ledger.Payload
		want *ledger.Error
	}{
		{"valid add", add(func(*ledger.GovPropose) {}), nil},
		{"unknown kind", add(func(p *ledger.GovPropose) { p.Kind = "agency-merge" }), ledger.ErrInvalidField},
		{"no title", add(func(p *ledger.GovPropose) { p.Title = "" }), ledger.ErrInvalidField},
		{"no legal basis", add(func(p *ledger.GovPropose) { p.LegalBasis = "" }), ledger.ErrInvalidField},
		{"bad document hash", add(func(p *ledger.GovPropose) { p.DocumentHash = "abc" }), ledger.ErrInvalidHash},
		{"bad target id", add(func(p *ledger.GovPropose) { p.Target = "a b" }), ledger.ErrInvalidID},
		{"short validator key", add(func(p *ledger.GovPropose) { p.ValidatorKey = p.ValidatorKey[:31] }), ledger.ErrInvalidKey},
		{"zero power", add(func(p *ledger.GovPropose) { p.Power = 0 }), ledger.ErrInvalidField},
		{"negative power", add(func(p *ledger.GovPropose) { p.Power = -1 }), ledger.ErrInvalidField},
		{"huge power", add(func(p *ledger.GovPropose) { p.Power = ledger.MaxPower + 1 }), ledger.ErrInvalidField},
		{"no admin name", add(func(p *ledger.GovPropose) { p.AdminName = "" }), ledger.ErrInvalidField},
		{"params in an add", add(func(p *ledger.GovPropose) { d := ledger.DefaultParams(); p.Params = &d }), ledger.ErrInvalidField},
		{"power in a removal", func() ledger.Payload { p := proposeRemove(agTax); p.Power = 3; return p }(), ledger.ErrInvalidField},
		{"key in a power change", func() ledger.Payload { p := proposePower(agTax, 3); p.ValidatorKey = newValidator; return p }(), ledger.ErrInvalidField},
		{"params change without params", proposal(ledger.ProposalParamsChange), ledger.ErrInvalidField},
		{"vote option", vote(1, "maybe"), ledger.ErrInvalidField},
		{"vote proposal 0", vote(0, ledger.VoteYes), ledger.ErrInvalidField},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { expectErr(t, tc.p.ValidateBasic(), tc.want) })
	}
}

// passNow passes a proposal with culture's and works' votes and returns it.
func (c *chain) passNow(id uint64) *ledger.Proposal {
	c.t.Helper()
	c.mustOK(c.tx(cultAdmin, vote(id, ledger.VoteYes)), c.tx(worksAdmin, vote(id, ledger.VoteYes)))
	p := c.proposal(id)
	if p.Status != ledger.ProposalNotice {
		c.t.Fatalf("proposal %d: %s", id, p.Status)
	}
	return p
}

func TestGovGuardRailsAtExecution(t *testing.T) {
	c := govChain(t)
	// Two proposals fall due in the same block: removing tax (5) and
	// raising works by 4 would move 9 > 25/3 together, so the second waits
	// one block and is checked against the new total (20).
	rm := c.propose(cultAdmin, proposeRemove(agTax))
	up := c.propose(cultAdmin, proposePower(agWorks, 14))
	c.mustOK(c.tx(cultAdmin, vote(rm, ledger.VoteYes)), c.tx(worksAdmin, vote(rm, ledger.VoteYes)),
		c.tx(cultAdmin, vote(up, ledger.VoteYes)), c.tx(worksAdmin, vote(up, ledger.VoteYes)))
	eff := c.proposal(rm).Effective
	if c.proposal(up).Effective != eff {
		t.Fatal("setup: both proposals should fall due together")
	}
	c.idle(eff - 1)
	br := c.block()
	if len(br.updates) != 1 || br.updates[0].Power != 0 {
		t.Fatalf("first block: %+v", br.updates)
	}
	if findEvent(br.begin, "gov_deferred", "id", strconv.FormatUint(up, 10)) == nil || c.proposal(up).Status != ledger.ProposalNotice {
		t.Fatalf("power change not deferred: %+v", br.begin)
	}
	br = c.block()
	if len(br.updates) != 1 || !bytes.Equal(br.updates[0].PubKey, validatorKey(agWorks)) || br.updates[0].Power != 14 {
		t.Fatalf("second block: %+v", br.updates)
	}
	if p := c.proposal(up); p.Status != ledger.ProposalExecuted {
		t.Fatalf("power change: %+v", p)
	}

	// A proposal whose target is gone by its effective height fails.
	c2 := govChain(t)
	rm = c2.propose(cultAdmin, proposeRemove(agTax))
	c2.passNow(rm)
	c2.block()
	pw := c2.propose(cultAdmin, proposePower(agTax, 6))
	p := c2.passNow(pw)
	c2.idle(p.Effective)
	p = c2.proposal(pw)
	if p.Status != ledger.ProposalFailed || p.Result == "" {
		t.Fatalf("proposal on a removed agency: %+v", p)
	}
}

func TestGovRotateAndParams(t *testing.T) {
	c := govChain(t)
	rot := newOfficer(agTax, "validator-2").pub
	p := c.passNow(c.propose(worksAdmin, proposeRotate(agTax, rot)))
	c.idle(p.Effective - 1)
	br := c.block()
	want := []ledger.ValidatorUpdate{{PubKey: validatorKey(agTax), Power: 0}, {PubKey: rot, Power: 5}}
	if bytes.Compare(want[0].PubKey, want[1].PubKey) > 0 {
		want[0], want[1] = want[1], want[0]
	}
	if len(br.updates) != 2 || !bytes.Equal(br.updates[0].PubKey, want[0].PubKey) || br.updates[0].Power != want[0].Power ||
		!bytes.Equal(br.updates[1].PubKey, want[1].PubKey) || br.updates[1].Power != want[1].Power {
		t.Fatalf("rotation updates %+v, want %+v", br.updates, want)
	}
	if a := c.agency(agTax); !bytes.Equal(a.ValidatorKey, rot) || a.Power != 5 {
		t.Fatalf("rotated agency: %+v", a)
	}
	// The old key is never reused.
	expectResult(t, c.run(c.tx(cultAdmin, proposeAdd("county-health", validatorKey(agTax), 5, newAdmin))), ledger.ErrKeyInUse)

	// Params: lower the four-eyes threshold to 1000 minor units.
	np := ledger.DefaultParams()
	np.VotingPeriod, np.NoticePeriod, np.FourEyesThreshold = govVoting, govNotice, 1000
	pc := proposal(ledger.ProposalParamsChange)
	pc.Params = &np
	c.mustOK(c.tx(cultGrants, award("g-1", "100000")))
	p = c.passNow(c.propose(cultAdmin, pc))
	c.idle(p.Effective)
	expectResult(t, c.run(c.tx(cultFin1, pay("p-1", "g-1", "2000"))), ledger.ErrFourEyes)
	c.mustOK(c.tx(cultFin1, pay("p-2", "g-1", "2000"), cultFin2))
}

// TestFourEyesPerCurrency: the four-eyes threshold is per currency, with a
// default for the currencies not listed; a params-change sets, changes and
// removes a currency's own threshold. (Before, one threshold in minor units
// applied to every currency: EUR 10,000.00 but JPY 1,000,000 and KWD 1,000.000.)
func TestFourEyesPerCurrency(t *testing.T) {
	gs := testGenesis()
	gs.Params.VotingPeriod, gs.Params.NoticePeriod = govVoting, govNotice
	gs.Params = gs.Params.WithFourEyes("JPY", 150_000_000, false).WithFourEyes("KWD", 3_000_000, false)
	c := newChainWith(t, gs)
	in := func(id, amount, currency string) *ledger.PaymentRecord {
		return with(pay(id, "", amount), func(p *ledger.PaymentRecord) { p.Currency = currency })
	}
	// JPY 1,500,000 is above the default but within JPY's own threshold.
	c.mustOK(c.tx(cultFin1, in("p-jpy", "1500000", "JPY")))
	expectResult(t, c.run(c.tx(cultFin1, in("p-jpy-big", "150000001", "JPY"))), ledger.ErrFourEyes)
	c.mustOK(c.tx(cultFin1, in("p-jpy-big2", "150000001", "JPY"), cultFin2))
	c.mustOK(c.tx(cultFin1, in("p-kwd", "2999999", "KWD")))
	res := c.run(c.tx(cultFin1, in("p-kwd-big", "3000001", "KWD")))
	expectResult(t, res, ledger.ErrFourEyes)
	if !strings.Contains(res.Log, "amount 3,000.001 KWD (3000001 minor units) exceeds the KWD threshold 3,000.000 KWD (3000000 minor units)") {
		t.Fatalf("log %q does not name the currency's threshold", res.Log)
	}
	// Currencies not listed follow the default.
	expectResult(t, c.run(c.tx(cultFin1, in("p-usd", "1000001", "USD"))), ledger.ErrFourEyes)
	c.mustOK(c.tx(cultFin1, in("p-usd-ok", "1000000", "USD")))
	// Reversal follows the payment's currency.
	c.mustOK(c.tx(cultFin1, reverse("p-jpy")))
	expectResult(t, c.run(c.tx(cultFin1, reverse("p-jpy-big2"))), ledger.ErrFourEyes)

	// A params-change lowers JPY's threshold and removes KWD's own.
	np := c.params.WithFourEyes("JPY", 1_000_000, false).WithFourEyes("KWD", 0, true)
	pc := proposal(ledger.ProposalParamsChange)
	pc.Params = &np
	p := c.passNow(c.propose(cultAdmin, pc))
	c.idle(p.Effective)
	got, err := ledger.LoadParams(c.view())
	if err != nil || !got.Equal(np) {
		t.Fatalf("params after the change %+v (%v), want %+v", got, err, np)
	}
	expectResult(t, c.run(c.tx(cultFin1, in("p-jpy-2", "1500000", "JPY"))), ledger.ErrFourEyes)
	c.mustOK(c.tx(cultFin1, in("p-kwd-2", "1000000", "KWD")))
	expectResult(t, c.run(c.tx(cultFin1, in("p-kwd-3", "1000001", "KWD"))), ledger.ErrFourEyes)
}

// TestFourEyesThresholdsValidation: per-currency thresholds must be known
// currencies, sorted, listed once and not negative, in genesis and in a
// params-change; the encoding of parameters without them is unchanged.
func TestFourEyesThresholdsValidation(t *testing.T) {
	base := ledger.DefaultParams()
	ct := func(cur string, t ledger.Amount) ledger.CurrencyThreshold {
		return ledger.CurrencyThreshold{Currency: cur, Threshold: t}
	}
	cases := []struct {
		name string
		list []ledger.CurrencyThreshold
		want *ledger.Error
	}{
		{"none", nil, nil},
		{"sorted", []ledger.CurrencyThreshold{ct("JPY", 1), ct("KWD", 0), ct("USD", 5)}, nil},
		{"empty list", []ledger.CurrencyThreshold{}, ledger.ErrInvalidField},
		{"unsorted", []ledger.CurrencyThreshold{ct("KWD", 1), ct("JPY", 1)}, ledger.ErrInvalidField},
		{"duplicate", []ledger.CurrencyThreshold{ct("JPY", 1), ct("JPY", 2)}, ledger.ErrInvalidField},
		{"unknown currency", []ledger.CurrencyThreshold{ct("XXY", 1)}, ledger.ErrUnknownCurrency},
		{"lower case", []ledger.CurrencyThreshold{ct("jpy", 1)}, ledger.ErrUnknownCurrency},
		{"negative", []ledger.CurrencyThreshold{ct("JPY", -1)}, ledger.ErrInvalidField},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := base
			p.FourEyesThresholds = tc.list
			expectErr(t, p.Validate(), tc.want)
			gs := testGenesis()
			gs.Params = p
			expectErr(t, gs.Validate(), tc.want)
			pc := proposal(ledger.ProposalParamsChange)
			pc.Params = &p
			if tc.want == nil {
				expectErr(t, pc.ValidateBasic(), nil)
			} else if err := pc.ValidateBasic(); ledger.CodeOf(err) != tc.want.Code {
				t.Fatalf("params-change: %v", err)
			}
		})
	}
	bz, err := json.Marshal(base)
	if err != nil || strings.Contains(string(bz), "four_eyes_thresholds") {
		t.Fatalf("parameters without per-currency thresholds encode as %s", bz)
	}
	// WithFourEyes keeps the list sorted and never modifies its receiver.
	p := base.WithFourEyes("USD", 1, false)
	q := p.WithFourEyes("EUR", 2, false).WithFourEyes("USD", 3, false)
	if len(p.FourEyesThresholds) != 1 || p.FourEyesThresholds[0] != ct("USD", 1) {
		t.Fatalf("receiver modified: %+v", p.FourEyesThresholds)
	}
	if !slices.Equal(q.FourEyesThresholds, []ledger.CurrencyThreshold{ct("EUR", 2), ct("USD", 3)}) {
		t.Fatalf("list %+v", q.FourEyesThresholds)
	}
	if q.WithFourEyes("EUR", 0, true).WithFourEyes("USD", 0, true).FourEyesThresholds != nil {
		t.Fatal("removing every entry leaves a list")
	}
}
