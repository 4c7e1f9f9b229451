package ledger

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// The governance schedule, run at the start of every block: voting that
// closes, notice periods that end, changes that take effect, and the
// validator updates and key reservations they leave.

// due returns the queued (height, id) entries under prefix with height below
// end, in key order, and deletes nothing.
func (b *Block) due(prefix string, end int64) ([][]byte, error) {
	var keys [][]byte
	if err := b.kv.Iterate(StoreMeta, []byte(prefix), govQueueKey(prefix, end, 0), func(k, _ []byte) bool {
		keys = append(keys, bytes.Clone(k))
		return true
	}); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStorage, err)
	}
	return keys, nil
}

func queuedID(prefix string, k []byte) (uint64, error) {
	id, err := strconv.ParseUint(string(k[len(prefix)+21:]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: bad queue key %q", ErrStorage, k)
	}
	return id, nil
}

// runGovernance closes the voting of proposals whose deadline passed and
// executes the passed ones whose notice period is over. It runs at the start
// of every block, in key order (height, then id), so every node applies the
// same changes in the same order.
func (b *Block) runGovernance() ([]Event, error) {
	var evs []Event
	ends, err := b.due(govEndPrefix, b.info.Height)
	if err != nil {
		return nil, err
	}
	for _, k := range ends {
		id, err := queuedID(govEndPrefix, k)
		if err != nil {
			return nil, err
		}
		if err := b.kv.Delete(StoreMeta, k); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrStorage, err)
		}
		p, ok, err := LoadProposal(b.kv, id)
		if err != nil {
			return nil, err
		}
		if !ok || !CanTransition(KindProposal, p.Status, ProposalRejected) {
			continue
		}
		p.Status, p.ClosedHeight = ProposalRejected, b.info.Height
		p.Result = fmt.Sprintf("yes %d of %d voting power at the deadline (height %d); more than 2/3 needed", p.Tally.Yes, p.Tally.Total, p.VotingEnd)
		if err := b.release(p); err != nil {
			return nil, err
		}
		if err := b.putProposal(p); err != nil {
			return nil, err
		}
		evs = append(evs, proposalEvent(p))
	}
	execs, err := b.due(govExecPrefix, b.info.Height+1)
	if err != nil {
		return nil, err
	}
	if len(execs) == 0 {
		return evs, nil // the usual block: no agency is read
	}
	_, total, err := b.electorate()
	if err != nil {
		return nil, err
	}
	var movedThisBlock int64
	changed := map[string]bool{} // agencies whose validator changed in this block
	for _, k := range execs {
		id, err := queuedID(govExecPrefix, k)
		if err != nil {
			return nil, err
		}
		p, ok, err := LoadProposal(b.kv, id)
		if err != nil {
			return nil, err
		}
		if !ok || !CanTransition(KindProposal, p.Status, ProposalExecuted) {
			if err := b.kv.Delete(StoreMeta, k); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrStorage, err)
			}
			continue
		}
		moved, cerr := b.checkChange(&p.Change, p.ID)
		if cerr == nil && (changed[p.Change.Target] || movedThisBlock > 0 && 3*(movedThisBlock+moved) > total) {
			// Several changes fall due together: keep each block's change of
			// the validator set within 1/3 of the power, and at most one
			// change per agency (a second one would act on a key CometBFT
			// has not applied yet), by deferring this one a block.
			if err := b.kv.Delete(StoreMeta, k); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrStorage, err)
			}
			p.Effective = b.info.Height + 1
			if err := b.set(StoreMeta, govQueueKey(govExecPrefix, p.Effective, id), []byte("1")); err != nil {
				return nil, err
			}
			if err := b.putProposal(p); err != nil {
				return nil, err
			}
			evs = append(evs, event(EventDeferred, AttrID, strconv.FormatUint(id, 10), AttrToHeight, strconv.FormatInt(p.Effective, 10)))
			continue
		}
		if err := b.kv.Delete(StoreMeta, k); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrStorage, err)
		}
		p.ClosedHeight = b.info.Height
		if cerr != nil {
			if CodeOf(cerr) == CodeInternal {
				return nil, cerr
			}
			p.Status, p.Result = ProposalFailed, cerr.Error()
		} else {
			cevs, err := b.execute(p)
			if err != nil {
				return nil, err
			}
			movedThisBlock += moved
			if p.Change.Kind != ProposalParamsChange {
				changed[p.Change.Target] = true
			}
			p.Status = ProposalExecuted
			evs = append(evs, cevs...)
		}
		if err := b.release(p); err != nil {
			return nil, err
		}
		if err := b.putProposal(p); err != nil {
			return nil, err
		}
		evs = append(evs, proposalEvent(p))
	}
	return evs, nil
}

