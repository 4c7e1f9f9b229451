package client

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/verify"
)

// ListingPage fetches one page of a provable listing ("/list/<listing>")
// at state height h (0: the node's latest), with its proofs, unverified.
func (c *Client) ListingPage(ctx context.Context, listing, owner, after string, limit int, h int64) (*ledger.ProvedPage, error) {
	data, _ := json.Marshal(ledger.ListingRequest{Owner: owner, After: after, Limit: limit})
	path := ledger.QueryListing(listing)
	res, err := c.Query(ctx, path, data, h, false)
	if err != nil {
		return nil, err
	}
	if res.Code != 0 {
		return nil, fmt.Errorf("%s: %s", path, res.Log)
	}
	var p ledger.ProvedPage
	if err := json.Unmarshal(res.Value, &p); err != nil {
		return nil, fmt.Errorf("%w: %s: undecodable page: %v", verify.ErrProof, path, err)
	}
	if h != 0 && (res.Height != h || p.Height != h) {
		return nil, fmt.Errorf("%w: asked for height %d, the node answered for %d (page %d)", verify.ErrProof, h, res.Height, p.Height)
	}
	return &p, nil
}

// ListingReport is a listing verified complete: every page proved against
// the AppHash of one verified header.
type ListingReport struct {
	Listing string                `json:"listing"`
	Owner   string                `json:"owner,omitempty"`
	Height  int64                 `json:"height"` // state height H
	Pages   int                   `json:"pages"`
	Entries []verify.ListedRecord `json:"entries"`
	Header  HeaderInfo            `json:"header"` // header H+1
	// LightBlock is header H+1, verified from the trust root.
	LightBlock *cmttypes.LightBlock `json:"-"`
}

// VerifyListing reads every page of listing for owner (ledger.Listings) at
// state height (0: the primary's latest block minus one, whose header
// already exists), pageSize entries at a time (0: ledger.MaxPageSize),
// verifies header H+1 from the trust root and each page against its
// AppHash, and returns every entry of the listing: a node cannot leave one
// out, add one, or change a record without the verification failing
// (verify.ErrProof).
func (v *Verifier) VerifyListing(ctx context.Context, listing, owner string, height int64, pageSize int) (*ListingReport, error) {
	if height == 0 {
		l, err := v.LatestBlock(ctx)
		if err != nil {
			return nil, err
		}
		height = max(l-1, 1)
	}
	lb, err := v.LightBlock(ctx, height+1)
	if err != nil {
		return nil, err
	}
	r, err := VerifyListingAt(ctx, v.Primary, lb, listing, owner, height, pageSize)
	if err != nil {
		return nil, err
	}
	r.LightBlock, r.Header = lb, NewHeaderInfo(lb)
	return r, nil
}

// VerifyListingAt reads and verifies every page of a listing at state
// height h against lb, the verified header h+1.
func VerifyListingAt(ctx context.Context, c *Client, lb *cmttypes.LightBlock, listing, owner string, h int64, pageSize int) (*ListingReport, error) {
	if pageSize <= 0 || pageSize > ledger.MaxPageSize {
		pageSize = ledger.MaxPageSize
	}
	if lb.Height != h+1 {
		return nil, fmt.Errorf("listing at state height %d needs header %d, not %d", h, h+1, lb.Height)
	}
	r := &ListingReport{Listing: listing, Owner: owner, Height: h, Entries: []verify.ListedRecord{}}
	after := ""
	for {
		page, err := c.ListingPage(ctx, listing, owner, after, pageSize, h)
		if err != nil {
			return nil, err
		}
		l, err := verify.VerifyListing(lb.AppHash, listing, owner, after, page)
		if err != nil {
			return nil, fmt.Errorf("%s of %q, page %d (after %q): %w", listing, owner, r.Pages+1, after, err)
		}
		r.Pages++
		r.Entries = append(r.Entries, l.Entries...)
		if l.Complete {
			return r, nil
		}
		after = l.Next
	}
}

