package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtcrypto "github.com/cometbft/cometbft/proto/tendermint/crypto"

	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/store"
)

// Proof op types, as the Cosmos SDK names them.
const (
	ProofOpIAVL   = "ics23:iavl"
	ProofOpSimple = "ics23:simple"
)

// Query paths, as package ledger builds them (ledger.QueryStoreKey, ...).
// The store path is the contract independent verifiers rely on; the others
// are conveniences over the same data.
//
//	/store/<store>/key           data = key; prove=true gives ICS23 proof ops
//	/grant/<id>  /licence/<id>  /payment/<id>  /agency/<id>   one record (proofs as for /store)
//	/grants  /licences  /payments   data = JSON ledger.RecordFilter {"agency","status","after","limit"}
//	/grant/<id>/payments         data = JSON ledger.PageRequest {"after","limit"}
//	/list/<listing>              data = JSON ledger.ListingRequest {"owner","after","limit"}: a page of a provable listing
//	                             (grants, licences, payments, grant-payments, agencies) with the
//	                             proofs that it is complete (ledger.ProvedPage)
//	/totals/<agency>/<currency>  the agency's provable totals
//	/params                      the chain parameters
//	/proposal/<id>               one governance proposal (proofs as for /store)
//	/proposals                   data = JSON ledger.ProposalFilter {"status","after","limit"}
//	/snapshots                   this node's state-sync snapshots (height, chunks, hashes), newest first
//
// height=0 means the latest committed version. The answer codes are
// ledger.QueryCodeBadRequest, QueryCodeNotFound and QueryCodeNoVersion.

// Query answers reads at a committed height; see the path table above. It
// runs on CometBFT's query connection, concurrently with blocks (see
// ClientCreator): it takes no lock of the app and reads committed versions
// through the query reader only. A path is answered by the first route of
// nodeRoutes it equals, else by the route of stateRoutes its segments match.
func (a *App) Query(_ context.Context, req *abci.RequestQuery) (*abci.ResponseQuery, error) {
	start := time.Now()
	defer func() { a.observer.query(req.Path, req.Prove, time.Since(start)) }()
	if a.onQuery != nil {
		a.onQuery(req.Path)
	}
	for _, r := range nodeRoutes {
		if req.Path == r.path {
			return r.handle(a)
		}
	}
	height := req.Height
	if height == 0 {
		height = a.reader.Latest()
	}
	view, err := a.reader.At(height)
	if err != nil {
		return &abci.ResponseQuery{Code: ledger.QueryCodeNoVersion, Log: err.Error(), Height: height, Codespace: Codespace}, nil
	}
	parts := pathSegments(req.Path)
	if r := matchRoute(parts); r != nil {
		return r.handle(a, &queryRequest{view: view, height: height, parts: parts, data: req.Data, prove: req.Prove})
	}
	return badRequest(height, "unknown query path %q", req.Path), nil
}

// queryRequest is a query of the state at one committed height, as a
// route's handler sees it.
type queryRequest struct {
	view   *store.View
	height int64
	parts  []string // the path's segments, without the leading "/"
	data   []byte
	prove  bool
}

// stateRoute is a named query of the state: pattern lists the path's
// segments, "*" standing for any one segment (an id, a store name, ...).
// Patterns are the paths package ledger builds, with "*" for each variable.
type stateRoute struct {
	name    string
	pattern []string
	handle  func(a *App, q *queryRequest) (*abci.ResponseQuery, error)
}

