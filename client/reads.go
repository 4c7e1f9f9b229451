package client

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/civicledger/civicledger/ledger"
)

// Errors of the typed reads, matched with errors.Is. ErrNotFound (a record,
// totals, a proposal that does not exist at the height read) is declared
// beside Record.
var (
	// ErrHeightUnavailable: the node keeps no state at the height asked for.
	ErrHeightUnavailable = errors.New("height not available on the node")
	// ErrQueryRefused: the node refused the query as malformed.
	ErrQueryRefused = errors.New("query refused by the node")
	// ErrInvalidID: an id that no record can have; nothing was asked.
	ErrInvalidID = errors.New("invalid id")
	// ErrUnknownKind: a record kind other than grant, licence, payment, agency.
	ErrUnknownKind = errors.New("unknown record kind")
	// ErrBadResponse: the node answered with something that does not decode.
	ErrBadResponse = errors.New("bad response from node")
)

// QueryError is an ABCI query the node answered with a non-zero code. It
// matches ErrNotFound, ErrHeightUnavailable or ErrQueryRefused by its code.
type QueryError struct {
	Path   string // the query path
	Code   uint32 // the node's code
	Log    string // the node's reason, as it gave it
	Asked  int64  // the height asked for (0: the latest)
	Height int64  // the height the node answered at
}

func (e *QueryError) Error() string {
	switch e.Code {
	case ledger.QueryCodeNotFound:
		return e.Log
	case ledger.QueryCodeNoVersion:
		return fmt.Sprintf("height %d is not available on the node: %s", e.Asked, e.Log)
	case ledger.QueryCodeBadRequest:
		return fmt.Sprintf("the node refused the query %s: %s", e.Path, e.Log)
	}
	return fmt.Sprintf("query %s: code %d: %s", e.Path, e.Code, e.Log)
}

// Is matches the sentinel of the error's code.
func (e *QueryError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Code == ledger.QueryCodeNotFound
	case ErrHeightUnavailable:
		return e.Code == ledger.QueryCodeNoVersion
	case ErrQueryRefused:
		return e.Code == ledger.QueryCodeBadRequest
	}
	return false
}

// notFound is the error for a value the node answered without (code 0,
// no value), worded as the node words its own not-found answers.
func notFound(path string, height int64, format string, args ...any) error {
	return &QueryError{Path: path, Code: ledger.QueryCodeNotFound, Log: fmt.Sprintf(format, args...), Height: height}
}

// InvalidIDError is an id refused before anything is asked (ErrInvalidID).
type InvalidIDError struct {
	What string // what the id names: "grant", "agency", ...
	ID   string
}

func (e *InvalidIDError) Error() string {
	return fmt.Sprintf("%s id %q must match [A-Za-z0-9._:-]{1,64}", e.What, e.ID)
}

// Is matches ErrInvalidID.
func (e *InvalidIDError) Is(target error) bool { return target == ErrInvalidID }

// UnknownAgencyError says that an agency a query named does not exist at
// the height read: an empty listing of its records, or its missing totals,
// mean that rather than nothing recorded. It matches ErrNotFound.
type UnknownAgencyError struct {
	Agency string
	Height int64
}

func (e *UnknownAgencyError) Error() string {
	return fmt.Sprintf("unknown agency %q at height %d", e.Agency, e.Height)
}

// Is matches ErrNotFound.
func (e *UnknownAgencyError) Is(target error) bool { return target == ErrNotFound }

// badResponse is a node's answer that does not decode (ErrBadResponse).
type badResponse struct {
	msg string
	err error
}

func (e *badResponse) Error() string        { return e.msg }
func (e *badResponse) Unwrap() error        { return e.err }
func (e *badResponse) Is(target error) bool { return target == ErrBadResponse }

// badRecord says that what the node served as a record does not decode.
func badRecord(what string, err error) error {
	return &badResponse{msg: fmt.Sprintf("%s: bad record from node: %v", what, err), err: err}
}

// badAnswer says that a query's answer does not decode.
func badAnswer(what string, err error) error {
	return &badResponse{msg: fmt.Sprintf("%s: bad response from node: %v", what, err), err: err}
}

