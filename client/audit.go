package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/verify"
)

// AuditData is everything an audit reads at one state height: the grants
// and payments of the audited agencies, the grants their payments refer to
// that belong elsewhere (or do not exist), and the stored totals records.
type AuditData struct {
	Height   int64    `json:"height"`
	Agencies []string `json:"agencies"` // audited agencies, sorted
	Grants   []ledger.Grant
	Payments []ledger.Payment
	// Stored holds the totals records read from the meta store, by
	// "agency/currency"; a key present with a nil value was read and found
	// absent.
	Stored map[string]*ledger.Totals
	// Foreign holds grants referenced by payments but not among Grants
	// (a grant of another agency); a nil value means the grant does not
	// exist at Height.
	Foreign map[string]*ledger.Grant
}

// AuditTotals is the reconciliation of one agency's totals in one currency.
type AuditTotals = ledger.TotalsCheck

// Discrepancy kinds.
const (
	DiscTotals         = "totals_mismatch"
	DiscGrantTotals    = "grant_disbursed_mismatch"
	DiscOverDisbursed  = "grant_over_disbursed"
	DiscGrantStatus    = "grant_unknown_status"
	DiscPaymentStatus  = "payment_unknown_status"
	DiscMissingGrant   = "payment_missing_grant"
	DiscForeignGrant   = "payment_foreign_grant"
	DiscCurrency       = "currency_mismatch"
	DiscProof          = "proof_failed"
	DiscListingChanged = "listing_differs_from_proof"
)

// discKinds names the discrepancy kind of each accounting rule that
// ledger.Reconcile checks. Proof failures break no rule of the ledger.
var discKinds = map[string]string{
	ledger.InvAgencyTotals:       DiscTotals,
	ledger.InvGrantDisbursed:     DiscGrantTotals,
	ledger.InvGrantWithinAward:   DiscOverDisbursed,
	ledger.InvGrantStatus:        DiscGrantStatus,
	ledger.InvPaymentStatus:      DiscPaymentStatus,
	ledger.InvPaymentGrant:       DiscMissingGrant,
	ledger.InvPaymentGrantAgency: DiscForeignGrant,
	ledger.InvPaymentCurrency:    DiscCurrency,
}

// Discrepancy is one thing that does not reconcile.
type Discrepancy struct {
	Kind     string `json:"kind"`
	Agency   string `json:"agency,omitempty"`
	Currency string `json:"currency,omitempty"`
	ID       string `json:"id,omitempty"` // grant, payment or totals key
	Detail   string `json:"detail"`
	// Rule is the id of the ledger invariant the discrepancy breaks
	// (ledger.Invariants), empty for a failed proof.
	Rule string `json:"rule,omitempty"`
}

// AuditReport is the outcome of Reconcile.
type AuditReport struct {
	Height        int64         `json:"height"`
	Agencies      []string      `json:"agencies"`
	Totals        []AuditTotals `json:"totals"`
	Discrepancies []Discrepancy `json:"discrepancies"`
	Grants        int           `json:"grants"`
	Payments      int           `json:"payments"`
}

// OK reports whether everything reconciles.
func (r *AuditReport) OK() bool { return len(r.Discrepancies) == 0 }

// TotalsID is the "agency/currency" key used in AuditData.Stored.
func TotalsID(agency, currency string) string { return ledger.TotalsID(agency, currency) }

// Reconcile recomputes every running total and each grant's disbursed
// amount and payment count from the records with ledger.Reconcile, the
// recomputation ledger.CheckInvariants uses, and reports each broken
// accounting rule as a discrepancy of its kind, naming the rule. It is
// pure: it reads only d.
func Reconcile(d *AuditData) *AuditReport {
	rec := ledger.Reconcile(&ledger.Books{Grants: d.Grants, Payments: d.Payments, Referenced: d.Foreign, Stored: d.Stored})
	rep := &AuditReport{Height: d.Height, Agencies: append([]string{}, d.Agencies...),
		Totals: rec.Totals, Discrepancies: []Discrepancy{}, Grants: len(d.Grants), Payments: len(d.Payments)}
	totals := map[string]AuditTotals{}
	for _, t := range rec.Totals {
		totals[TotalsID(t.Agency, t.Currency)] = t
	}
	for _, v := range rec.Violations {
		detail := v.Message
		if t, ok := totals[v.ID]; ok && v.Rule == ledger.InvAgencyTotals {
			if t.Stored == nil {
				detail = fmt.Sprintf("total/%s: no totals record in state, recomputed %s", v.ID, totalsString(t.Recomputed, t.Currency))
			} else {
				detail = fmt.Sprintf("total/%s: stored %s, recomputed %s", v.ID, totalsString(*t.Stored, t.Currency), totalsString(t.Recomputed, t.Currency))
			}
		}
		rep.Discrepancies = append(rep.Discrepancies, Discrepancy{Kind: discKinds[v.Rule], Agency: v.Agency, Currency: v.Currency,
			ID: v.ID, Detail: detail, Rule: v.Rule})
	}
	return rep
}

