package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	rpctypes "github.com/cometbft/cometbft/rpc/jsonrpc/types"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/verify"
)

// Misbehaviour types, as the civicledger_misbehavior_total metric labels
// them.
const (
	MisbehaviourDuplicateVote     = "duplicate_vote"
	MisbehaviourLightClientAttack = "light_client_attack"
)

// DiscMisbehaviourCheck is the discrepancy kind of committed evidence that
// could not be checked: a header that does not link to the verified chain,
// a block that is not the header's, or evidence whose signatures do not
// verify against the validator set of its height.
const DiscMisbehaviourCheck = "misbehaviour_unchecked"

// Misbehaviour is one validator's misbehaviour, proved by evidence that a
// block committed.
type Misbehaviour struct {
	Block     int64  `json:"block"`  // the block that committed the evidence
	Height    int64  `json:"height"` // the height of the offence
	Type      string `json:"type"`   // duplicate_vote or light_client_attack
	Validator string `json:"validator"`
	// Agency holds or held the validator key (the index entry
	// validator/<key> at the audited height); empty if no agency did.
	Agency   string    `json:"agency"`
	Power    int64     `json:"power"`
	Time     time.Time `json:"time"`     // block time at the offence's height
	Evidence string    `json:"evidence"` // hash of the evidence
	Detail   string    `json:"detail"`
	// Verified: the block is in the header chain linked to the verified
	// header, the evidence's signatures verify against the validator set of
	// its height (whose hash that chain holds), and the agency's name is
	// proved against the verified AppHash.
	Verified bool `json:"verified"`
}

// MisbehaviourOptions tune CollectMisbehaviour.
type MisbehaviourOptions struct {
	From, To int64 // blocks scanned
	// Anchor is the verified header To+1 (nil: the node is trusted). Every
	// header scanned is linked to it by hash (each header's LastBlockID),
	// and agency names are proved against its AppHash (state To).
	Anchor  *cmttypes.LightBlock
	ChainID string
}

// MisbehaviourReport is the committed evidence of blocks From..To.
type MisbehaviourReport struct {
	From    int64 `json:"from"`
	To      int64 `json:"to"`
	Scanned int64 `json:"scanned"` // headers read
	// PrunedBelow is the node's first block when it is above the From asked
	// for: the blocks below it were not scanned.
	PrunedBelow int64          `json:"pruned_below,omitempty"`
	Evidence    []Misbehaviour `json:"evidence"`
	// Failures are checks that failed (DiscMisbehaviourCheck).
	Failures []Discrepancy `json:"-"`
}

// blockchainPage is the most headers /blockchain returns at once.
const blockchainPage = 20

// emptyEvidenceHash is the EvidenceHash of a block without evidence.
var emptyEvidenceHash = cmttypes.EvidenceList{}.Hash()

