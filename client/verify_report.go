package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/civicledger/civicledger/ledger/verify"
)

// Step is one check of a verification, for reports: what was checked,
// whether it held, and the evidence (hashes, heights, powers). It is the
// step of a bundle's report too.
type Step = verify.Step

// Step names used in reports.
const (
	StepTrustRoot  = "trust root"
	StepQuery      = "query"
	StepWitnesses  = "witnesses"
	StepHeader     = "header"
	StepHistory    = "history"
	StepStoreProof = "store proof"
	StepAgencies   = "agency names"
	StepCommit     = "commit signatures"
)

func okStep(name, format string, args ...any) Step {
	return Step{Name: name, OK: true, Detail: fmt.Sprintf(format, args...)}
}

func failStep(name string, err error) Step {
	return Step{Name: name, OK: false, Detail: err.Error()}
}

// HeaderInfo is what a report shows of a verified header.
type HeaderInfo struct {
	Height          int64     `json:"height"`
	Hash            string    `json:"hash"`
	AppHash         string    `json:"app_hash"`
	DataHash        string    `json:"data_hash"`
	LastResultsHash string    `json:"last_results_hash"`
	Time            time.Time `json:"time"`
	// AgeSeconds is how long before the verification the header was made
	// (the verifier's clock against the header's time).
	AgeSeconds int64 `json:"age_seconds"`
}

// StaleAfter is the header age past which a report warns that the state
// shown may not be the current one: the chain makes a heartbeat block every
// 30 s by default, so a header this old means the node serves an old state
// or the chain has stopped.
const StaleAfter = 10 * time.Minute

// HeaderAge is how old lb's header is at now (rounded to the second; zero
// for a header from the future within the allowed clock drift).
func HeaderAge(lb *cmttypes.LightBlock, now time.Time) time.Duration {
	return max(now.Sub(lb.Time), 0).Round(time.Second)
}

// StaleWarning returns a warning if the header is older than StaleAfter at
// now, else "".
func StaleWarning(h HeaderInfo) string {
	if age := time.Duration(h.AgeSeconds) * time.Second; age > StaleAfter {
		return fmt.Sprintf("header %d is %s old (made %s): the state shown may not be the current one; the node may be behind or serving an old state",
			h.Height, age, h.Time.UTC().Format(time.RFC3339))
	}
	return ""
}

// NewHeaderInfo summarises a light block's header.
func NewHeaderInfo(lb *cmttypes.LightBlock) HeaderInfo {
	return HeaderInfo{
		Height: lb.Height, Hash: fmt.Sprintf("%X", lb.Hash()), AppHash: fmt.Sprintf("%X", []byte(lb.AppHash)),
		DataHash: fmt.Sprintf("%X", []byte(lb.DataHash)), LastResultsHash: fmt.Sprintf("%X", []byte(lb.LastResultsHash)),
		Time: lb.Time, AgeSeconds: int64(HeaderAge(lb, time.Now()) / time.Second),
	}
}

// CommitSigner is a validator whose signature is in a verified commit.
type CommitSigner struct {
	verify.Signer
	Share float64 `json:"share"` // of the validator set's total voting power
}

// CommitSignatures checks every signature of lb's commit — the light client
// stops counting once more than 2/3 of the power has signed, so a report
// that names signers checks them all, as a full node does — and returns the
// validators that signed, named from names (validator address → agency),
// with the power that signed and the set's total.
func CommitSignatures(chainID string, lb *cmttypes.LightBlock, names map[string]string) ([]CommitSigner, int64, int64, error) {
	if lb == nil || lb.SignedHeader == nil || lb.Commit == nil || lb.ValidatorSet == nil {
		return nil, 0, 0, &verify.HeaderError{Reason: "missing light block"}
	}
	if err := lb.ValidatorSet.VerifyCommitLightAllSignatures(chainID, lb.Commit.BlockID, lb.Height, lb.Commit); err != nil {
		return nil, 0, 0, &verify.HeaderError{Height: lb.Height, Reason: "commit signatures: " + err.Error()}
	}
	total := lb.ValidatorSet.TotalVotingPower()
	var out []CommitSigner
	var signed int64
	for _, s := range verify.CommitSigners(lb.ValidatorSet, lb.Commit, names) {
		signed += s.Power
		out = append(out, CommitSigner{Signer: s, Share: float64(s.Power) / float64(total)})
	}
	return out, signed, total, nil
}

// WitnessCheck is the answer of one witness about a verified header.
type WitnessCheck struct {
	URL    string `json:"url"`
	OK     bool   `json:"ok"` // the witness serves the same header
	Detail string `json:"detail"`
}

// ErrNoWitnessAnswered is returned when independent witnesses were given
// but none of them could be asked about a header: it was not cross-checked.
var ErrNoWitnessAnswered = errors.New("no witness answered: the header could not be cross-checked")

// ErrWitnessFailed is returned when an independent witness given could not
// confirm a header (it did not answer, or served one that does not verify):
// the header was not cross-checked as asked.
var ErrWitnessFailed = errors.New("a witness could not confirm the header")