// totalsString states totals for a discrepancy's detail, amounts in the
// currency's units with the minor units beside them.
func totalsString(t ledger.Totals, currency string) string {
	m := func(a ledger.Amount) string { return ledger.MoneyWithMinor(int64(a), currency) }
	return fmt.Sprintf("{awarded %s, grants %d, paid %s, against grants %s, payments %d, reversed %s, reversals %d}",
		m(t.Awarded), t.Grants, m(t.Paid), m(t.PaidAgainstGrant), t.Payments, m(t.Reversed), t.Reversals)
}

// AuditOptions tune CollectAudit.
type AuditOptions struct {
	Agency   string // only this agency ("" for all)
	Height   int64  // state height; 0: the node's latest block minus one
	PageSize int    // listing page size; 0: ledger.MaxPageSize
	// Verifier, when set, proves against the verified header Height+1
	// (fetched once) every listing read complete (agencies, and the grants
	// and payments of each agency, records included) and every other record
	// and totals record read.
	Verifier *Verifier
	// Progress is called every ProgressEvery records read (nil: silent).
	Progress      func(records int)
	ProgressEvery int
}

// AuditProofs is the outcome of proving the records of an audit.
type AuditProofs struct {
	Header   *cmttypes.LightBlock // verified header Height+1
	Verified int                  // keys proved
	Failures []Discrepancy        // bad proofs, or a listing that differs from the proved record
}

