package client

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/light"
	"github.com/cometbft/cometbft/light/provider"
	lighthttp "github.com/cometbft/cometbft/light/provider/http"
	lightstore "github.com/cometbft/cometbft/light/store"
	lightdb "github.com/cometbft/cometbft/light/store/db"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/verify"
)

// Verifier checks what a node serves against headers obtained through the
// CometBFT light client from the user's trust root, cross-checked with
// witness nodes. It trusts nothing the primary node says without a proof.
type Verifier struct {
	ChainID   string
	Primary   *Client
	Witnesses []string // URLs; the primary itself when none was given
	Trust     *TrustState

	home        string
	lc          *light.Client
	store       lightstore.Store
	witnesses   []provider.Provider
	deadWitness map[int]bool
	// NoIndependentWitness is true when no witness other than the primary
	// was given: headers are then verified but not cross-checked.
	NoIndependentWitness bool
}

// ForkError reports two different headers at one height, each presented as
// the chain's: evidence that validators signed conflicting blocks (or that
// a node lies). It names the validators that signed both.
type ForkError struct {
	Height        int64
	PrimaryURL    string
	WitnessURL    string
	PrimaryHeader *cmttypes.SignedHeader
	WitnessHeader *cmttypes.SignedHeader
	SignedBoth    []verify.Signer
}

func (e *ForkError) Error() string {
	var names []string
	for _, s := range e.SignedBoth {
		n := s.Address
		if s.Name != "" {
			n = s.Name + " (" + s.Address + ")"
		}
		names = append(names, n)
	}
	return fmt.Sprintf("FORK at height %d: %s serves header %X, witness %s serves %X; validators that signed both: %s",
		e.Height, e.PrimaryURL, e.PrimaryHeader.Hash(), e.WitnessURL, e.WitnessHeader.Hash(), strings.Join(names, ", "))
}

// ErrConflictWithPast is returned when the chain served now conflicts with a
// header this client verified before.
var ErrConflictWithPast = errors.New("conflicts with a header verified earlier")

// NewVerifier connects to the primary node and the witnesses and starts a
// light client from the trust state stored under home for the primary's
// chain.
func NewVerifier(ctx context.Context, home, node string, witnesses []string) (*Verifier, error) {
	primary, err := New(node)
	if err != nil {
		return nil, err
	}
	st, err := primary.Status(ctx)
	if err != nil {
		return nil, err
	}
	chainID := st.NodeInfo.Network
	ts, err := LoadTrust(home, chainID)
	if err != nil {
		return nil, err
	}
	v := &Verifier{ChainID: chainID, Primary: primary, Trust: ts, home: home}
	if len(witnesses) == 0 {
		witnesses = []string{primary.URL}
		v.NoIndependentWitness = true
	}
	v.Witnesses = witnesses
	pp, err := lighthttp.New(chainID, primary.URL)
	if err != nil {
		return nil, err
	}
	for _, w := range witnesses {
		if !strings.Contains(w, "://") {
			w = "http://" + w
		}
		wp, err := lighthttp.New(chainID, w)
		if err != nil {
			return nil, fmt.Errorf("witness %s: %w", w, err)
		}
		v.witnesses = append(v.witnesses, wp)
	}
	rootHash, err := hex.DecodeString(ts.Root.Hash)
	if err != nil {
		return nil, fmt.Errorf("trust root hash: %w", err)
	}
	if err := v.crossCheck(ctx, ts.Root.Height); err != nil {
		return nil, err
	}
	v.store = lightdb.New(dbm.NewMemDB(), chainID)
	v.lc, err = light.NewClient(ctx, chainID,
		light.TrustOptions{Period: verify.TrustingPeriod, Height: ts.Root.Height, Hash: rootHash},
		pp, append([]provider.Provider(nil), v.witnesses...), v.store, // a copy: the light client reorders its slice
		light.SkippingVerification(verify.TrustLevel),
		light.MaxClockDrift(10*time.Second),
		light.MaxBlockLag(10*time.Second),
		light.MaxRetryAttempts(3),
		light.Logger(cmtlog.NewNopLogger()))
	if err != nil {
		return nil, v.classify(ctx, ts.Root.Height, err)
	}
	return v, nil
}