// CheckWitnesses returns what every independent witness answered about lb
// (verified by LightBlock, which asked them: a witness that serves another
// header validly signed is reported there as a fork, *ForkError), followed
// by the witnesses given that are the primary itself. A witness that did not
// answer, or served a header that does not verify, has OK false and makes it
// return ErrWitnessFailed (ErrNoWitnessAnswered if no witness answered at
// all): the header was not cross-checked as asked. Without an independent
// witness it returns the set-aside ones and no error.
func (v *Verifier) CheckWitnesses(ctx context.Context, lb *cmttypes.LightBlock) ([]WitnessCheck, error) {
	v.mu.Lock()
	checks, ok := v.checks[lb.Height]
	v.mu.Unlock()
	if !ok {
		if _, err := v.LightBlock(ctx, lb.Height); err != nil {
			return append([]WitnessCheck(nil), v.NotWitnesses...), err
		}
		v.mu.Lock()
		checks = v.checks[lb.Height]
		v.mu.Unlock()
	}
	out := append(append([]WitnessCheck(nil), checks...), v.NotWitnesses...)
	answered, failed := 0, []string{}
	for _, c := range checks {
		if c.OK {
			answered++
		} else {
			failed = append(failed, c.URL+": "+c.Detail)
		}
	}
	switch {
	case len(checks) > 0 && answered == 0:
		return out, fmt.Errorf("header %d: %w (%s)", lb.Height, ErrNoWitnessAnswered, strings.Join(failed, "; "))
	case len(failed) > 0:
		return out, fmt.Errorf("header %d: %w (%s)", lb.Height, ErrWitnessFailed, strings.Join(failed, "; "))
	}
	return out, nil
}

// TrustStep describes the trust root the verifier started from (its light
// client checked the root header's hash when it started).
func (v *Verifier) TrustStep() Step {
	ts := v.Trust
	from := "a checkpoint given by the user"
	if ts.GenesisSHA256 != "" {
		from = "the genesis file with sha256 " + ts.GenesisSHA256
	}
	return okStep(StepTrustRoot, "chain %s trusted from %s: root header %d %s; the primary's header %d has that hash",
		ts.ChainID, from, ts.Root.Height, ts.Root.Hash, ts.Root.Height)
}

// witnessStep summarises witness checks.
func (v *Verifier) witnessStep(h int64, checks []WitnessCheck) Step {
	if v.NoIndependentWitness {
		why := "no independent witness was given"
		if len(v.NotWitnesses) > 0 {
			var urls []string
			for _, c := range v.NotWitnesses {
				urls = append(urls, c.URL)
			}
			why = "the witness given (" + strings.Join(urls, ", ") + ") is the primary node itself"
		}
		return okStep(StepWitnesses, "NOT cross-checked: %s; header %d is verified from the trust root only", why, h)
	}
	var parts []string
	n, independent := 0, 0
	for _, c := range checks {
		if slices.Contains(v.Witnesses, c.URL) {
			independent++
			if c.OK {
				n++
			}
		}
		parts = append(parts, c.URL+": "+c.Detail)
	}
	return okStep(StepWitnesses, "header %d cross-checked with %d of %d independent witnesses (%s)", h, n, independent, strings.Join(parts, "; "))
}

// stepOf names the step an error of Verifier.LightBlock or VerifyKey
// failed at, where the error says so ("" otherwise: a query or network
// failure).
func stepOf(err error) string {
	var fe *ForkError
	var pe *verify.ProofError
	switch {
	case errors.As(err, &fe), errors.Is(err, ErrWitnessFailed), errors.Is(err, ErrNoWitnessAnswered), errors.Is(err, ErrPrimaryBehind):
		return StepWitnesses
	case errors.Is(err, ErrConflictWithPast), errors.Is(err, ErrOlderThanVerified):
		return StepHistory
	case errors.As(err, &pe):
		return StepStoreProof
	case errors.Is(err, verify.ErrHeader):
		return StepHeader
	}
	return ""
}

// failedSteps turns an error of VerifyKey into the steps that must have
// passed for it to be reached (VerifyKey queries, cross-checks the
// witnesses, runs the light client, checks the history, then the store
// proof), followed by the failed step.
func failedSteps(err error) []Step {
	failed := stepOf(err)
	if failed == "" {
		failed = StepQuery
	}
	var out []Step
	for _, n := range []string{StepQuery, StepWitnesses, StepHeader, StepHistory, StepStoreProof} {
		if n == failed {
			return append(out, failStep(n, err))
		}
		out = append(out, okStep(n, "passed"))
	}
	return out
}

// historyStep describes the check against the last header verified before.
func historyStep(prev Checkpoint, root Checkpoint, h int64) Step {
	switch {
	case prev.Height == root.Height:
		return okStep(StepHistory, "first verification from the trust root: nothing verified earlier to compare with")
	case h >= prev.Height:
		return okStep(StepHistory, "header %d still has hash %s, as verified earlier", prev.Height, prev.Hash)
	default:
		return okStep(StepHistory, "OLDER STATE: header %d is older than header %d, verified before; it was asked for by height and verified from the root like any other, but later blocks may have changed the record", h, prev.Height)
	}
}