// CollectAudit reads, at one state height, every grant and payment of the
// audited agencies (a page at a time), the grants their payments reference
// elsewhere and the totals records of every agency and currency seen; with
// o.Verifier, it proves each of them, and proves the listings of agencies,
// grants and payments complete, so the node cannot hide an agency or a
// record from the audit. A failure to read is an error; a failed proof is
// reported in AuditProofs.Failures.
func (c *Client) CollectAudit(ctx context.Context, o AuditOptions) (*AuditData, *AuditProofs, error) {
	h := o.Height
	if h == 0 {
		st, err := c.Status(ctx)
		if err != nil {
			return nil, nil, err
		}
		h = st.SyncInfo.LatestBlockHeight - 1
		if h < 1 {
			h = 1
		}
	}
	if o.PageSize <= 0 {
		o.PageSize = ledger.MaxPageSize
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 500
	}
	d := &AuditData{Height: h, Stored: map[string]*ledger.Totals{}, Foreign: map[string]*ledger.Grant{}}
	var pr *AuditProofs
	var prover *auditProver
	if o.Verifier != nil {
		lb, err := o.Verifier.LightBlock(ctx, h+1)
		if err != nil {
			return nil, nil, err
		}
		pr = &AuditProofs{Header: lb}
		prover = &auditProver{c: o.Verifier.Primary, lb: lb, h: h, out: pr}
	}
	read := 0
	tick := func() {
		read++
		if o.Progress != nil && read%o.ProgressEvery == 0 {
			o.Progress(read)
		}
	}

	if o.Agency != "" {
		d.Agencies = []string{o.Agency}
	} else {
		items, proved, err := c.auditListing(ctx, prover, ledger.ListingAgencies, "", h, o.PageSize)
		if err != nil {
			return nil, nil, err
		}
		for _, it := range items {
			var a ledger.Agency
			if err := json.Unmarshal(it, &a); err != nil {
				return nil, nil, fmt.Errorf("agency listing: bad record: %w", err)
			}
			d.Agencies = append(d.Agencies, a.ID)
		}
		if prover != nil && !proved {
			// The listing could not be proved complete: every founding
			// agency of the trusted genesis must at least be in it (a
			// hidden agency is proved present against a nil listing, which
			// records a discrepancy).
			listed := map[string]bool{}
			for _, a := range d.Agencies {
				listed[a] = true
			}
			for _, id := range genesisAgencies(o.Verifier) {
				if !listed[id] {
					d.Agencies = append(d.Agencies, id)
					if err := prover.prove(ctx, ledger.StoreAgencies, ledger.RecordKey(id), nil, string(ledger.KindAgency), id); err != nil {
						return nil, nil, err
					}
				}
			}
		}
	}
	sort.Strings(d.Agencies)

	for _, ag := range d.Agencies {
		for _, listing := range []string{ledger.ListingGrants, ledger.ListingPayments} {
			items, _, err := c.auditListing(ctx, prover, listing, ag, h, o.PageSize)
			if err != nil {
				return nil, nil, err
			}
			for _, it := range items {
				switch listing {
				case ledger.ListingGrants:
					var g ledger.Grant
					if err := json.Unmarshal(it, &g); err != nil {
						return nil, nil, fmt.Errorf("grant listing of %s: bad record: %w", ag, err)
					}
					d.Grants = append(d.Grants, g)
				case ledger.ListingPayments:
					var p ledger.Payment
					if err := json.Unmarshal(it, &p); err != nil {
						return nil, nil, fmt.Errorf("payment listing of %s: bad record: %w", ag, err)
					}
					d.Payments = append(d.Payments, p)
				}
				tick()
			}
		}
	}

	// Grants referenced by payments but not among the audited grants.
	have := map[string]bool{}
	for _, g := range d.Grants {
		have[g.ID] = true
	}
	for _, p := range d.Payments {
		if p.Grant == "" || have[p.Grant] {
			continue
		}
		if _, seen := d.Foreign[p.Grant]; seen {
			continue
		}
		raw, _, err := c.Record(ctx, ledger.KindGrant, p.Grant, h)
		var g *ledger.Grant
		switch {
		case err == nil:
			g = new(ledger.Grant)
			if err := json.Unmarshal(raw, g); err != nil {
				return nil, nil, fmt.Errorf("grant %s: bad record: %w", p.Grant, err)
			}
		case isNotFound(err):
			raw = nil
		default:
			return nil, nil, err
		}
		d.Foreign[p.Grant] = g
		if prover != nil {
			if err := prover.prove(ctx, ledger.StoreGrants, ledger.RecordKey(p.Grant), raw, string(ledger.KindGrant), p.Grant); err != nil {
				return nil, nil, err
			}
		}
	}

	// Totals of every agency and currency seen in the records.
	seen := map[string][2]string{}
	for _, g := range d.Grants {
		seen[TotalsID(g.Agency, g.Currency)] = [2]string{g.Agency, g.Currency}
	}
	for _, p := range d.Payments {
		seen[TotalsID(p.Agency, p.Currency)] = [2]string{p.Agency, p.Currency}
	}
	if prover != nil {
		// A node could hide every record of an agency in one currency; with
		// proofs, every currency's totals key is proved present or absent.
		for _, ag := range d.Agencies {
			for _, cur := range ledger.Currencies() {
				seen[TotalsID(ag, cur)] = [2]string{ag, cur}
			}
		}
	}
	tkeys := make([]string, 0, len(seen))
	for k := range seen {
		tkeys = append(tkeys, k)
	}
	sort.Strings(tkeys)
	for _, k := range tkeys {
		ac := seen[k]
		res, err := c.Query(ctx, ledger.QueryStoreKey(ledger.StoreMeta), ledger.TotalsKey(ac[0], ac[1]), h, false)
		if err != nil {
			return nil, nil, err
		}
		if res.Code != 0 {
			return nil, nil, fmt.Errorf("totals %s: %s", k, res.Log)
		}
		if res.Value == nil {
			d.Stored[k] = nil
		} else {
			var t ledger.Totals
			if err := json.Unmarshal(res.Value, &t); err != nil {
				return nil, nil, fmt.Errorf("totals %s: bad record: %w", k, err)
			}
			d.Stored[k] = &t
		}
		if prover != nil {
			if err := prover.prove(ctx, ledger.StoreMeta, ledger.TotalsKey(ac[0], ac[1]), res.Value, "totals", k); err != nil {
				return nil, nil, err
			}
		}
		tick()
	}
	return d, pr, nil
}

func isNotFound(err error) bool { return err != nil && errors.Is(err, ErrNotFound) }