// LightBlock returns the header (with commit and validator set) at height h,
// verified from the trust root, cross-checked with every witness, and
// checked against the last header this client verified before.
func (v *Verifier) LightBlock(ctx context.Context, h int64) (*cmttypes.LightBlock, error) {
	if err := v.Primary.WaitForHeight(ctx, h); err != nil {
		return nil, err
	}
	if err := v.crossCheck(ctx, h); err != nil {
		return nil, err
	}
	lb, err := v.lc.VerifyLightBlockAtHeight(ctx, h, time.Now())
	if err != nil {
		return nil, v.classify(ctx, h, err)
	}
	if err := v.checkPast(ctx, lb); err != nil {
		return nil, err
	}
	return lb, nil
}

// crossCheck compares the primary's header at h with every witness's,
// before the light client verifies it: two different headers, each signed
// by more than 2/3 of the same validator set, are a fork. A witness that is
// behind gets a few seconds to reach h; one that cannot answer is skipped
// (the light client still requires a working witness).
func (v *Verifier) crossCheck(ctx context.Context, h int64) error {
	pp, err := lighthttp.New(v.ChainID, v.Primary.URL)
	if err != nil {
		return err
	}
	pb, err := pp.LightBlock(ctx, h)
	if err != nil {
		return fmt.Errorf("primary %s: header %d: %w", v.Primary.URL, h, err)
	}
	for i, w := range v.witnesses {
		if v.deadWitness[i] {
			continue
		}
		var wb *cmttypes.LightBlock
		deadline := time.Now().Add(10 * time.Second)
		for {
			wb, err = w.LightBlock(ctx, h)
			behind := errors.Is(err, provider.ErrHeightTooHigh) || errors.Is(err, provider.ErrLightBlockNotFound)
			if err == nil || !behind || time.Now().After(deadline) || ctx.Err() != nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			if !errors.Is(err, provider.ErrHeightTooHigh) && !errors.Is(err, provider.ErrLightBlockNotFound) {
				if v.deadWitness == nil {
					v.deadWitness = map[int]bool{}
				}
				v.deadWitness[i] = true // unreachable: do not wait for it again
			}
			continue
		}
		if string(wb.Hash()) == string(pb.Hash()) {
			continue
		}
		// A fork is two headers signed by the same validators: the witness's
		// header must carry the primary's validator set for that height, and
		// every signature of both commits must verify. Anything else is a
		// lying node, not evidence; the light client decides about it.
		if !bytes.Equal(wb.ValidatorSet.Hash(), pb.ValidatorSet.Hash()) ||
			pb.ValidatorSet.VerifyCommitLightAllSignatures(v.ChainID, wb.Commit.BlockID, h, wb.Commit) != nil ||
			pb.ValidatorSet.VerifyCommitLightAllSignatures(v.ChainID, pb.Commit.BlockID, h, pb.Commit) != nil {
			continue // an unsigned alternative is a lying node, not a fork; the light client decides
		}
		return v.fork(h, pb.SignedHeader, wb, v.Witnesses[i])
	}
	return nil
}