// stateRoutes are the queries of the state, one per path of the table
// above. No two patterns match the same path.
var stateRoutes = []stateRoute{
	{"store-key", pathSegments(ledger.QueryStoreKey(wild)), (*App).queryStoreKey},
	{"grant", pathSegments(ledger.QueryRecord(ledger.KindGrant, wild)), (*App).queryRecord},
	{"licence", pathSegments(ledger.QueryRecord(ledger.KindLicence, wild)), (*App).queryRecord},
	{"payment", pathSegments(ledger.QueryRecord(ledger.KindPayment, wild)), (*App).queryRecord},
	{"agency", pathSegments(ledger.QueryRecord(ledger.KindAgency, wild)), (*App).queryRecord},
	{"grants", pathSegments(ledger.QueryRecords(ledger.KindGrant)), (*App).queryRecordList},
	{"licences", pathSegments(ledger.QueryRecords(ledger.KindLicence)), (*App).queryRecordList},
	{"payments", pathSegments(ledger.QueryRecords(ledger.KindPayment)), (*App).queryRecordList},
	{"grant-payments", pathSegments(ledger.QueryGrantPayments(wild)), (*App).queryGrantPayments},
	{"totals", pathSegments(ledger.QueryTotals(wild, wild)), (*App).queryTotals},
	{"agencies", pathSegments(ledger.QueryAgencies), (*App).queryAgencies},
	{"proposal", pathSegments(ledger.QueryProposal(wild)), (*App).queryProposal},
	{"proposals", pathSegments(ledger.QueryProposals), (*App).queryProposals},
	{"list", pathSegments(ledger.QueryListing(wild)), (*App).queryListing},
	{"params", pathSegments(ledger.QueryParams), (*App).queryParams},
}

// wild stands for a variable segment in a pattern.
const wild = "*"

// pathSegments returns the segments of a path (of a pattern: wild for each
// variable one).
func pathSegments(path string) []string { return strings.Split(strings.TrimPrefix(path, "/"), "/") }

// nodeRoute is a named query of this node, not of the state: it is
// answered whatever the height asked, and matched on the whole path.
type nodeRoute struct {
	name   string
	path   string
	handle func(a *App) (*abci.ResponseQuery, error)
}

var nodeRoutes = []nodeRoute{
	{"snapshots", ledger.QuerySnapshots, (*App).querySnapshots},
}

// matchRoute returns the state route whose pattern parts match, or nil.
func matchRoute(parts []string) *stateRoute {
	for i := range stateRoutes {
		r := &stateRoutes[i]
		if len(r.pattern) != len(parts) {
			continue
		}
		ok := true
		for j, seg := range r.pattern {
			if seg != wild && seg != parts[j] {
				ok = false
				break
			}
		}
		if ok {
			return r
		}
	}
	return nil
}

// querySnapshots answers /snapshots: what this node can serve to joining
// nodes (not state).
func (a *App) querySnapshots() (*abci.ResponseQuery, error) {
	var list []*SnapshotInfo
	if a.snapshots != nil {
		var err error
		if list, err = a.snapshots.List(); err != nil {
			return nil, err
		}
	}
	if list == nil {
		list = []*SnapshotInfo{}
	}
	return jsonResult(a.reader.Latest(), list, nil)
}

// queryStoreKey answers /store/<store>/key.
func (a *App) queryStoreKey(q *queryRequest) (*abci.ResponseQuery, error) {
	return a.queryKey(q.view, q.parts[1], q.data, q.prove)
}

// queryRecord answers /grant/<id>, /licence/<id>, /payment/<id> and
// /agency/<id>.
func (a *App) queryRecord(q *queryRequest) (*abci.ResponseQuery, error) {
	kind, id := q.parts[0], q.parts[1]
	if !ledger.ValidID(id) {
		return badRequest(q.height, "invalid id %q", id), nil
	}
	res, err := a.queryKey(q.view, ledger.StoreOf(ledger.Kind(kind)), ledger.RecordKey(id), q.prove)
	if err == nil && res.Code == 0 && res.Value == nil {
		res.Code = ledger.QueryCodeNotFound
		res.Log = fmt.Sprintf("%s %q not found at height %d", kind, id, q.height)
	}
	return res, err
}

// queryRecordList answers /grants, /licences and /payments.
func (a *App) queryRecordList(q *queryRequest) (*abci.ResponseQuery, error) {
	var f ledger.RecordFilter
	if len(q.data) > 0 {
		if err := json.Unmarshal(q.data, &f); err != nil {
			return badRequest(q.height, "listing filter: %v", err), nil
		}
	}
	page, err := ledger.List(q.view, listedKind("/"+q.parts[0]), ledger.ListFilter{Agency: f.Agency, Status: f.Status, After: f.After, Limit: f.Limit})
	return jsonResult(q.height, page, err)
}