// auditListing returns the records of a listing at height h. With a
// prover, every page is proved complete against the verified header
// (proved true): no record can be hidden from the audit. A listing that
// fails its proof is recorded as a failure, and the node's unproved listing
// is used in its place so the report still shows what the node serves.
// Without a prover, it is the node's listing, a page at a time.
func (c *Client) auditListing(ctx context.Context, p *auditProver, listing, owner string, h int64, pageSize int) (items []json.RawMessage, proved bool, err error) {
	if p != nil {
		r, err := VerifyListingAt(ctx, c, p.lb, listing, owner, h, pageSize)
		switch {
		case err == nil:
			for _, e := range r.Entries {
				items = append(items, e.Record)
			}
			p.out.Verified += len(r.Entries)
			return items, true, nil
		case !errors.Is(err, verify.ErrProof):
			return nil, false, err
		}
		p.out.Failures = append(p.out.Failures, Discrepancy{Kind: DiscProof, Agency: owner, ID: listing,
			Detail: fmt.Sprintf("listing %s of %q is not proved complete: %v", listing, owner, err)})
	}
	if listing == ledger.ListingAgencies {
		page, err := c.AgencyList(ctx, h)
		if err != nil {
			return nil, false, auditReadError(ledger.QueryAgencies, err)
		}
		return page.Items, false, nil
	}
	kind := ledger.ListingKind(listing)
	f := ListFilter{Agency: owner, Limit: pageSize}
	for {
		// Not Records: an agency unknown at h has no records to audit.
		page, err := c.records(ctx, kind, f, h)
		if err != nil {
			return nil, false, auditReadError(ledger.QueryRecords(kind), err)
		}
		if page.Height != h {
			return nil, false, fmt.Errorf("%s listing: asked for height %d, the node answered for %d", kind, h, page.Height)
		}
		items = append(items, page.Items...)
		if page.Next == "" || len(page.Items) == 0 {
			return items, false, nil
		}
		f.After = page.Next
	}
}

// auditReadError words the error of an unproved listing read of path as
// the audit reports it: the path with the node's reason for refusing the
// query, or with what did not decode in its answer.
func auditReadError(path string, err error) error {
	var qe *QueryError
	var br *badResponse
	switch {
	case errors.As(err, &qe):
		return fmt.Errorf("%s: %s", path, qe.Log)
	case errors.As(err, &br):
		return fmt.Errorf("%s: bad response: %w", path, br.err)
	}
	return err
}

// auditProver proves keys at one height against one verified header.
type auditProver struct {
	c   *Client
	lb  *cmttypes.LightBlock
	h   int64
	out *AuditProofs
}

// prove fetches key with its proof at p.h, checks it against the header's
// AppHash and that the proved value is listed (nil: absent). A network
// error is returned; a bad proof or a different value is recorded.
func (p *auditProver) prove(ctx context.Context, store string, key, listed []byte, kind, id string) error {
	res, err := p.c.Query(ctx, ledger.QueryStoreKey(store), key, p.h, true)
	if err != nil {
		return err
	}
	fail := func(kindOf, format string, args ...any) {
		p.out.Failures = append(p.out.Failures, Discrepancy{Kind: kindOf, ID: id, Detail: fmt.Sprintf(kind+" "+id+": "+format, args...)})
	}
	switch {
	case res.Code != 0:
		fail(DiscProof, "the node refused the proof query: %s", res.Log)
		return nil
	case res.ProofOps == nil:
		fail(DiscProof, "the node returned no proof")
		return nil
	case res.Height != p.h:
		fail(DiscProof, "asked for height %d, the node answered for %d", p.h, res.Height)
		return nil
	}
	if _, err := verify.StoreValue(p.lb.AppHash, store, key, res.Value, res.ProofOps.Ops); err != nil {
		fail(DiscProof, "%v", err)
		return nil
	}
	if !sameJSON(res.Value, listed) {
		fail(DiscListingChanged, "the listed record differs from the proved one at height %d", p.h)
		return nil
	}
	p.out.Verified++
	return nil
}

// sameJSON reports whether a and b are the same bytes up to JSON
// whitespace (both empty: both absent).
func sameJSON(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return bytes.Equal(a, b)
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}

// genesisAgencies returns the agency ids of the genesis the verifier's
// trust root was set from (none for a checkpoint root).
func genesisAgencies(v *Verifier) []string {
	gp, err := GenesisPath(v.home, v.ChainID)
	if err != nil {
		return nil
	}
	doc, _, err := LoadGenesisFile(gp)
	if err != nil {
		return nil
	}
	var gs ledger.GenesisState
	if json.Unmarshal(doc.AppState, &gs) != nil {
		return nil
	}
	ids := make([]string, len(gs.Agencies))
	for i, a := range gs.Agencies {
		ids[i] = a.ID
	}
	return ids
}