// checkPast refuses a chain whose header at the last verified height is not
// the one verified then, and advances the last verified checkpoint.
func (v *Verifier) checkPast(ctx context.Context, lb *cmttypes.LightBlock) error {
	last := v.Trust.LastVerified
	switch {
	case lb.Height == last.Height:
		if fmt.Sprintf("%X", lb.Hash()) != last.Hash {
			return fmt.Errorf("header %d is %X but %X was verified before: %w", lb.Height, lb.Hash(), last.Hash, ErrConflictWithPast)
		}
		return nil
	case lb.Height > last.Height:
		if last.Height > v.Trust.Root.Height {
			old, err := v.lc.VerifyLightBlockAtHeight(ctx, last.Height, time.Now())
			if err != nil {
				return v.classify(ctx, last.Height, err)
			}
			if fmt.Sprintf("%X", old.Hash()) != last.Hash {
				return fmt.Errorf("header %d is %X but %X was verified before: %w", last.Height, old.Hash(), last.Hash, ErrConflictWithPast)
			}
		}
		v.Trust.LastVerified = Checkpoint{Height: lb.Height, Hash: fmt.Sprintf("%X", lb.Hash())}
		return SaveTrust(v.home, v.Trust)
	default:
		return nil // an older header: verified from the root like any other
	}
}

// classify turns light client errors into fork reports where they are forks.
func (v *Verifier) classify(ctx context.Context, h int64, err error) error {
	var conflict *light.ErrConflictingHeaders
	if errors.As(err, &conflict) && conflict.Block != nil {
		pb, perr := v.lc.TrustedLightBlock(h)
		if perr != nil || pb == nil {
			p, _ := lighthttp.New(v.ChainID, v.Primary.URL)
			pb, _ = p.LightBlock(ctx, conflict.Block.Height)
		}
		if pb != nil {
			url := ""
			if conflict.WitnessIndex < len(v.Witnesses) {
				url = v.Witnesses[conflict.WitnessIndex]
			}
			return v.fork(conflict.Block.Height, pb.SignedHeader, conflict.Block, url)
		}
	}
	if errors.Is(err, light.ErrLightClientAttack) {
		return fmt.Errorf("FORK: the light client detected conflicting headers between the primary and a witness (evidence of misbehaviour): %w", err)
	}
	return fmt.Errorf("%w: %w", verify.ErrHeader, err)
}

func (v *Verifier) fork(h int64, primary *cmttypes.SignedHeader, witness *cmttypes.LightBlock, url string) *ForkError {
	fe := &ForkError{Height: h, PrimaryURL: v.Primary.URL, WitnessURL: url, PrimaryHeader: primary, WitnessHeader: witness.SignedHeader}
	// Only signatures that verify count: a validator named here provably
	// signed both headers (equivocation evidence).
	signedPrimary := map[string]bool{}
	if pb, err := v.primaryBlock(context.Background(), h); err == nil && string(pb.Hash()) == string(primary.Hash()) {
		for _, s := range verify.SignedBy(v.ChainID, pb.ValidatorSet, pb.Commit, nil) {
			signedPrimary[s.Address] = true
		}
	}
	for _, s := range verify.SignedBy(v.ChainID, witness.ValidatorSet, witness.Commit, nil) {
		if signedPrimary[s.Address] {
			fe.SignedBoth = append(fe.SignedBoth, s)
		}
	}
	return fe
}

func (v *Verifier) primaryBlock(ctx context.Context, h int64) (*cmttypes.LightBlock, error) {
	pp, err := lighthttp.New(v.ChainID, v.Primary.URL)
	if err != nil {
		return nil, err
	}
	return pp.LightBlock(ctx, h)
}

// KeyProof is a verified answer for one key of one store.
type KeyProof struct {
	Store   string               `json:"store"`
	Key     string               `json:"key"`
	Height  int64                `json:"height"` // state height H
	Present bool                 `json:"present"`
	Value   json.RawMessage      `json:"value,omitempty"`
	Header  *cmttypes.LightBlock `json:"-"` // header H+1, verified
}

