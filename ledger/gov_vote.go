package ledger

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strconv"
)

// Governance transitions: the electorate, the guard rails of a change,
// proposing and voting.

// electorate returns the active agencies and their powers, sorted by id, and
// the total power.
func (b *Block) electorate() ([]AgencyPower, int64, error) {
	var out []AgencyPower
	var total int64
	var bad error
	err := b.kv.Iterate(StoreAgencies, nil, nil, func(k, v []byte) bool {
		if bytes.Equal(k, SeedKey) {
			return true
		}
		a, err := b.agency(string(k))
		if err != nil {
			bad = err
			return false
		}
		if a.Active() {
			out = append(out, AgencyPower{Agency: a.ID, Power: a.Power})
			total += a.Power
		}
		return true
	})
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrStorage, err)
	}
	return out, total, bad
}

// checkChange checks a proposal's change against the current state: the
// target exists and is active (or, for an addition, no id or key is taken),
// the validator set cannot become empty, and the change moves at most 1/3 of
// the active voting power. It returns the power the change moves: an
// agency's power added or removed, the difference of a power change, and
// for a rotation the agency's whole power, which passes from one key to
// another. id is the proposal's own id (0 before it exists), whose
// reservation of the new admin key does not count against it.
func (b *Block) checkChange(c *GovPropose, id uint64) (int64, error) {
	if c.Kind == ProposalParamsChange {
		return 0, nil
	}
	_, total, err := b.electorate()
	if err != nil {
		return 0, err
	}
	var moved int64
	switch c.Kind {
	case ProposalAgencyAdd:
		if exists, err := b.kv.Get(StoreAgencies, RecordKey(c.Target)); err != nil {
			return 0, fmt.Errorf("%w: %v", ErrStorage, err)
		} else if exists != nil {
			return 0, fieldErr(ErrAlreadyExists, "payload.target", "agency %q already exists (agency ids are never reused)", c.Target)
		}
		if err := b.keyUnused(IndexValidator(c.ValidatorKey), "payload.validator_key", "validator key"); err != nil {
			return 0, err
		}
		if err := b.keyUnused(IndexOfficer(c.AdminKey), "payload.admin_key", "officer key"); err != nil {
			return 0, err
		}
		if r, err := b.reservation(c.AdminKey); err != nil {
			return 0, err
		} else if r != 0 && r != id {
			return 0, fieldErr(ErrKeyInUse, "payload.admin_key", "officer key is reserved by open proposal %d", r)
		}
		moved = c.Power
	case ProposalAgencyRemove, ProposalAgencyPower, ProposalValidatorRotate:
		t, err := b.targetAgency(c.Target)
		if err != nil {
			return 0, err
		}
		switch c.Kind {
		case ProposalAgencyRemove:
			if t.Power == total {
				return 0, fieldErr(ErrGovGuard, "payload.target", "%s is the last validator: the set would be empty", t.ID)
			}
			moved = t.Power
		case ProposalAgencyPower:
			if c.Power == t.Power {
				return 0, fieldErr(ErrInvalidField, "payload.power", "%s already has power %d", t.ID, t.Power)
			}
			moved = max(c.Power-t.Power, t.Power-c.Power)
		case ProposalValidatorRotate:
			if err := b.keyUnused(IndexValidator(c.ValidatorKey), "payload.validator_key", "validator key"); err != nil {
				return 0, err
			}
			moved = t.Power
		}
	}
	if 3*moved > total {
		field := "payload.power"
		if c.Kind == ProposalAgencyRemove || c.Kind == ProposalValidatorRotate {
			field = "payload.target"
		}
		return 0, fieldErr(ErrGovGuard, field, "the change moves power %d, more than 1/3 of the total %d", moved, total)
	}
	return moved, nil
}

func (b *Block) keyUnused(k []byte, field, what string) error {
	v, err := b.kv.Get(StoreIndex, k)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrStorage, err)
	}
	if v != nil {
		return fieldErr(ErrKeyInUse, field, "%s is (or was) used by %s", what, v)
	}
	return nil
}

// targetAgency loads the active agency a proposal changes.
func (b *Block) targetAgency(id string) (*Agency, error) {
	t, err := b.agency(id)
	if err != nil {
		return nil, fieldErr(ErrUnknownAgency, "payload.target", "%q", id)
	}
	if !t.Active() {
		return nil, fieldErr(ErrAgencyRemoved, "payload.target", "agency %s was removed at height %d", t.ID, t.Removed)
	}
	return t, nil
}