// CollectMisbehaviour reads the headers of blocks From..To (20 a request,
// newest first), fetches the blocks whose header commits to evidence, and
// reports each validator the evidence proves misbehaved, named by agency.
// With an Anchor, the headers form a hash chain down from it, so the node
// can neither hide a block's evidence nor make one up; a link that does not
// hold ends the scan with a failure. A network error is returned.
func (c *Client) CollectMisbehaviour(ctx context.Context, o MisbehaviourOptions) (*MisbehaviourReport, error) {
	rep := &MisbehaviourReport{From: max(o.From, 1), To: o.To, Evidence: []Misbehaviour{}}
	if rep.To < rep.From {
		return rep, nil
	}
	st, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	if base := st.SyncInfo.EarliestBlockHeight; base > rep.From {
		rep.PrunedBelow = base
	}
	fail := func(id, format string, args ...any) {
		rep.Failures = append(rep.Failures, Discrepancy{Kind: DiscMisbehaviourCheck, ID: id, Detail: fmt.Sprintf(format, args...)})
	}

	// Walk the headers down from the anchor.
	var next []byte // the hash the header below must have (nil: none known)
	if o.Anchor != nil {
		if o.Anchor.Height != o.To+1 {
			return nil, fmt.Errorf("misbehaviour scan: anchor header %d is not header %d", o.Anchor.Height, o.To+1)
		}
		next = o.Anchor.LastBlockID.Hash
	}
	type found struct {
		header *cmttypes.Header
		hash   []byte
		block  *cmttypes.Block
	}
	var blocks []found
	needed := map[int64]bool{}              // offence heights whose validator set is needed
	headers := map[int64]*cmttypes.Header{} // linked headers at those heights
	linked := true
	low := max(rep.From, rep.PrunedBelow)
	for hi := rep.To; hi >= 1 && linked; {
		if hi < low && !anyBelow(needed, headers, hi) {
			break
		}
		lo := max(hi-blockchainPage+1, 1, rep.PrunedBelow)
		if lo > hi {
			break
		}
		res, err := c.rpc.BlockchainInfo(ctx, lo, hi)
		if err != nil {
			return nil, fmt.Errorf("block headers %d..%d: %w", lo, hi, err)
		}
		want := hi
		for _, m := range res.BlockMetas {
			if m == nil || m.Header.Height != want {
				fail(fmt.Sprint(want), "the node's headers %d..%d skip header %d", lo, hi, want)
				linked = false
				break
			}
			hash := m.Header.Hash()
			if !bytes.Equal(hash, m.BlockID.Hash) || (next != nil && !bytes.Equal(hash, next)) {
				fail(fmt.Sprint(want), "header %d (%X) is not the one the verified header %d links to: the node serves headers that are not the chain's", want, hash, o.To+1)
				linked = false
				break
			}
			next = m.Header.LastBlockID.Hash
			h := m.Header
			if needed[want] {
				headers[want] = &h
			}
			if want >= low {
				rep.Scanned++
				if !bytes.Equal(m.Header.EvidenceHash, emptyEvidenceHash) {
					bh := want
					b, err := c.rpc.Block(ctx, &bh)
					if err != nil {
						return nil, fmt.Errorf("block %d: %w", bh, err)
					}
					if !bytes.Equal(b.Block.Hash(), hash) || b.Block.ValidateBasic() != nil {
						fail(fmt.Sprint(bh), "block %d as served does not match its header %X (its evidence cannot be read)", bh, hash)
					} else {
						blocks = append(blocks, found{header: &h, hash: hash, block: b.Block})
						for _, ev := range b.Block.Evidence.Evidence {
							needed[ev.Height()] = true
						}
					}
				}
			}
			want--
		}
		if linked && want == hi { // nothing returned
			fail(fmt.Sprint(hi), "the node served no header %d", hi)
			break
		}
		hi = want
	}

	// Each piece of evidence, oldest block first.
	for i := len(blocks) - 1; i >= 0; i-- {
		f := blocks[i]
		for _, ev := range f.block.Evidence.Evidence {
			evHash := fmt.Sprintf("%X", ev.Hash())
			switch e := ev.(type) {
			case *cmttypes.DuplicateVoteEvidence:
				m := Misbehaviour{Block: f.header.Height, Height: e.Height(), Type: MisbehaviourDuplicateVote,
					Validator: e.VoteA.ValidatorAddress.String(), Power: e.ValidatorPower, Time: e.Timestamp, Evidence: evHash,
					Detail: fmt.Sprintf("two %s votes at height %d round %d, for %s and %s", voteType(e.VoteA.Type), e.VoteA.Height, e.VoteA.Round,
						blockIDString(e.VoteA.BlockID), blockIDString(e.VoteB.BlockID))}
				vals, valsOK, err := c.validatorsAt(ctx, e.Height(), headers[e.Height()])
				if err != nil {
					return nil, err
				}
				var pub []byte
				if vals != nil {
					if _, v := vals.GetByAddress(e.VoteA.ValidatorAddress); v != nil {
						pub = v.PubKey.Bytes()
					}
					if err := checkDuplicateVote(e, o.ChainID, vals); err != nil {
						fail(evHash, "evidence of block %d against %s does not verify: %v", f.header.Height, m.Validator, err)
						valsOK = false
					}
				}
				agency, proved, err := c.agencyOfKey(ctx, pub, o.To, o.Anchor, fail)
				if err != nil {
					return nil, err
				}
				m.Agency = agency
				m.Verified = o.Anchor != nil && linked && valsOK && proved
				rep.Evidence = append(rep.Evidence, m)
			case *cmttypes.LightClientAttackEvidence:
				for _, v := range e.ByzantineValidators {
					m := Misbehaviour{Block: f.header.Height, Height: e.Height(), Type: MisbehaviourLightClientAttack,
						Validator: v.Address.String(), Power: v.VotingPower, Time: e.Timestamp, Evidence: evHash,
						Detail: fmt.Sprintf("signed a conflicting header %d (common height %d)", e.ConflictingBlock.Height, e.CommonHeight)}
					var pub []byte
					if v.PubKey != nil {
						pub = v.PubKey.Bytes()
					}
					agency, proved, err := c.agencyOfKey(ctx, pub, o.To, o.Anchor, fail)
					if err != nil {
						return nil, err
					}
					// The chain's validators verified the attack before
					// committing it; the block is the verified chain's.
					m.Agency, m.Verified = agency, o.Anchor != nil && linked && proved
					rep.Evidence = append(rep.Evidence, m)
				}
			}
		}
	}
	return rep, nil
}