// VerifyKey fetches key from store at height (0: latest) with its proof,
// obtains the verified header H+1 and checks the proof against its AppHash.
//
// With height 0 it proves the state at L-1, where L is the primary's latest
// block: header L, which commits that state, already exists, so nothing has
// to wait for a block. Only when the key changed in block L itself does it
// prove the state at L, waiting for header L+1.
func (v *Verifier) VerifyKey(ctx context.Context, storeName string, key []byte, height int64) (*KeyProof, error) {
	if height == 0 {
		st, err := v.Primary.Status(ctx)
		if err != nil {
			return nil, err
		}
		if l := st.SyncInfo.LatestBlockHeight; l > 1 {
			height = l - 1
			prev, err1 := v.Primary.Query(ctx, "/store/"+storeName+"/key", key, l-1, false)
			last, err2 := v.Primary.Query(ctx, "/store/"+storeName+"/key", key, l, false)
			if err1 == nil && err2 == nil && last.Code == 0 && !bytes.Equal(prev.Value, last.Value) {
				height = l
			}
		}
	}
	res, err := v.Primary.Query(ctx, "/store/"+storeName+"/key", key, height, true)
	if err != nil {
		return nil, err
	}
	if res.Code != 0 {
		return nil, fmt.Errorf("node refused the query: %s", res.Log)
	}
	if res.ProofOps == nil {
		return nil, fmt.Errorf("%w: the node returned no proof", verify.ErrProof)
	}
	if height != 0 && res.Height != height {
		return nil, fmt.Errorf("%w: asked for height %d, the node answered for %d", verify.ErrProof, height, res.Height)
	}
	lb, err := v.LightBlock(ctx, res.Height+1)
	if err != nil {
		return nil, err
	}
	if _, err := verify.StoreValue(lb.AppHash, storeName, key, res.Value, res.ProofOps.Ops); err != nil {
		return nil, err
	}
	kp := &KeyProof{Store: storeName, Key: string(key), Height: res.Height, Present: res.Value != nil, Header: lb}
	if res.Value != nil {
		if json.Valid(res.Value) {
			kp.Value = res.Value
		} else {
			kp.Value, _ = json.Marshal(res.Value)
		}
	}
	return kp, nil
}

// AgencyNames returns validator address → agency id for the agencies
// whose records verify at height h (each record proved against header h+1).
func (v *Verifier) AgencyNames(ctx context.Context, h int64) (map[string]string, error) {
	page, _, err := v.Primary.Agencies(ctx, h)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, item := range page.Items {
		var ag ledger.Agency
		if err := json.Unmarshal(item, &ag); err != nil {
			continue
		}
		kp, err := v.VerifyKey(ctx, ledger.StoreAgencies, ledger.RecordKey(ag.ID), h)
		if err != nil || !kp.Present {
			continue // an unverifiable listing entry names nobody
		}
		var verified ledger.Agency
		if err := json.Unmarshal(kp.Value, &verified); err != nil {
			continue
		}
		addr := cmttypes.Address(cmtAddress(verified.ValidatorKey)).String()
		names[addr] = verified.ID
	}
	return names, nil
}

// NameFormerKeys adds to names the validators of vals that no agency record
// at height h names: keys an agency held before a governance rotation (a
// rotated key keeps signing until CometBFT applies the change, two blocks
// later). Each is named from the provable index entry validator/<key> at h,
// which keeps every validator key an agency ever held.
func (v *Verifier) NameFormerKeys(ctx context.Context, h int64, vals *cmttypes.ValidatorSet, names map[string]string) {
	if vals == nil {
		return
	}
	for _, val := range vals.Validators {
		addr := val.Address.String()
		if _, ok := names[addr]; ok || val.PubKey == nil {
			continue
		}
		kp, err := v.VerifyKey(ctx, ledger.StoreIndex, ledger.IndexValidator(val.PubKey.Bytes()), h)
		if err != nil || !kp.Present {
			continue
		}
		// VerifyKey gives non-JSON values as a JSON (base64) string.
		id := string(kp.Value)
		var raw []byte
		if json.Unmarshal(kp.Value, &raw) == nil {
			id = string(raw)
		}
		if ledger.ValidID(id) {
			names[addr] = id
		}
	}
}

func cmtAddress(pub []byte) []byte {
	return cmted25519.PubKey(pub).Address()
}