// execute applies a passed proposal whose guard rails hold.
func (b *Block) execute(p *Proposal) ([]Event, error) {
	c := &p.Change
	switch c.Kind {
	case ProposalParamsChange:
		if err := b.put(StoreMeta, KeyParams, c.Params); err != nil {
			return nil, err
		}
		b.params = *c.Params
		return []Event{event(EventParams, AttrProposal, strconv.FormatUint(p.ID, 10))}, nil
	case ProposalAgencyAdd:
		a := &Agency{
			ID: c.Target, Name: c.Name, Jurisdiction: c.Jurisdiction, ValidatorKey: c.ValidatorKey, Power: c.Power,
			Officers: []Officer{{Key: c.AdminKey, Name: c.AdminName, Roles: []Role{RoleAdmin}}},
			Joined:   b.info.Height,
		}
		b.agencies[a.ID] = a
		if err := b.putAgency(a); err != nil {
			return nil, err
		}
		if err := b.set(StoreIndex, IndexOfficer(c.AdminKey), []byte(a.ID)); err != nil {
			return nil, err
		}
		if err := b.set(StoreIndex, IndexValidator(c.ValidatorKey), []byte(a.ID)); err != nil {
			return nil, err
		}
		b.updateValidator(a.ValidatorKey, a.Power)
		return []Event{agencyEvent(a, ActionAdd), officerEvent(a, &a.Officers[0], ActionAdd)}, nil
	}
	a, err := b.targetAgency(c.Target)
	if err != nil {
		return nil, err
	}
	switch c.Kind {
	case ProposalAgencyRemove:
		b.updateValidator(a.ValidatorKey, 0)
		a.Power, a.Removed = 0, b.info.Height
		if err := b.putAgency(a); err != nil {
			return nil, err
		}
		return []Event{agencyEvent(a, ActionRemove)}, nil
	case ProposalAgencyPower:
		a.Power = c.Power
		b.updateValidator(a.ValidatorKey, a.Power)
		if err := b.putAgency(a); err != nil {
			return nil, err
		}
		return []Event{agencyEvent(a, ActionSetPower)}, nil
	case ProposalValidatorRotate:
		b.updateValidator(a.ValidatorKey, 0)
		a.ValidatorKey = c.ValidatorKey
		b.updateValidator(a.ValidatorKey, a.Power)
		if err := b.set(StoreIndex, IndexValidator(c.ValidatorKey), []byte(a.ID)); err != nil {
			return nil, err
		}
		if err := b.putAgency(a); err != nil {
			return nil, err
		}
		return []Event{agencyEvent(a, ActionRotate)}, nil
	}
	return nil, fmt.Errorf("%w: proposal %d has unknown kind %q", ErrStorage, p.ID, c.Kind)
}

// reservation returns the id of the open proposal that reserved an officer
// key (0 if none).
func (b *Block) reservation(key []byte) (uint64, error) {
	v, err := b.kv.Get(StoreIndex, IndexReserved(key))
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrStorage, err)
	}
	if v == nil {
		return 0, nil
	}
	id, err := strconv.ParseUint(string(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: reservation %q", ErrStorage, v)
	}
	return id, nil
}

// release drops a closed proposal's reservation of its admin key.
func (b *Block) release(p *Proposal) error {
	if p.Change.Kind != ProposalAgencyAdd {
		return nil
	}
	if r, err := b.reservation(p.Change.AdminKey); err != nil || r != p.ID {
		return err
	}
	if err := b.kv.Delete(StoreIndex, IndexReserved(p.Change.AdminKey)); err != nil {
		return fmt.Errorf("%w: %v", ErrStorage, err)
	}
	return nil
}

func agencyEvent(a *Agency, action string) Event {
	return event(EventAgency, AttrID, a.ID, AttrAction, action, AttrPower, strconv.FormatInt(a.Power, 10), AttrValidatorKey, hex.EncodeToString(a.ValidatorKey))
}

// updateValidator records a validator set change for this block; the last
// change of a key in the block wins.
func (b *Block) updateValidator(key []byte, power int64) {
	if b.valUpdates == nil {
		b.valUpdates = map[string]int64{}
	}
	b.valUpdates[string(key)] = power
}

// ValidatorUpdates returns the block's validator set changes, sorted by key.
// CometBFT applies them two blocks later.
func (b *Block) ValidatorUpdates() []ValidatorUpdate {
	out := make([]ValidatorUpdate, 0, len(b.valUpdates))
	for k, p := range b.valUpdates {
		out = append(out, ValidatorUpdate{PubKey: []byte(k), Power: p})
	}
	slices.SortFunc(out, func(x, y ValidatorUpdate) int { return bytes.Compare(x.PubKey, y.PubKey) })
	return out
}

// ListProposals returns the proposals with the given status ("" for all), by
// ascending id, after the given id, at most limit (see pageSize).
func ListProposals(r Reader, status string, after uint64, limit int) ([]*Proposal, uint64, error) {
	n := pageSize(limit)
	if after == math.MaxUint64 {
		return nil, 0, nil
	}
	var out []*Proposal
	var bad error
	var next uint64
	start := ProposalKey(after + 1)
	err := r.Iterate(StoreMeta, start, PrefixEnd(ProposalPrefix()), func(_, v []byte) bool {
		var p Proposal
		if err := json.Unmarshal(v, &p); err != nil {
			bad = fmt.Errorf("%w: decode proposal: %v", ErrStorage, err)
			return false
		}
		if status != "" && string(p.Status) != status {
			return true
		}
		if len(out) == n {
			next = out[len(out)-1].ID
			return false
		}
		out = append(out, &p)
		return true
	})
	if err != nil {
		return nil, 0, err
	}
	return out, next, bad
}