// KeyReport is a verified key with what a reader needs to judge it: the
// header whose AppHash it was checked against, who signed that header, and
// which witnesses agreed.
type KeyReport struct {
	Store      string          `json:"store"`
	Key        string          `json:"key"`
	Height     int64           `json:"height"` // state height H
	Present    bool            `json:"present"`
	Value      json.RawMessage `json:"value,omitempty"`
	Header     HeaderInfo      `json:"header"` // header H+1
	Signers    []CommitSigner  `json:"signers"`
	Signed     int64           `json:"signed_power"`
	TotalPower int64           `json:"total_power"`
	Witnesses  []WitnessCheck  `json:"witnesses"`
	// NoIndependentWitness: the header was verified from the trust root but
	// not cross-checked with another node.
	NoIndependentWitness bool                 `json:"no_independent_witness"`
	Steps                []Step               `json:"steps"`
	Proof                *KeyProof            `json:"-"`
	Names                map[string]string    `json:"-"` // validator address → agency, as proved at H
	LightBlock           *cmttypes.LightBlock `json:"-"` // header H+1
}

// VerifyKeyReport verifies key in store at height (0: the latest committed
// state H) as VerifyKey does — the proof against the AppHash of header H+1,
// verified from the trust root — then names the validators that signed
// header H+1 (agency records proved at H), checks every signature of its
// commit, and asks the witnesses for it. On failure it returns the report
// so far, whose last step is the one that failed, with the error.
func (v *Verifier) VerifyKeyReport(ctx context.Context, storeName string, key []byte, height int64) (*KeyReport, error) {
	r := &KeyReport{Store: storeName, Key: string(key), Height: height, NoIndependentWitness: v.NoIndependentWitness, Steps: []Step{v.TrustStep()}}
	prev := v.Trust.LastVerified
	kp, err := v.VerifyKey(ctx, storeName, key, height)
	if err != nil {
		r.Steps = append(r.Steps, failedSteps(err)...)
		return r, err
	}
	lb := kp.Header
	r.Proof, r.LightBlock = kp, lb
	r.Height, r.Present, r.Value, r.Header = kp.Height, kp.Present, kp.Value, NewHeaderInfo(lb)
	r.Steps = append(r.Steps,
		okStep(StepQuery, "the node answered for state height %d with proof ops %s and %s", kp.Height, verify.OpIAVL, verify.OpSimple),
		okStep(StepHeader, "header %d %X verified from the trust root (more than 2/3 of its validators' power signed it; every change of validator set on the way was verified adjacently, signed by more than 2/3 of the previous set); AppHash %X, time %s (%s old)",
			lb.Height, lb.Hash(), []byte(lb.AppHash), lb.Time.UTC().Format(time.RFC3339), HeaderAge(lb, time.Now())),
		historyStep(prev, v.Trust.Root, lb.Height))
	if kp.Present {
		r.Steps = append(r.Steps, okStep(StepStoreProof, "key %q is in store %q (%s membership) and the store's root is committed under AppHash %X of header %d (%s)",
			key, storeName, verify.OpIAVL, []byte(lb.AppHash), lb.Height, verify.OpSimple))
	} else {
		r.Steps = append(r.Steps, okStep(StepStoreProof, "key %q is ABSENT from store %q (%s non-membership) and the store's root is committed under AppHash %X of header %d (%s)",
			key, storeName, verify.OpIAVL, []byte(lb.AppHash), lb.Height, verify.OpSimple))
	}
	names, err := v.AgencyNames(ctx, kp.Height)
	if err != nil {
		r.Steps = append(r.Steps, failStep(StepAgencies, err))
		return r, err
	}
	v.NameFormerKeys(ctx, kp.Height, lb.ValidatorSet, names)
	r.Names = names
	r.Steps = append(r.Steps, okStep(StepAgencies, "%d validator addresses named from agency records (and the validator key index) proved at state height %d", len(names), kp.Height))
	if err := v.commitStep(r, lb, names); err != nil {
		return r, err
	}
	checks, err := v.CheckWitnesses(ctx, lb)
	r.Witnesses = checks
	if err != nil {
		r.Steps = append(r.Steps, failStep(StepWitnesses, err))
		return r, err
	}
	r.Steps = append(r.Steps, v.witnessStep(lb.Height, checks))
	return r, nil
}

func (v *Verifier) commitStep(r *KeyReport, lb *cmttypes.LightBlock, names map[string]string) error {
	signers, signed, total, err := CommitSignatures(v.ChainID, lb, names)
	if err != nil {
		r.Steps = append(r.Steps, failStep(StepCommit, err))
		return err
	}
	r.Signers, r.Signed, r.TotalPower = signers, signed, total
	r.Steps = append(r.Steps, okStep(StepCommit, "all %d signatures of the commit of header %d verify: %d of %d voting power (%.1f%%)",
		len(signers), lb.Height, signed, total, 100*float64(signed)/float64(total)))
	return nil
}