// listedKind returns the kind of ledger.ListedKinds whose listing is at
// path ("" if none).
func listedKind(path string) ledger.Kind {
	for _, k := range ledger.ListedKinds {
		if ledger.QueryRecords(k) == path {
			return k
		}
	}
	return ""
}

// queryGrantPayments answers /grant/<id>/payments.
func (a *App) queryGrantPayments(q *queryRequest) (*abci.ResponseQuery, error) {
	var f ledger.PageRequest
	if len(q.data) > 0 {
		if err := json.Unmarshal(q.data, &f); err != nil {
			return badRequest(q.height, "listing filter: %v", err), nil
		}
	}
	page, err := ledger.ListPaymentsOfGrant(q.view, q.parts[1], f.After, f.Limit)
	return jsonResult(q.height, page, err)
}

// queryTotals answers /totals/<agency>/<currency>.
func (a *App) queryTotals(q *queryRequest) (*abci.ResponseQuery, error) {
	agency, currency := q.parts[1], q.parts[2]
	res, err := a.queryKey(q.view, ledger.StoreMeta, ledger.TotalsKey(agency, currency), q.prove)
	if err == nil && res.Code == 0 && res.Value == nil {
		res.Code = ledger.QueryCodeNotFound
		res.Log = fmt.Sprintf("no totals for %s in %s at height %d", agency, currency, q.height)
	}
	return res, err
}

// queryAgencies answers /agencies: every agency record, in one page.
func (a *App) queryAgencies(q *queryRequest) (*abci.ResponseQuery, error) {
	var items []json.RawMessage
	err := q.view.Iterate(ledger.StoreAgencies, nil, nil, func(k, v []byte) bool {
		if string(k) != string(ledger.SeedKey) {
			items = append(items, append([]byte(nil), v...))
		}
		return true
	})
	return jsonResult(q.height, ledger.Page{Items: items}, err)
}

// queryProposal answers /proposal/<id>.
func (a *App) queryProposal(q *queryRequest) (*abci.ResponseQuery, error) {
	id, perr := strconv.ParseUint(q.parts[1], 10, 64)
	if perr != nil || id == 0 {
		return badRequest(q.height, "invalid proposal id %q", q.parts[1]), nil
	}
	res, err := a.queryKey(q.view, ledger.StoreMeta, ledger.ProposalKey(id), q.prove)
	if err == nil && res.Code == 0 && res.Value == nil {
		res.Code = ledger.QueryCodeNotFound
		res.Log = fmt.Sprintf("proposal %d not found at height %d", id, q.height)
	}
	return res, err
}

// queryProposals answers /proposals.
func (a *App) queryProposals(q *queryRequest) (*abci.ResponseQuery, error) {
	var f ledger.ProposalFilter
	if len(q.data) > 0 {
		if err := json.Unmarshal(q.data, &f); err != nil {
			return badRequest(q.height, "listing filter: %v", err), nil
		}
	}
	if f.Status != "" && !slices.Contains(ledger.StatusesOf(ledger.KindProposal), f.Status) {
		return badRequest(q.height, "status %q is not one of %v", f.Status, ledger.ProposalStatuses), nil
	}
	ps, next, err := ledger.ListProposals(q.view, f.Status, f.After, f.Limit)
	if err != nil {
		return nil, err
	}
	page := ledger.Page{Items: []json.RawMessage{}}
	for _, p := range ps {
		bz, err := json.Marshal(p)
		if err != nil {
			return nil, err
		}
		page.Items = append(page.Items, bz)
	}
	if next != 0 {
		page.Next = strconv.FormatUint(next, 10)
	}
	return jsonResult(q.height, page, nil)
}

// queryListing answers /list/<listing>: a page of a provable listing.
func (a *App) queryListing(q *queryRequest) (*abci.ResponseQuery, error) {
	var f ledger.ListingRequest
	if len(q.data) > 0 {
		if err := json.Unmarshal(q.data, &f); err != nil {
			return badRequest(q.height, "listing request: %v", err), nil
		}
	}
	page, err := ListingPage(q.view, q.parts[1], f.Owner, f.After, f.Limit)
	return jsonResult(q.height, page, err)
}

