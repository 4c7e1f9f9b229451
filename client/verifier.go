package client

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/light/provider"
	lighthttp "github.com/cometbft/cometbft/light/provider/http"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/verify"
)

// Verifier checks what a node serves against headers it verifies itself
// from the user's trust root (verify.Next and verify.BundleChain: adjacent
// across every change of validator set, skipping only inside one set's era),
// cross-checked with witness nodes. It trusts nothing the primary node says
// without a proof. A Verifier is safe for use by several goroutines.
type Verifier struct {
	ChainID string
	Primary *Client
	// Witnesses are the URLs of the independent witnesses: those given that
	// are not the primary itself.
	Witnesses []string
	// NotWitnesses are the witnesses given that turned out to be the
	// primary (the same URL, or the same node id under another address):
	// they count as no witness.
	NotWitnesses []WitnessCheck
	Trust        *TrustState
	// NoIndependentWitness is true when no witness other than the primary
	// was given: headers are then verified but not cross-checked.
	NoIndependentWitness bool

	home      string
	primaryID string
	primary   provider.Provider
	witnesses []*witness

	mu       sync.Mutex
	verified map[int64]*cmttypes.LightBlock // every light block verified from the root, the root included
	checks   map[int64][]WitnessCheck       // witness answers per verified height
}

type witness struct {
	url  string
	prov provider.Provider
	dead error // set once the witness could not be reached: not asked again
}

// ForkError reports two different headers at one height, each presented as
// the chain's: evidence that validators signed conflicting blocks (or that
// a node lies). It names the validators that signed both, each with its
// agency where this client can tell it (the genesis file of the trust root,
// or the agency listing proved against the last verified header before the
// fork).
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

// ErrOlderThanVerified is returned when the latest state a node offers is
// older than a header this client verified before: the node is behind, or
// serves an old state (a record before its revocation, say). Verifying an
// older state on purpose takes an explicit height.
var ErrOlderThanVerified = errors.New("older than the last header verified before")

// ErrOldState comes with ErrOlderThanVerified: the nodes may serve an old
// state; an earlier state is verified only when asked for by height.
var ErrOldState = errors.New("the nodes may be serving an old state")

// ErrPrimaryBehind is returned when a witness has blocks the primary does not
// serve within a few seconds.
var ErrPrimaryBehind = errors.New("the primary node is behind a witness")

// normalizeURL adds a scheme and drops a trailing slash, so that two
// spellings of one address compare equal.
func normalizeURL(u string) string {
	if !strings.Contains(u, "://") {
		u = "http://" + u
	}
	return strings.TrimRight(u, "/")
}

// NewVerifier connects to the primary node and the witnesses and checks the
// primary's header at the trust root's height (stored under home for the
// primary's chain) against the root's hash, cross-checked with the
// witnesses. A witness that is the primary itself (same URL, or same node
// id) is set aside in NotWitnesses.
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
	v := &Verifier{ChainID: chainID, Primary: primary, Trust: ts, home: home, primaryID: string(st.NodeInfo.ID()),
		verified: map[int64]*cmttypes.LightBlock{}, checks: map[int64][]WitnessCheck{}}
	if v.primary, err = lighthttp.New(chainID, primary.URL); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, w := range witnesses {
		u := normalizeURL(w)
		if seen[u] {
			continue
		}
		seen[u] = true
		if u == normalizeURL(primary.URL) {
			v.NotWitnesses = append(v.NotWitnesses, WitnessCheck{URL: w, Detail: "is the primary node itself (the same URL): not an independent witness"})
			continue
		}
		wc, err := New(u)
		if err != nil {
			return nil, fmt.Errorf("witness %s: %w", w, err)
		}
		wit := &witness{url: w}
		if wst, err := wc.Status(ctx); err != nil {
			wit.dead = err
		} else if id := string(wst.NodeInfo.ID()); id == v.primaryID {
			v.NotWitnesses = append(v.NotWitnesses, WitnessCheck{URL: w, Detail: "is the primary node itself (node id " + id + "): not an independent witness"})
			continue
		} else if wst.NodeInfo.Network != chainID {
			wit.dead = fmt.Errorf("serves chain %q, not %q", wst.NodeInfo.Network, chainID)
		}
		if wit.prov, err = lighthttp.New(chainID, u); err != nil {
			return nil, fmt.Errorf("witness %s: %w", w, err)
		}
		v.witnesses = append(v.witnesses, wit)
		v.Witnesses = append(v.Witnesses, w)
	}
	v.NoIndependentWitness = len(v.witnesses) == 0

	root, err := v.primary.LightBlock(ctx, ts.Root.Height)
	if err != nil {
		return nil, fmt.Errorf("primary %s: trust root header %d: %w", primary.URL, ts.Root.Height, err)
	}
	if got := fmt.Sprintf("%X", root.Hash()); !strings.EqualFold(got, ts.Root.Hash) {
		return nil, rootMismatch(ctx, primary, home, ts, root)
	}
	v.verified[root.Height] = root
	if _, err := v.crossCheck(ctx, root, root); err != nil {
		return nil, err
	}
	return v, nil
}