// value sends an ABCI query and returns its value and the height the node
// answered at. A non-zero code is a *QueryError; a transport failure is
// Query's error (a *NodeError when the node could not be reached).
func (c *Client) value(ctx context.Context, path string, data []byte, height int64) ([]byte, int64, error) {
	res, err := c.Query(ctx, path, data, height, false)
	if err != nil {
		return nil, 0, err
	}
	if res.Code != 0 {
		return nil, res.Height, &QueryError{Path: path, Code: res.Code, Log: res.Log, Asked: height, Height: res.Height}
	}
	return res.Value, res.Height, nil
}

// validKind reports whether kind names a kind of record (RecordKinds).
func validKind(kind ledger.Kind) bool { return slices.Contains(ledger.RecordKinds, kind) }

// Record returns one record (grant, licence, payment, agency) as the node
// served it (JSON), with the height it was read at (height 0: the latest).
// A record that does not exist gives an error matching ErrNotFound; an id
// no record can have an *InvalidIDError.
func (c *Client) Record(ctx context.Context, kind ledger.Kind, id string, height int64) (json.RawMessage, int64, error) {
	if !validKind(kind) {
		return nil, 0, fmt.Errorf("%w %q", ErrUnknownKind, kind)
	}
	if !ledger.ValidID(id) {
		return nil, 0, &InvalidIDError{What: string(kind), ID: id}
	}
	path := ledger.QueryRecord(kind, id)
	v, h, err := c.value(ctx, path, nil, height)
	if err != nil {
		return nil, h, err
	}
	if len(v) == 0 {
		return nil, h, notFound(path, h, "%s %q not found at height %d", kind, id, h)
	}
	return v, h, nil
}

// record reads one record and decodes it into v.
func (c *Client) record(ctx context.Context, kind ledger.Kind, id string, height int64, v any) (int64, error) {
	raw, h, err := c.Record(ctx, kind, id, height)
	if err != nil {
		return h, err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return h, badRecord(fmt.Sprintf("%s %q", kind, id), err)
	}
	return h, nil
}

// Grant reads grant id at height (0: the latest), with the height read.
func (c *Client) Grant(ctx context.Context, id string, height int64) (*ledger.Grant, int64, error) {
	var r ledger.Grant
	h, err := c.record(ctx, ledger.KindGrant, id, height, &r)
	if err != nil {
		return nil, h, err
	}
	return &r, h, nil
}

// Licence reads licence id at height (0: the latest), with the height read.
func (c *Client) Licence(ctx context.Context, id string, height int64) (*ledger.Licence, int64, error) {
	var r ledger.Licence
	h, err := c.record(ctx, ledger.KindLicence, id, height, &r)
	if err != nil {
		return nil, h, err
	}
	return &r, h, nil
}

// Payment reads payment id at height (0: the latest), with the height read.
func (c *Client) Payment(ctx context.Context, id string, height int64) (*ledger.Payment, int64, error) {
	var r ledger.Payment
	h, err := c.record(ctx, ledger.KindPayment, id, height, &r)
	if err != nil {
		return nil, h, err
	}
	return &r, h, nil
}

// Agency reads agency id at height (0: the latest), with the height read.
func (c *Client) Agency(ctx context.Context, id string, height int64) (*ledger.Agency, int64, error) {
	var r ledger.Agency
	h, err := c.record(ctx, ledger.KindAgency, id, height, &r)
	if err != nil {
		return nil, h, err
	}
	return &r, h, nil
}

// OfficerNames maps the keys of an agency's officers to their names, from
// its record at height: best effort (unproved, and empty on any error),
// for showing who signed or approved.
func (c *Client) OfficerNames(ctx context.Context, agency string, height int64) map[string]string {
	out := map[string]string{}
	a, _, err := c.Agency(ctx, agency, height)
	if err != nil {
		return out
	}
	for _, o := range a.Officers {
		out[string(o.Key)] = o.Name
	}
	return out
}

