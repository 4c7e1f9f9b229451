package ledger

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
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
	ID           uint64         `json:"id"`
	Change       GovPropose     `json:"change"`
	Proposer     string         `json:"proposer"`     // agency
	ProposerKey  []byte         `json:"proposer_key"` // admin officer
	Submitted    int64          `json:"submitted_height"`
	VotingEnd    int64          `json:"voting_end_height"` // last height at which a vote counts
	Electorate   []AgencyPower  `json:"electorate"`        // sorted by agency; powers at submission
	Votes        []Vote         `json:"votes"`             // sorted by agency
	Tally        Tally          `json:"tally"`
	Status       ProposalStatus `json:"status"`
	PassedHeight int64          `json:"passed_height,omitempty"`
	Effective    int64          `json:"effective_height,omitempty"` // first height at which it may take effect
	ClosedHeight int64          `json:"closed_height,omitempty"`    // height of execution, failure or rejection
	Result       string         `json:"result,omitempty"`           // why it failed
}

// ValidatorUpdate is a change of the consensus validator set: power 0
// removes the key.
type ValidatorUpdate struct {
	PubKey []byte // ed25519
	Power  int64
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

// govInvariants checks the validator set and the proposals (see
// CheckInvariants).
func govInvariants(r Reader) ([]Violation, error) {
	var broken []Violation
	fail := func(rule, id, format string, args ...any) {
		broken = append(broken, Violation{Rule: rule, ID: id, Message: fmt.Sprintf(format, args...)})
	}
	var active int
	err := r.Iterate(StoreAgencies, nil, nil, func(k, v []byte) bool {
		if bytes.Equal(k, SeedKey) {
			return true
		}
		var a Agency
		if err := json.Unmarshal(v, &a); err != nil {
			fail(InvRecordDecodes, string(k), "agency %s: undecodable: %v", k, err)
			return true
		}
		switch {
		case a.Active() && a.Power <= 0:
			fail(InvAgencyPower, a.ID, "agency %s is active with power %d", a.ID, a.Power)
		case !a.Active() && a.Power != 0:
			fail(InvAgencyPower, a.ID, "agency %s was removed but has power %d", a.ID, a.Power)
		}
		if a.Active() {
			active++
		}
		if owner, err := r.Get(StoreIndex, IndexValidator(a.ValidatorKey)); err != nil || string(owner) != a.ID {
			fail(InvValidatorIndex, a.ID, "validator key of agency %s is indexed to %q", a.ID, owner)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if active == 0 {
		fail(InvValidatorSet, "", "no active agency: the validator set is empty")
	}
	reserved := map[string]string{} // key hex → proposal id
	if err := r.Iterate(StoreIndex, []byte(reservedPrefix), PrefixEnd([]byte(reservedPrefix)), func(k, v []byte) bool {
		reserved[string(k[len(reservedPrefix):])] = string(v)
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
			fail(InvRecordDecodes, string(k), "proposal %s: undecodable: %v", k, err)
			return true
		}
		pid := strconv.FormatUint(p.ID, 10)
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
			fail(InvGovTally, pid, "proposal %d: tally %+v, votes sum to %+v", p.ID, p.Tally, t)
		}
		endKey := string(govQueueKey(govEndPrefix, p.VotingEnd, p.ID))
		execKey := string(govQueueKey(govExecPrefix, p.Effective, p.ID))
		if queued[endKey] != (p.Status == ProposalVoting) {
			fail(InvGovQueue, pid, "proposal %d is %s but its voting-end queue entry is present=%v", p.ID, p.Status, queued[endKey])
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
				fail(InvGovQueue, pid, "proposal %d is in notice but not queued for execution", p.ID)
			}
		}
		if p.Change.Kind == ProposalAgencyAdd {
			open := p.Status == ProposalVoting || p.Status == ProposalNotice
			k := hex.EncodeToString(p.Change.AdminKey)
			if got, ok := reserved[k]; open != (ok && got == strconv.FormatUint(p.ID, 10)) {
				fail(InvGovReservation, pid, "proposal %d is %s but the reservation of its admin key is %q", p.ID, p.Status, got)
			}
			if open {
				delete(reserved, k)
			}
		}
		if p.Status == ProposalNotice != p.Tally.Passes() && p.Status != ProposalExecuted && p.Status != ProposalFailed {
			fail(InvGovStatus, pid, "proposal %d is %s with tally %+v", p.ID, p.Status, p.Tally)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	for q := range queued {
		fail(InvGovQueue, q, "queue entry %s has no open proposal", q)
	}
	for k, id := range reserved {
		fail(InvGovReservation, k, "officer key %s is reserved by proposal %s, which is not an open agency-add", k, id)
	}
	return broken, nil
}