// Root returns the trust root's light block (its hash is the root's).
func (v *Verifier) Root() *cmttypes.LightBlock {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.verified[v.Trust.Root.Height]
}

// LightBlock returns the header (with commit and validator set) at height h,
// verified from the trust root — from the highest header verified so far
// below h, through the last and first header of every validator-set era in
// between — cross-checked with every witness, and checked against the last
// header this client verified before.
func (v *Verifier) LightBlock(ctx context.Context, h int64) (*cmttypes.LightBlock, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if h < v.Trust.Root.Height {
		return nil, &verify.HeaderError{Height: h, Reason: fmt.Sprintf("below the trust root (header %d): headers are verified forward from the root only", v.Trust.Root.Height)}
	}
	if lb := v.verified[h]; lb != nil {
		if _, ok := v.checks[h]; ok || h == v.Trust.Root.Height {
			return lb, nil
		}
	}
	if err := v.Primary.WaitForHeight(ctx, h); err != nil {
		return nil, err
	}
	target, err := v.primary.LightBlock(ctx, h)
	if err != nil {
		return nil, fmt.Errorf("primary %s: header %d: %w", v.Primary.URL, h, err)
	}
	base, err := v.verifyFrom(ctx, v.primary, target)
	if err != nil {
		return nil, err
	}
	checks, err := v.crossCheck(ctx, target, base)
	if err != nil {
		return nil, err
	}
	v.checks[h] = checks
	if err := v.checkPast(ctx, target); err != nil {
		return nil, err
	}
	return target, nil
}

// verifyFrom verifies target from the highest verified block below it,
// fetching the blocks bisection needs from p, keeps every block it verified
// and returns the base it started from.
func (v *Verifier) verifyFrom(ctx context.Context, p provider.Provider, target *cmttypes.LightBlock) (*cmttypes.LightBlock, error) {
	base := v.below(target.Height)
	chain, err := verify.BundleChain(base, []*cmttypes.LightBlock{target}, func(lo, hi int64) (*cmttypes.LightBlock, error) {
		return p.LightBlock(ctx, lo+(hi-lo)/2)
	}, time.Now())
	if err != nil {
		return nil, headerFailure(err)
	}
	if p == v.primary {
		for _, lb := range chain {
			v.verified[lb.Height] = lb
		}
	}
	return base, nil
}

// headerFailure says in its text that a header check failed (a
// *verify.HeaderError names only the header and the rule).
func headerFailure(err error) error {
	var he *verify.HeaderError
	if errors.As(err, &he) {
		return fmt.Errorf("%w: %w", verify.ErrHeader, err)
	}
	return err
}

// below returns the highest verified block below h (the root at least).
func (v *Verifier) below(h int64) *cmttypes.LightBlock {
	best := v.verified[v.Trust.Root.Height]
	for ht, lb := range v.verified {
		if ht < h && ht > best.Height {
			best = lb
		}
	}
	return best
}

// Verified returns the light blocks verified so far with heights in
// [from, to], ascending.
func (v *Verifier) Verified(from, to int64) []*cmttypes.LightBlock {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []*cmttypes.LightBlock
	for h, lb := range v.verified {
		if h >= from && h <= to {
			out = append(out, lb)
		}
	}
	slices.SortFunc(out, func(a, b *cmttypes.LightBlock) int { return cmp.Compare(a.Height, b.Height) })
	return out
}