// RequireAgency returns an *UnknownAgencyError when agency does not exist
// at height, nil when it does, and any other error as it came.
func (c *Client) RequireAgency(ctx context.Context, agency string, height int64) error {
	_, h, err := c.Record(ctx, ledger.KindAgency, agency, height)
	if errors.Is(err, ErrNotFound) {
		return &UnknownAgencyError{Agency: agency, Height: h}
	}
	return err
}

// Page is one page of a listing: its items as the node served them (never
// nil), the id to continue after ("" on the last page), and the height read.
type Page struct {
	Items  []json.RawMessage
	Next   string
	Height int64
}

// listing runs a listing query and decodes its page.
func (c *Client) listing(ctx context.Context, path string, data []byte, height int64) (*Page, error) {
	v, h, err := c.value(ctx, path, data, height)
	if err != nil {
		return nil, err
	}
	var p ledger.Page
	if err := json.Unmarshal(v, &p); err != nil {
		return nil, badAnswer(path, err)
	}
	if p.Items == nil {
		p.Items = []json.RawMessage{}
	}
	return &Page{Items: p.Items, Next: p.Next, Height: h}, nil
}

// ListFilter selects a page of records (Records; GrantPayments uses its
// After and Limit): the body of the ledger's record listings.
type ListFilter = ledger.RecordFilter