// ValidatorNames maps validator address → agency id for the agencies of a
// verified agencies listing.
func ValidatorNames(agencies []verify.ListedRecord) map[string]string {
	names := map[string]string{}
	for _, e := range agencies {
		var a ledger.Agency
		if json.Unmarshal(e.Record, &a) == nil && len(a.ValidatorKey) > 0 {
			names[cmted25519.PubKey(a.ValidatorKey).Address().String()] = a.ID
		}
	}
	return names
}

// ListingVerification is a listing verified complete with what proved it:
// the checks in order (the trust root, header H+1, the listing, the
// validators named from the agencies listing proved complete at H, every
// signature of the commit, the witnesses), the validators that signed
// header H+1 and the witnesses' answers. Report is nil until the listing
// verified, Signers until the commit did, Witnesses until they were asked.
type ListingVerification struct {
	Report     *ListingReport
	Steps      []Step
	Signers    []CommitSigner
	Signed     int64
	TotalPower int64
	Witnesses  []WitnessCheck
}

// VerifyListingComplete verifies listing for owner at height as
// VerifyListing does, then names the validators of header H+1 from the
// agencies listing proved complete at H, checks every signature of its
// commit and asks the witnesses for it. On failure it returns what was
// verified so far, whose last step failed, with the error.
func (v *Verifier) VerifyListingComplete(ctx context.Context, listing, owner string, height int64, pageSize int) (*ListingVerification, error) {
	out := &ListingVerification{Steps: []Step{v.TrustStep()}}
	fail := func(name string, err error) (*ListingVerification, error) {
		out.Steps = append(out.Steps, Step{Name: name, Detail: err.Error()})
		return out, err
	}
	r, err := v.VerifyListing(ctx, listing, owner, height, pageSize)
	if err != nil {
		return fail("listing", err)
	}
	lb := r.LightBlock
	out.Report = r
	out.Steps = append(out.Steps,
		Step{Name: StepHeader, OK: true, Detail: fmt.Sprintf("header %d %X verified from the trust root; AppHash %X, time %s",
			lb.Height, lb.Hash(), []byte(lb.AppHash), lb.Time.UTC().Format(time.RFC3339))},
		Step{Name: "listing", OK: true, Detail: fmt.Sprintf("%d entries of %s %q in %d pages, each proved complete (no key of the range left out) and each record proved, against AppHash %X of header %d",
			len(r.Entries), listing, owner, r.Pages, []byte(lb.AppHash), lb.Height)})
	agencies := r
	if listing != ledger.ListingAgencies {
		if agencies, err = VerifyListingAt(ctx, v.Primary, lb, ledger.ListingAgencies, "", r.Height, 0); err != nil {
			return fail(StepAgencies, err)
		}
	}
	names := ValidatorNames(agencies.Entries)
	out.Steps = append(out.Steps, Step{Name: StepAgencies, OK: true,
		Detail: fmt.Sprintf("%d validators named from the agencies listing proved complete at state height %d", len(names), r.Height)})
	signers, signed, total, err := CommitSignatures(v.ChainID, lb, names)
	if err != nil {
		return fail(StepCommit, err)
	}
	out.Signers, out.Signed, out.TotalPower = signers, signed, total
	out.Steps = append(out.Steps, Step{Name: StepCommit, OK: true,
		Detail: fmt.Sprintf("all %d signatures of the commit of header %d verify: %d of %d voting power", len(signers), lb.Height, signed, total)})
	checks, err := v.CheckWitnesses(ctx, lb)
	out.Witnesses = checks
	if err != nil {
		return fail(StepWitnesses, err)
	}
	out.Steps = append(out.Steps, Step{Name: StepWitnesses, OK: true, Detail: fmt.Sprintf("%d witness answers for header %d", len(checks), lb.Height)})
	return out, nil
}