func proposalEvent(p *Proposal) Event {
	e := event(EventProposal, AttrID, strconv.FormatUint(p.ID, 10), AttrKind, p.Change.Kind, AttrStatus, string(p.Status), AttrProposer, p.Proposer)
	if p.Change.Target != "" {
		e.Attrs = append(e.Attrs, Attribute{Key: AttrTarget, Value: p.Change.Target, Index: true})
	}
	if p.Effective != 0 {
		e.Attrs = append(e.Attrs, Attribute{Key: AttrEffectiveHeight, Value: strconv.FormatInt(p.Effective, 10), Index: true})
	}
	return e
}

func (b *Block) putProposal(p *Proposal) error { return b.put(StoreMeta, ProposalKey(p.ID), p) }

func (b *Block) govPropose(tx *Tx, ag *Agency, c *GovPropose) ([]Event, error) {
	if _, err := b.checkChange(c, 0); err != nil {
		return nil, err
	}
	electorate, total, err := b.electorate()
	if err != nil {
		return nil, err
	}
	id := uint64(1)
	if bz, err := b.kv.Get(StoreMeta, keyGovNextID); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStorage, err)
	} else if bz != nil {
		if id, err = strconv.ParseUint(string(bz), 10, 64); err != nil {
			return nil, fmt.Errorf("%w: gov/next-id: %v", ErrStorage, err)
		}
	}
	p := &Proposal{
		ID: id, Change: *c, Proposer: ag.ID, ProposerKey: tx.Body.Signer,
		Submitted: b.info.Height, VotingEnd: b.info.Height + b.params.VotingPeriod,
		Electorate: electorate, Votes: []Vote{}, Tally: Tally{Total: total}, Status: ProposalVoting,
	}
	if err := b.set(StoreMeta, keyGovNextID, []byte(strconv.FormatUint(id+1, 10))); err != nil {
		return nil, err
	}
	if err := b.putProposal(p); err != nil {
		return nil, err
	}
	if err := b.set(StoreMeta, govQueueKey(govEndPrefix, p.VotingEnd, id), []byte("1")); err != nil {
		return nil, err
	}
	if c.Kind == ProposalAgencyAdd {
		// The new admin key is reserved while the proposal is open, so that
		// no agency can defeat it by registering that (public) key as an
		// officer of its own during the vote or the notice period.
		if err := b.set(StoreIndex, IndexReserved(c.AdminKey), []byte(strconv.FormatUint(id, 10))); err != nil {
			return nil, err
		}
	}
	return []Event{proposalEvent(p)}, nil
}

func (b *Block) govVote(tx *Tx, ag *Agency, v *GovVote) ([]Event, error) {
	p, ok, err := LoadProposal(b.kv, v.Proposal)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fieldErr(ErrNotFound, "payload.proposal", "proposal %d", v.Proposal)
	}
	if p.Status != ProposalVoting || b.info.Height > p.VotingEnd {
		return nil, fieldErr(ErrVotingClosed, "payload.proposal", "proposal %d is %s (voting ended at height %d)", p.ID, p.Status, p.VotingEnd)
	}
	i := slices.IndexFunc(p.Electorate, func(e AgencyPower) bool { return e.Agency == ag.ID })
	if i < 0 {
		return nil, fieldErr(ErrNotElector, "body.agency", "%s was not a validator agency when proposal %d was made", ag.ID, p.ID)
	}
	if slices.ContainsFunc(p.Votes, func(x Vote) bool { return x.Agency == ag.ID }) {
		return nil, fieldErr(ErrAlreadyVoted, "body.agency", "%s already voted on proposal %d", ag.ID, p.ID)
	}
	p.Votes = append(p.Votes, Vote{Agency: ag.ID, Officer: tx.Body.Signer, Option: v.Option, Height: b.info.Height})
	slices.SortFunc(p.Votes, func(x, y Vote) int { return cmp.Compare(x.Agency, y.Agency) })
	power := p.Electorate[i].Power
	switch v.Option {
	case VoteYes:
		p.Tally.Yes += power
	case VoteNo:
		p.Tally.No += power
	default:
		p.Tally.Abstain += power
	}
	evs := []Event{event(EventVote, AttrProposal, strconv.FormatUint(p.ID, 10), AttrAgency, ag.ID, AttrOption, v.Option)}
	if p.Tally.Passes() {
		p.Status = ProposalNotice
		p.PassedHeight = b.info.Height
		p.Effective = b.info.Height + b.params.NoticePeriod
		if err := b.kv.Delete(StoreMeta, govQueueKey(govEndPrefix, p.VotingEnd, p.ID)); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrStorage, err)
		}
		if err := b.set(StoreMeta, govQueueKey(govExecPrefix, p.Effective, p.ID), []byte("1")); err != nil {
			return nil, err
		}
		evs = append(evs, proposalEvent(p))
	}
	if err := b.putProposal(p); err != nil {
		return nil, err
	}
	return evs, nil
}