// Records lists a page of grants, licences or payments (kind) at height,
// filtered by f. An empty page filtered by an agency that does not exist
// is an *UnknownAgencyError.
func (c *Client) Records(ctx context.Context, kind ledger.Kind, f ListFilter, height int64) (*Page, error) {
	p, err := c.records(ctx, kind, f, height)
	if err != nil {
		return nil, err
	}
	if f.Agency != "" && len(p.Items) == 0 {
		if err := c.RequireAgency(ctx, f.Agency, p.Height); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// records lists a page of grants, licences or payments (kind) at height,
// filtered by f, as the node serves it: an empty page says nothing of
// whether f.Agency exists.
func (c *Client) records(ctx context.Context, kind ledger.Kind, f ListFilter, height int64) (*Page, error) {
	data, err := json.Marshal(f)
	if err != nil {
		return nil, err
	}
	return c.listing(ctx, ledger.QueryRecords(kind), data, height)
}

// GrantPayments lists a page of the payments made against grant at height
// (f.After and f.Limit apply: the body is the ledger's PageRequest). An
// empty page for a grant that does not exist is an error matching
// ErrNotFound.
func (c *Client) GrantPayments(ctx context.Context, grant string, f ListFilter, height int64) (*Page, error) {
	data, err := json.Marshal(ledger.PageRequest{After: f.After, Limit: f.Limit})
	if err != nil {
		return nil, err
	}
	p, err := c.listing(ctx, ledger.QueryGrantPayments(grant), data, height)
	if err != nil {
		return nil, err
	}
	if len(p.Items) == 0 {
		if _, _, err := c.Record(ctx, ledger.KindGrant, grant, p.Height); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// AgencyList lists every agency at height.
func (c *Client) AgencyList(ctx context.Context, height int64) (*Page, error) {
	return c.listing(ctx, ledger.QueryAgencies, nil, height)
}

// ProposalFilter selects a page of governance proposals: the body of the
// ledger's proposal listing.
type ProposalFilter = ledger.ProposalFilter

// Proposals lists a page of governance proposals at height.
func (c *Client) Proposals(ctx context.Context, f ProposalFilter, height int64) (*Page, error) {
	data, err := json.Marshal(f)
	if err != nil {
		return nil, err
	}
	return c.listing(ctx, ledger.QueryProposals, data, height)
}

// Proposal reads governance proposal id at height: decoded, as the node
// served it (JSON), and the height read.
func (c *Client) Proposal(ctx context.Context, id uint64, height int64) (*ledger.Proposal, json.RawMessage, int64, error) {
	path := ledger.QueryProposalID(id)
	v, h, err := c.value(ctx, path, nil, height)
	if err != nil {
		return nil, nil, h, err
	}
	if len(v) == 0 {
		return nil, nil, h, notFound(path, h, "proposal %d not found at height %d", id, h)
	}
	var p ledger.Proposal
	if err := json.Unmarshal(v, &p); err != nil {
		return nil, nil, h, badRecord(fmt.Sprintf("proposal %d", id), err)
	}
	return &p, v, h, nil
}

// Params reads the chain parameters at height: decoded, as the node served
// them (JSON), and the height read.
func (c *Client) Params(ctx context.Context, height int64) (*ledger.Params, json.RawMessage, int64, error) {
	v, h, err := c.value(ctx, ledger.QueryParams, nil, height)
	if err != nil {
		return nil, nil, h, err
	}
	if len(v) == 0 {
		return nil, nil, h, notFound(ledger.QueryParams, h, "no chain parameters at height %d", h)
	}
	var p ledger.Params
	if err := json.Unmarshal(v, &p); err != nil {
		return nil, nil, h, badAnswer("params", err)
	}
	return &p, v, h, nil
}

// Totals reads an agency's running totals in one currency at height:
// decoded, as the node served them (JSON), and the height read. No totals
// for an agency that does not exist is an *UnknownAgencyError.
func (c *Client) Totals(ctx context.Context, agency, currency string, height int64) (*ledger.Totals, json.RawMessage, int64, error) {
	path := ledger.QueryTotals(agency, currency)
	v, h, err := c.value(ctx, path, nil, height)
	if err == nil && len(v) == 0 {
		err = notFound(path, h, "no totals for %s in %s at height %d", agency, currency, h)
	}
	if errors.Is(err, ErrNotFound) && h > 0 {
		// No totals: an unknown agency is said to be unknown.
		if aerr := c.RequireAgency(ctx, agency, h); aerr != nil {
			return nil, nil, h, aerr
		}
	}
	if err != nil {
		return nil, nil, h, err
	}
	var t ledger.Totals
	if err := json.Unmarshal(v, &t); err != nil {
		return nil, nil, h, badAnswer("totals", err)
	}
	return &t, v, h, nil
}

// agencyHistory lists the officer changes of an agency (events
// officer.agency=<id>); an entry's Status is the officer's roles.
func (c *Client) agencyHistory(ctx context.Context, id string) ([]HistoryEntry, error) {
	q := ledger.EventQuery(ledger.EventOfficer, ledger.AttrAgency, id)
	var out []HistoryEntry
	for page := 1; ; page++ {
		perPage := 100
		res, err := c.rpc.TxSearch(ctx, q, false, &page, &perPage, "asc")
		if NoTxIndex(err) {
			return nil, fmt.Errorf("history of agency %s from %s: %w", id, c.URL, ErrNoTxIndex)
		}
		if err != nil {
			return nil, fmt.Errorf("tx_search %s: %w", q, err)
		}
		for _, tx := range res.Txs {
			e := HistoryEntry{Hash: strings.ToUpper(hex.EncodeToString(tx.Hash)), Height: tx.Height, Attrs: map[string]string{}}
			e.SetTx(tx.Tx)
			for _, ev := range tx.TxResult.Events {
				attrs := map[string]string{}
				for _, a := range ev.Attributes {
					attrs[a.Key] = a.Value
				}
				switch {
				case ev.Type == ledger.EventTx:
					e.Type = attrs[ledger.AttrType]
				case ev.Type == ledger.EventOfficer && attrs[ledger.AttrAgency] == id:
					e.Action, e.Status, e.Attrs = attrs[ledger.AttrAction], attrs[ledger.AttrRoles], attrs
				}
			}
			out = append(out, e)
		}
		if len(out) >= res.TotalCount || len(res.Txs) == 0 {
			return out, nil
		}
	}
}

// RecordHistory is History with what each entry changed (HistoryChanges):
// oldest first, never nil.
func (c *Client) RecordHistory(ctx context.Context, kind ledger.Kind, id string) ([]HistoryEntry, error) {
	hist, err := c.History(ctx, kind, id)
	if err != nil {
		return nil, err
	}
	if err := c.HistoryChanges(ctx, kind, id, hist); err != nil {
		return nil, err
	}
	if hist == nil {
		hist = []HistoryEntry{}
	}
	return hist, nil
}
