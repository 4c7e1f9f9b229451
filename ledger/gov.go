package ledger

import (
	"bytes"
	"cmp"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Governance: no single agency may add, remove or re-weight a validator, or
// change the chain's parameters, on its own. An admin officer proposes a
// change (gov/propose); the agencies' admin officers vote (gov/vote), one vote
// per agency, weighted by the agency's voting power when the proposal was
// made. A proposal passes as soon as agencies holding more than 2/3 of that
// power voted yes, at or before its voting deadline; otherwise it is rejected
// at the deadline. A passed proposal is public during a notice period and
// takes effect at the first block of height >= its effective height, where
// its guard rails are checked again against the state of that moment.
//
// Life of a proposal:
//
//	voting → notice → executed | failed     (failed: a guard rail no longer holds)
//	voting → rejected                        (deadline passed without 2/3 yes)

// Proposal kinds.
const (
	ProposalAgencyAdd       = "agency-add"
	ProposalAgencyRemove    = "agency-remove"
	ProposalAgencyPower     = "agency-power"
	ProposalValidatorRotate = "validator-rotate"
	ProposalParamsChange    = "params-change"
)

// ProposalKinds lists the proposal kinds in canonical order.
var ProposalKinds = []string{ProposalAgencyAdd, ProposalAgencyPower, ProposalAgencyRemove, ProposalParamsChange, ProposalValidatorRotate}

// Proposal statuses.
const (
	ProposalVoting   = "voting"
	ProposalNotice   = "notice"
	ProposalExecuted = "executed"
	ProposalRejected = "rejected"
	ProposalFailed   = "failed"
)

// ProposalStatuses lists the statuses in life-cycle order.
var ProposalStatuses = []string{ProposalVoting, ProposalNotice, ProposalExecuted, ProposalRejected, ProposalFailed}

// Vote options.
const (
	VoteYes     = "yes"
	VoteNo      = "no"
	VoteAbstain = "abstain"
)

// MaxPower bounds an agency's voting power, far below CometBFT's limit on the
// total, so that sums and tallies can never overflow.
const MaxPower = 1_000_000_000_000

// GovPropose is the payload of gov/propose. Which fields are set depends on
// Kind; fields that do not belong to the kind must be absent.
//
//	agency-add        target (new agency id), name, jurisdiction, validator_key, power, admin_key, admin_name
//	agency-remove     target
//	agency-power      target, power
//	validator-rotate  target, validator_key
//	params-change     params (the complete new parameters)
type GovPropose struct {
	Kind         string  `json:"kind"`
	Title        string  `json:"title"`
	LegalBasis   string  `json:"legal_basis"`
	DocumentHash string  `json:"document_hash"`
	Target       string  `json:"target,omitempty"`
	Name         string  `json:"name,omitempty"`
	Jurisdiction string  `json:"jurisdiction,omitempty"`
	ValidatorKey []byte  `json:"validator_key,omitempty"`
	Power        int64   `json:"power,omitempty"`
	AdminKey     []byte  `json:"admin_key,omitempty"`
	AdminName    string  `json:"admin_name,omitempty"`
	Params       *Params `json:"params,omitempty"`
}

// GovVote is the payload of gov/vote: the signing agency's vote.
type GovVote struct {
	Proposal uint64 `json:"proposal"`
	Option   string `json:"option"`
}

// Transaction type names of governance.
const (
	TypeGovPropose = "gov/propose"
	TypeGovVote    = "gov/vote"
)

func (*GovPropose) Type() string { return TypeGovPropose }
func (*GovVote) Type() string    { return TypeGovVote }

func checkKey(field string, k []byte) error {
	if len(k) != ed25519.PublicKeySize {
		return fieldErr(ErrInvalidKey, field, "must be a 32-byte ed25519 public key")
	}
	return nil
}

func checkPower(field string, p int64) error {
	if p <= 0 || p > MaxPower {
		return fieldErr(ErrInvalidField, field, "must be between 1 and %d", int64(MaxPower))
	}
	return nil
}

// ValidateBasic checks the fields of the proposal's kind and that no other
// field is set.
func (p *GovPropose) ValidateBasic() error {
	if err := checkText("payload.title", p.Title, maxNameLen, true); err != nil {
		return err
	}
	if err := checkText("payload.legal_basis", p.LegalBasis, maxTextLen, true); err != nil {
		return err
	}
	if err := checkHash("payload.document_hash", p.DocumentHash); err != nil {
		return err
	}
	// allowed names the fields the kind uses; every other one must be empty.
	var allowed []string
	switch p.Kind {
	case ProposalAgencyAdd:
		allowed = []string{"target", "name", "jurisdiction", "validator_key", "power", "admin_key", "admin_name"}
		if err := checkID("payload.target", p.Target); err != nil {
			return err
		}
		if err := checkText("payload.name", p.Name, maxNameLen, true); err != nil {
			return err
		}
		if err := checkText("payload.jurisdiction", p.Jurisdiction, maxNameLen, false); err != nil {
			return err
		}
		if err := checkKey("payload.validator_key", p.ValidatorKey); err != nil {
			return err
		}
		if err := checkPower("payload.power", p.Power); err != nil {
			return err
		}
		if err := checkKey("payload.admin_key", p.AdminKey); err != nil {
			return err
		}
		if err := checkText("payload.admin_name", p.AdminName, maxNameLen, true); err != nil {
			return err
		}
	case ProposalAgencyRemove:
		allowed = []string{"target"}
		if err := checkID("payload.target", p.Target); err != nil {
			return err
		}
	case ProposalAgencyPower:
		allowed = []string{"target", "power"}
		if err := checkID("payload.target", p.Target); err != nil {
			return err
		}
		if err := checkPower("payload.power", p.Power); err != nil {
			return err
		}
	case ProposalValidatorRotate:
		allowed = []string{"target", "validator_key"}
		if err := checkID("payload.target", p.Target); err != nil {
			return err
		}
		if err := checkKey("payload.validator_key", p.ValidatorKey); err != nil {
			return err
		}
	case ProposalParamsChange:
		allowed = []string{"params"}
		if p.Params == nil {
			return fieldErr(ErrInvalidField, "payload.params", "required for %s", p.Kind)
		}
		if err := p.Params.Validate(); err != nil {
			return fmt.Errorf("payload.%w", err)
		}
	default:
		return fieldErr(ErrInvalidField, "payload.kind", "%q is not one of %v", p.Kind, ProposalKinds)
	}
	set := map[string]bool{
		"target": p.Target != "", "name": p.Name != "", "jurisdiction": p.Jurisdiction != "",
		"validator_key": p.ValidatorKey != nil, "power": p.Power != 0, "admin_key": p.AdminKey != nil,
		"admin_name": p.AdminName != "", "params": p.Params != nil,
	}
	for _, f := range []string{"target", "name", "jurisdiction", "validator_key", "power", "admin_key", "admin_name", "params"} {
		if set[f] && !slices.Contains(allowed, f) {
			return fieldErr(ErrInvalidField, "payload."+f, "not allowed in a %s proposal", p.Kind)
		}
	}
	return nil
}

// ValidateBasic checks the option.
func (v *GovVote) ValidateBasic() error {
	if v.Proposal == 0 {
		return fieldErr(ErrInvalidField, "payload.proposal", "must be a proposal id (from 1)")
	}
	switch v.Option {
	case VoteYes, VoteNo, VoteAbstain:
		return nil
	}
	return fieldErr(ErrInvalidField, "payload.option", "%q is not yes, no or abstain", v.Option)
}

// AgencyPower is one agency's voting power in a proposal's electorate.
type AgencyPower struct {
	Agency string `json:"agency"`
	Power  int64  `json:"power"`
}

// Vote is one agency's vote on a proposal.
type Vote struct {
	Agency  string `json:"agency"`
	Officer []byte `json:"officer"` // the admin officer who cast it
	Option  string `json:"option"`
	Height  int64  `json:"height"`
}

// Tally sums the voting power behind each option.
type Tally struct {
	Yes     int64 `json:"yes"`
	No      int64 `json:"no"`
	Abstain int64 `json:"abstain"`
	Total   int64 `json:"total"` // power of the whole electorate
}

// Passes reports whether yes holds more than 2/3 of the electorate's power.
func (t Tally) Passes() bool { return 3*t.Yes > 2*t.Total }

// Proposal is a governance proposal, kept in the meta store under
// ProposalKey(ID) so that it is provable like any record.
type Proposal struct {
	ID           uint64        `json:"id"`
	Change       GovPropose    `json:"change"`
	Proposer     string        `json:"proposer"`     // agency
	ProposerKey  []byte        `json:"proposer_key"` // admin officer
	Submitted    int64         `json:"submitted_height"`
	VotingEnd    int64         `json:"voting_end_height"` // last height at which a vote counts
	Electorate   []AgencyPower `json:"electorate"`        // sorted by agency; powers at submission
	Votes        []Vote        `json:"votes"`             // sorted by agency
	Tally        Tally         `json:"tally"`
	Status       string        `json:"status"`
	PassedHeight int64         `json:"passed_height,omitempty"`
	Effective    int64         `json:"effective_height,omitempty"` // first height at which it may take effect
	ClosedHeight int64         `json:"closed_height,omitempty"`    // height of execution, failure or rejection
	Result       string        `json:"result,omitempty"`           // why it failed
}

// ValidatorUpdate is a change of the consensus validator set: power 0
// removes the key.
type ValidatorUpdate struct {
	PubKey []byte // ed25519
	Power  int64
}

// ---- keys ----
//
//	meta   gov/next-id                                   next proposal id (decimal)
//	meta   proposal/<id 20 digits>                       Proposal JSON
//	meta   gov/end/<voting end 20 digits>/<id 20 digits>  "1" while voting
//	meta   gov/exec/<effective 20 digits>/<id 20 digits>  "1" while in notice
//	index  validator/<key hex>                           agency id that holds (or held) the validator key
//	index  reserved/<key hex>                            id of the open agency-add proposal whose admin key it is

var keyGovNextID = []byte("gov/next-id")

const (
	proposalPrefix = "proposal/"
	govEndPrefix   = "gov/end/"
	govExecPrefix  = "gov/exec/"
)

// ProposalKey is the meta key of a proposal.
func ProposalKey(id uint64) []byte { return fmt.Appendf(nil, "%s%020d", proposalPrefix, id) }

// ProposalPrefix is the meta key prefix of every proposal.
func ProposalPrefix() []byte { return []byte(proposalPrefix) }

// IndexValidator maps a validator key to the agency that holds or held it:
// a consensus key is never reused.
func IndexValidator(key []byte) []byte { return []byte("validator/" + hex.EncodeToString(key)) }

func govQueueKey(prefix string, height int64, id uint64) []byte {
	return fmt.Appendf(nil, "%s%020d/%020d", prefix, height, id)
}

// LoadProposal reads a proposal; ok is false if it does not exist.
func LoadProposal(r Reader, id uint64) (*Proposal, bool, error) {
	var p Proposal
	ok, err := getJSON(r, StoreMeta, ProposalKey(id), &p)
	if err != nil || !ok {
		return nil, ok, err
	}
	return &p, true, nil
}

// ---- transitions ----

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
	e := event("gov_proposal", "id", strconv.FormatUint(p.ID, 10), "kind", p.Change.Kind, "status", p.Status, "proposer", p.Proposer)
	if p.Change.Target != "" {
		e.Attrs = append(e.Attrs, Attribute{Key: "target", Value: p.Change.Target, Index: true})
	}
	if p.Effective != 0 {
		e.Attrs = append(e.Attrs, Attribute{Key: "effective_height", Value: strconv.FormatInt(p.Effective, 10), Index: true})
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
	evs := []Event{event("gov_vote", "proposal", strconv.FormatUint(p.ID, 10), "agency", ag.ID, "option", v.Option)}
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
		if !ok || p.Status != ProposalVoting {
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
		if !ok || p.Status != ProposalNotice {
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
			evs = append(evs, event("gov_deferred", "id", strconv.FormatUint(id, 10), "to_height", strconv.FormatInt(p.Effective, 10)))
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
		return []Event{event("params", "proposal", strconv.FormatUint(p.ID, 10))}, nil
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
		return []Event{agencyEvent(a, "add"), officerEvent(a, &a.Officers[0], "add")}, nil
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
		return []Event{agencyEvent(a, "remove")}, nil
	case ProposalAgencyPower:
		a.Power = c.Power
		b.updateValidator(a.ValidatorKey, a.Power)
		if err := b.putAgency(a); err != nil {
			return nil, err
		}
		return []Event{agencyEvent(a, "set-power")}, nil
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
		return []Event{agencyEvent(a, "rotate-validator")}, nil
	}
	return nil, fmt.Errorf("%w: proposal %d has unknown kind %q", ErrStorage, p.ID, c.Kind)
}

// IndexReserved is the index key of an officer key reserved by an open
// agency-add proposal (value: the proposal id).
func IndexReserved(key []byte) []byte { return []byte("reserved/" + hex.EncodeToString(key)) }

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
	return event("agency", "id", a.ID, "action", action, "power", strconv.FormatInt(a.Power, 10), "validator_key", hex.EncodeToString(a.ValidatorKey))
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
		if status != "" && p.Status != status {
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

// govInvariants checks the validator set and the proposals (see
// CheckInvariants).
func govInvariants(r Reader) ([]string, error) {
	var broken []string
	fail := func(format string, args ...any) { broken = append(broken, fmt.Sprintf(format, args...)) }
	var active int
	err := r.Iterate(StoreAgencies, nil, nil, func(k, v []byte) bool {
		if bytes.Equal(k, SeedKey) {
			return true
		}
		var a Agency
		if err := json.Unmarshal(v, &a); err != nil {
			fail("agency %s: undecodable: %v", k, err)
			return true
		}
		switch {
		case a.Active() && a.Power <= 0:
			fail("agency %s is active with power %d", a.ID, a.Power)
		case !a.Active() && a.Power != 0:
			fail("agency %s was removed but has power %d", a.ID, a.Power)
		}
		if a.Active() {
			active++
		}
		if owner, err := r.Get(StoreIndex, IndexValidator(a.ValidatorKey)); err != nil || string(owner) != a.ID {
			fail("validator key of agency %s is indexed to %q", a.ID, owner)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if active == 0 {
		fail("no active agency: the validator set is empty")
	}
	reserved := map[string]string{} // key hex → proposal id
	if err := r.Iterate(StoreIndex, []byte("reserved/"), PrefixEnd([]byte("reserved/")), func(k, v []byte) bool {
		reserved[string(k[len("reserved/"):])] = string(v)
		return true
	}); err != nil {
		return nil, err
	}
	queued := map[string]bool{}
	for _, prefix := range []string{govEndPrefix, govExecPrefix} {
		if err := r.Iterate(StoreMeta, []byte(prefix), PrefixEnd([]byte(prefix)), func(k, _ []byte) bool {
			queued[string(k)] = true
			return true
		}); err != nil {
			return nil, err
		}
	}
	err = r.Iterate(StoreMeta, ProposalPrefix(), PrefixEnd(ProposalPrefix()), func(k, v []byte) bool {
		var p Proposal
		if err := json.Unmarshal(v, &p); err != nil {
			fail("proposal %s: undecodable: %v", k, err)
			return true
		}
		power := map[string]int64{}
		var total int64
		for _, e := range p.Electorate {
			power[e.Agency] = e.Power
			total += e.Power
		}
		var t Tally
		t.Total = total
		for _, v := range p.Votes {
			switch v.Option {
			case VoteYes:
				t.Yes += power[v.Agency]
			case VoteNo:
				t.No += power[v.Agency]
			default:
				t.Abstain += power[v.Agency]
			}
		}
		if t != p.Tally {
			fail("proposal %d: tally %+v, votes sum to %+v", p.ID, p.Tally, t)
		}
		endKey := string(govQueueKey(govEndPrefix, p.VotingEnd, p.ID))
		execKey := string(govQueueKey(govExecPrefix, p.Effective, p.ID))
		if queued[endKey] != (p.Status == ProposalVoting) {
			fail("proposal %d is %s but its voting-end queue entry is present=%v", p.ID, p.Status, queued[endKey])
		}
		delete(queued, endKey)
		if p.Status == ProposalNotice {
			// A deferred execution is queued at a later height.
			found := queued[execKey]
			for q := range queued {
				if len(q) > len(govExecPrefix)+21 && q[:len(govExecPrefix)] == govExecPrefix && q[len(govExecPrefix)+21:] == fmt.Sprintf("%020d", p.ID) {
					found = true
					delete(queued, q)
				}
			}
			if !found {
				fail("proposal %d is in notice but not queued for execution", p.ID)
			}
		}
		if p.Change.Kind == ProposalAgencyAdd {
			open := p.Status == ProposalVoting || p.Status == ProposalNotice
			k := hex.EncodeToString(p.Change.AdminKey)
			if got, ok := reserved[k]; open != (ok && got == strconv.FormatUint(p.ID, 10)) {
				fail("proposal %d is %s but the reservation of its admin key is %q", p.ID, p.Status, got)
			}
			if open {
				delete(reserved, k)
			}
		}
		if p.Status == ProposalNotice != p.Tally.Passes() && p.Status != ProposalExecuted && p.Status != ProposalFailed {
			fail("proposal %d is %s with tally %+v", p.ID, p.Status, p.Tally)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	for q := range queued {
		fail("queue entry %s has no open proposal", q)
	}
	for k, id := range reserved {
		fail("officer key %s is reserved by proposal %s, which is not an open agency-add", k, id)
	}
	return broken, nil
}