// crossCheck asks every independent witness for its header at lb's height
// (lb is verified, from base) and compares hashes. A different header signed
// by more than 2/3 of lb's validator set, or one that verifies from base
// too, is a fork (*ForkError); a witness that does not answer, or serves an
// alternative that does not verify, is reported with OK false. A witness
// that is a little behind gets a few seconds to reach the height.
func (v *Verifier) crossCheck(ctx context.Context, lb, base *cmttypes.LightBlock) ([]WitnessCheck, error) {
	h := lb.Height
	var out []WitnessCheck
	for _, w := range v.witnesses {
		if w.dead != nil {
			out = append(out, WitnessCheck{URL: w.url, Detail: fmt.Sprintf("unreachable: %v", w.dead)})
			continue
		}
		var wb *cmttypes.LightBlock
		var err error
		deadline := time.Now().Add(5 * time.Second)
		for {
			wb, err = w.prov.LightBlock(ctx, h)
			behind := errors.Is(err, provider.ErrHeightTooHigh) || errors.Is(err, provider.ErrLightBlockNotFound)
			if err == nil || !behind || time.Now().After(deadline) || ctx.Err() != nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			if !errors.Is(err, provider.ErrHeightTooHigh) && !errors.Is(err, provider.ErrLightBlockNotFound) {
				w.dead = err
			}
			out = append(out, WitnessCheck{URL: w.url, Detail: fmt.Sprintf("did not answer for header %d: %v", h, err)})
			continue
		}
		if bytes.Equal(wb.Hash(), lb.Hash()) {
			out = append(out, WitnessCheck{URL: w.url, OK: true, Detail: fmt.Sprintf("serves the same header %d %X", h, lb.Hash())})
			continue
		}
		// Equivocation: more than 2/3 of the verified validator set signed
		// the other header too; or the witness's header verifies from the
		// same trusted base by the witness's own chain (an attack by an
		// old era's keys on one of the two). A header that verifies from
		// nothing is a broken or lying witness, not evidence.
		if lb.ValidatorSet.VerifyCommitLight(v.ChainID, wb.Commit.BlockID, h, wb.Commit) == nil {
			return out, v.fork(ctx, h, lb, wb, w.url, base)
		}
		if _, verr := v.verifyFrom(ctx, w.prov, wb); verr == nil {
			return out, v.fork(ctx, h, lb, wb, w.url, base)
		}
		out = append(out, WitnessCheck{URL: w.url, Detail: fmt.Sprintf("serves a different header %d %X that does not verify from the trust root: a broken or lying witness", h, wb.Hash())})
	}
	return out, nil
}

// checkPast refuses a chain whose header at the last verified height is not
// the one verified then, and advances the last verified checkpoint (never
// moving it back).
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
			old := v.verified[last.Height]
			if old == nil {
				var err error
				if old, err = v.primary.LightBlock(ctx, last.Height); err != nil {
					return fmt.Errorf("primary %s: header %d: %w", v.Primary.URL, last.Height, err)
				}
				if _, err := v.verifyFrom(ctx, v.primary, old); err != nil {
					return err
				}
			}
			if fmt.Sprintf("%X", old.Hash()) != last.Hash {
				return fmt.Errorf("header %d is %X but %X was verified before: %w", last.Height, old.Hash(), last.Hash, ErrConflictWithPast)
			}
		}
		// Under the trust store's lock: a concurrent run may have verified
		// further meanwhile, and the stored checkpoint never moves back.
		ts, err := UpdateLastVerified(v.home, v.ChainID, Checkpoint{Height: lb.Height, Hash: fmt.Sprintf("%X", lb.Hash())})
		if err != nil {
			return err
		}
		v.Trust.LastVerified = ts.LastVerified
		return nil
	default:
		return nil // an older header: verified from the root like any other
	}
}

// fork builds the report of two conflicting headers at h: primary's
// (verified from base) and the witness's. Only signatures that verify
// count: a validator named here provably signed both (equivocation
// evidence).
func (v *Verifier) fork(ctx context.Context, h int64, primary, witness *cmttypes.LightBlock, url string, base *cmttypes.LightBlock) *ForkError {
	fe := &ForkError{Height: h, PrimaryURL: v.Primary.URL, WitnessURL: url, PrimaryHeader: primary.SignedHeader, WitnessHeader: witness.SignedHeader}
	signedPrimary := map[string]bool{}
	for _, s := range verify.SignedBy(v.ChainID, primary.ValidatorSet, primary.Commit, nil) {
		signedPrimary[s.Address] = true
	}
	names := v.forkNames(ctx, base)
	for _, s := range verify.SignedBy(v.ChainID, witness.ValidatorSet, witness.Commit, names) {
		if signedPrimary[s.Address] {
			fe.SignedBoth = append(fe.SignedBoth, s)
		}
	}
	return fe
}

// forkNames maps validator addresses to agency ids for a fork report, from
// what this client already trusts: the agencies of the genesis file its
// trust root came from, then (overriding them) the agency listing at the
// state before base, the highest header verified below the fork, proved
// complete against base. Names only help the reader: where they cannot be
// read the report gives the addresses alone.
func (v *Verifier) forkNames(ctx context.Context, base *cmttypes.LightBlock) map[string]string {
	names := map[string]string{}
	if gp, err := GenesisPath(v.home, v.ChainID); err == nil {
		if doc, _, err := LoadGenesisFile(gp); err == nil {
			var gs ledger.GenesisState
			if json.Unmarshal(doc.AppState, &gs) == nil {
				for _, a := range gs.Agencies {
					if len(a.ValidatorKey) == cmted25519.PubKeySize {
						names[cmttypes.Address(cmtAddress(a.ValidatorKey)).String()] = a.ID
					}
				}
			}
		}
	}
	if base == nil || base.Height < 2 {
		return names
	}
	r, err := VerifyListingAt(ctx, v.Primary, base, ledger.ListingAgencies, "", base.Height-1, 0)
	if err != nil {
		return names
	}
	for _, e := range r.Entries {
		var ag ledger.Agency
		if json.Unmarshal(e.Record, &ag) == nil && len(ag.ValidatorKey) == cmted25519.PubKeySize {
			names[cmttypes.Address(cmtAddress(ag.ValidatorKey)).String()] = ag.ID
		}
	}
	return names
}