// anyBelow reports whether an offence height at or below h still lacks its
// linked header.
func anyBelow(needed map[int64]bool, headers map[int64]*cmttypes.Header, h int64) bool {
	for n := range needed {
		if n <= h && headers[n] == nil {
			return true
		}
	}
	return false
}

// validatorsAt returns the validator set at height h as the node serves it
// and whether it is the set header (linked to the verified chain) commits
// to.
func (c *Client) validatorsAt(ctx context.Context, h int64, header *cmttypes.Header) (*cmttypes.ValidatorSet, bool, error) {
	var vals []*cmttypes.Validator
	perPage := 100
	for page := 1; ; page++ {
		hh, p := h, page
		res, err := c.rpc.Validators(ctx, &hh, &p, &perPage)
		if err != nil {
			var re *rpctypes.RPCError
			if errors.As(err, &re) {
				return nil, false, nil // the node no longer has it (pruned): the set is unknown
			}
			return nil, false, fmt.Errorf("validator set %d: %w", h, err)
		}
		vals = append(vals, res.Validators...)
		if len(vals) >= res.Total || len(res.Validators) == 0 {
			break
		}
	}
	vs, err := cmttypes.ValidatorSetFromExistingValidators(vals)
	if err != nil {
		return nil, false, nil
	}
	return vs, header != nil && bytes.Equal(vs.Hash(), header.ValidatorsHash), nil
}

// checkDuplicateVote checks that the two votes are by one validator of vals
// with its power, at one height, round and type, for different blocks, and
// that both signatures verify (as CometBFT's evidence pool does).
func checkDuplicateVote(e *cmttypes.DuplicateVoteEvidence, chainID string, vals *cmttypes.ValidatorSet) error {
	a, b := e.VoteA, e.VoteB
	_, v := vals.GetByAddress(a.ValidatorAddress)
	switch {
	case v == nil:
		return fmt.Errorf("%s was not a validator at height %d", a.ValidatorAddress, a.Height)
	case !bytes.Equal(a.ValidatorAddress, b.ValidatorAddress):
		return errors.New("the votes are by different validators")
	case a.Height != b.Height || a.Round != b.Round || a.Type != b.Type:
		return errors.New("the votes are at different heights, rounds or steps")
	case a.BlockID.Equals(b.BlockID):
		return errors.New("the votes are for the same block")
	case v.VotingPower != e.ValidatorPower || vals.TotalVotingPower() != e.TotalVotingPower:
		return errors.New("the powers it states are not the validator set's")
	}
	for _, vote := range []*cmttypes.Vote{a, b} {
		if !v.PubKey.VerifySignature(cmttypes.VoteSignBytes(chainID, vote.ToProto()), vote.Signature) {
			return fmt.Errorf("a vote's signature does not verify against %s's key", a.ValidatorAddress)
		}
	}
	return nil
}

// agencyOfKey names the agency that holds or held validator key pub, from
// the index entry validator/<key> at state height h, proved against
// anchor's AppHash when there is one.
func (c *Client) agencyOfKey(ctx context.Context, pub []byte, h int64, anchor *cmttypes.LightBlock, fail func(id, format string, args ...any)) (string, bool, error) {
	if len(pub) == 0 {
		return "", false, nil
	}
	key := ledger.IndexValidator(pub)
	res, err := c.Query(ctx, ledger.QueryStoreKey(ledger.StoreIndex), key, h, anchor != nil)
	if err != nil {
		return "", false, err
	}
	if res.Code != 0 {
		fail(string(key), "%s: the node refused the query: %s", key, res.Log)
		return "", false, nil
	}
	id := string(res.Value)
	if anchor == nil {
		return id, false, nil
	}
	if res.ProofOps == nil || res.Height != h {
		fail(string(key), "%s: the node returned no proof at height %d", key, h)
		return id, false, nil
	}
	if _, err := verify.StoreValue(anchor.AppHash, ledger.StoreIndex, key, res.Value, res.ProofOps.Ops); err != nil {
		fail(string(key), "%s: %v", key, err)
		return id, false, nil
	}
	return id, true, nil
}

func voteType(t cmtproto.SignedMsgType) string {
	switch t {
	case cmtproto.PrevoteType:
		return "prevote"
	case cmtproto.PrecommitType:
		return "precommit"
	}
	return t.String()
}

func blockIDString(id cmttypes.BlockID) string {
	if id.IsZero() {
		return "nil"
	}
	return fmt.Sprintf("block %X", id.Hash)
}