// queryParams answers /params.
func (a *App) queryParams(q *queryRequest) (*abci.ResponseQuery, error) {
	return a.queryKey(q.view, ledger.StoreMeta, ledger.KeyParams, q.prove)
}

func badRequest(height int64, format string, args ...any) *abci.ResponseQuery {
	return &abci.ResponseQuery{Code: ledger.QueryCodeBadRequest, Log: fmt.Sprintf(format, args...), Height: height, Codespace: Codespace}
}

func jsonResult(height int64, v any, err error) (*abci.ResponseQuery, error) {
	if err != nil {
		var le *ledger.Error
		if errors.As(err, &le) {
			return badRequest(height, "%v", err), nil
		}
		return nil, err
	}
	bz, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &abci.ResponseQuery{Value: bz, Height: height}, nil
}

// queryKey reads one key and, if asked, proves it: op 0 is the IAVL
// (non-)membership proof of key in the store, op 1 the simple-Merkle proof of
// the store's root in the AppHash of header height+1.
func (a *App) queryKey(view *store.View, storeName string, key []byte, prove bool) (*abci.ResponseQuery, error) {
	h := view.Version()
	if len(key) == 0 {
		return badRequest(h, "empty key"), nil
	}
	if !prove {
		v, err := view.Get(storeName, key)
		if errors.Is(err, store.ErrUnknownStore) {
			return badRequest(h, "%v", err), nil
		}
		if err != nil {
			return nil, err
		}
		return &abci.ResponseQuery{Key: key, Value: v, Height: h}, nil
	}
	v, ip, sp, err := view.Proof(storeName, key)
	if errors.Is(err, store.ErrUnknownStore) {
		return badRequest(h, "%v", err), nil
	}
	if err != nil {
		return nil, err
	}
	ipb, err := ip.Marshal()
	if err != nil {
		return nil, err
	}
	spb, err := sp.Marshal()
	if err != nil {
		return nil, err
	}
	return &abci.ResponseQuery{
		Key: key, Value: v, Height: h,
		ProofOps: &cmtcrypto.ProofOps{Ops: []cmtcrypto.ProofOp{
			{Type: ProofOpIAVL, Key: key, Data: ipb},
			{Type: ProofOpSimple, Key: []byte(storeName), Data: spb},
		}},
	}, nil
}

// ListingPage answers "/list/<listing>" from view: a page of at most limit
// entries (DefaultPageSize when 0, at most MaxPageSize) after the id after,
// with its range proof and, for index listings, the batch proof of the
// listed records.
func ListingPage(view *store.View, listing, owner, after string, limit int) (*ledger.ProvedPage, error) {
	r, err := ledger.ListingRangeOf(listing, owner)
	if err != nil {
		return nil, err
	}
	if after != "" && !ledger.ValidID(after) {
		return nil, fmt.Errorf("after: %q: %w", after, ledger.ErrInvalidID)
	}
	switch {
	case limit <= 0:
		limit = ledger.DefaultPageSize
	case limit > ledger.MaxPageSize:
		limit = ledger.MaxPageSize
	}
	rp, err := view.RangeProof(r.Store, r.Start(after), r.End, limit)
	if err != nil {
		return nil, err
	}
	page := &ledger.ProvedPage{Listing: listing, Owner: owner, After: after, Limit: limit, Height: view.Version()}
	if page.Range, err = rp.Proof.Marshal(); err != nil {
		return nil, err
	}
	if page.RangeStore, err = rp.StoreProof.Marshal(); err != nil {
		return nil, err
	}
	if r.RecordStore == "" || len(rp.Keys) == 0 {
		return page, nil
	}
	keys := make([][]byte, len(rp.Keys))
	for i, k := range rp.Keys {
		keys[i] = ledger.RecordKey(r.ID(k))
	}
	_, bp, sp, err := view.BatchProof(r.RecordStore, keys)
	if err != nil {
		return nil, err
	}
	if page.Records, err = bp.Marshal(); err != nil {
		return nil, err
	}
	if page.RecordsStore, err = sp.Marshal(); err != nil {
		return nil, err
	}
	return page, nil
}