// LatestBlock is the latest block L whose state a verification with no
// height proves (at L-1, or L): the highest latest block of the primary and
// the witnesses (LatestHeight), which the primary must serve within a few
// seconds (ErrPrimaryBehind), and never older than the last header this
// client verified before (ErrOlderThanVerified): an old state is verified
// only when asked for by height.
func (v *Verifier) LatestBlock(ctx context.Context) (int64, error) {
	l, from, err := v.LatestHeight(ctx)
	if err != nil {
		return 0, err
	}
	if from != v.Primary.URL {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := v.Primary.WaitForHeight(wctx, l)
		cancel()
		if err != nil {
			return 0, fmt.Errorf("%w: witness %s has block %d, %s does not serve it: %v", ErrPrimaryBehind, from, l, v.Primary.URL, err)
		}
	}
	if last := v.Trust.LastVerified; l < last.Height {
		return 0, fmt.Errorf("the latest block the nodes offer is %d, but header %d (%s) was verified before: %w; %w",
			l, last.Height, last.Hash, ErrOlderThanVerified, ErrOldState)
	}
	return l, nil
}

// LatestHeight is the highest block height among the primary and the
// independent witnesses, as their status says. The primary alone could
// hide later blocks; a witness that does not answer is passed over.
func (v *Verifier) LatestHeight(ctx context.Context) (latest int64, from string, err error) {
	st, err := v.Primary.Status(ctx)
	if err != nil {
		return 0, "", err
	}
	latest, from = st.SyncInfo.LatestBlockHeight, v.Primary.URL
	for _, w := range v.witnesses {
		if w.dead != nil {
			continue
		}
		wc, err := New(normalizeURL(w.url))
		if err != nil {
			continue
		}
		if wst, err := wc.Status(ctx); err == nil && wst.SyncInfo.LatestBlockHeight > latest {
			latest, from = wst.SyncInfo.LatestBlockHeight, w.url
		}
	}
	return latest, from, nil
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
// With height 0 it proves the state at L-1, where L is the latest block of
// the primary and the witnesses (the highest of their heights: the primary
// alone could hide later blocks; it gets a few seconds to catch up with a
// witness, ErrPrimaryBehind otherwise): header L, which commits that state,
// already exists, so nothing has to wait for a block. Only when the key
// changed in block L itself does it prove the state at L, waiting for header
// L+1. A latest state older than the last header verified before is refused
// (ErrOlderThanVerified): an old state is verified only when asked for by
// height.
func (v *Verifier) VerifyKey(ctx context.Context, storeName string, key []byte, height int64) (*KeyProof, error) {
	if height == 0 {
		l, err := v.LatestBlock(ctx)
		if err != nil {
			return nil, err
		}
		if l > 1 {
			height = l - 1
			prev, err1 := v.Primary.Query(ctx, ledger.QueryStoreKey(storeName), key, l-1, false)
			last, err2 := v.Primary.Query(ctx, ledger.QueryStoreKey(storeName), key, l, false)
			if err1 == nil && err2 == nil && last.Code == 0 && !bytes.Equal(prev.Value, last.Value) {
				height = l
			}
		}
	}
	res, err := v.Primary.Query(ctx, ledger.QueryStoreKey(storeName), key, height, true)
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

// AgencyNames returns validator address → agency id for every agency at
// state height h, from the agencies listing proved complete against header
// h+1 (so no agency, and no agency's key, can be left out or altered).
func (v *Verifier) AgencyNames(ctx context.Context, h int64) (map[string]string, error) {
	lb, err := v.LightBlock(ctx, h+1)
	if err != nil {
		return nil, err
	}
	r, err := VerifyListingAt(ctx, v.Primary, lb, ledger.ListingAgencies, "", h, 0)
	if err != nil {
		return nil, fmt.Errorf("agency names at height %d: %w", h, err)
	}
	names := map[string]string{}
	for _, e := range r.Entries {
		var ag ledger.Agency
		if err := json.Unmarshal(e.Record, &ag); err != nil {
			return nil, fmt.Errorf("%w: agency %s at height %d: proved record does not decode: %v", verify.ErrProof, e.ID, h, err)
		}
		names[cmttypes.Address(cmtAddress(ag.ValidatorKey)).String()] = ag.ID
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
