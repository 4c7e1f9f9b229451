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

// Query paths. The store path is the contract independent verifiers rely
// on; the others are conveniences over the same data.
//
//	/store/<store>/key           data = key; prove=true gives ICS23 proof ops
//	/grant/<id>  /licence/<id>  /payment/<id>  /agency/<id>   one record (proofs as for /store)
//	/grants  /licences  /payments   data = JSON {"agency","status","after","limit"}
//	/grant/<id>/payments         data = JSON {"after","limit"}
//	/list/<listing>              data = JSON {"owner","after","limit"}: a page of a provable listing
//	                             (grants, licences, payments, grant-payments, agencies) with the
//	                             proofs that it is complete (ledger.ProvedPage)
//	/totals/<agency>/<currency>  the agency's provable totals
//	/params                      the chain parameters
//	/proposal/<id>               one governance proposal (proofs as for /store)
//	/proposals                   data = JSON {"status","after","limit"}
//	/snapshots                   this node's state-sync snapshots (height, chunks, hashes), newest first
//
// height=0 means the latest committed version.
var recordStores = map[string]string{
	"grant": ledger.StoreGrants, "licence": ledger.StoreLicences,
	"payment": ledger.StorePayments, "agency": ledger.StoreAgencies,
}

// Query query codes (outside the tx code table: queries are not hashed).
const (
	queryCodeBadRequest = 2
	queryCodeNotFound   = 3
	queryCodeNoVersion  = 4
)

// Query answers reads at a committed height; see the path table above. It
// runs on CometBFT's query connection, concurrently with blocks (see
// ClientCreator): it takes no lock of the app and reads committed versions
// through the query reader only.
func (a *App) Query(_ context.Context, req *abci.RequestQuery) (*abci.ResponseQuery, error) {
	start := time.Now()
	proved := strconv.FormatBool(req.Prove)
	defer func() {
		a.Metrics.Queries.WithLabelValues(queryPathLabel(strings.SplitN(strings.TrimPrefix(req.Path, "/"), "/", 2)), proved).Inc()
		a.Metrics.QuerySeconds.WithLabelValues(proved).Observe(time.Since(start).Seconds())
	}()
	if a.OnQuery != nil {
		a.OnQuery(req.Path)
	}
	if req.Path == "/snapshots" {
		// Not state: what this node can serve to joining nodes.
		var list []*SnapshotInfo
		if a.Snapshots != nil {
			var err error
			if list, err = a.Snapshots.List(); err != nil {
				return nil, err
			}
		}
		if list == nil {
			list = []*SnapshotInfo{}
		}
		return jsonResult(a.reader.Latest(), list, nil)
	}
	height := req.Height
	if height == 0 {
		height = a.reader.Latest()
	}
	view, err := a.reader.At(height)
	if err != nil {
		return &abci.ResponseQuery{Code: queryCodeNoVersion, Log: err.Error(), Height: height, Codespace: Codespace}, nil
	}
	parts := strings.Split(strings.TrimPrefix(req.Path, "/"), "/")
	switch {
	case len(parts) == 3 && parts[0] == "store" && parts[2] == "key":
		return a.queryKey(view, parts[1], req.Data, req.Prove)
	case len(parts) == 2 && recordStores[parts[0]] != "":
		if !ledger.ValidID(parts[1]) {
			return badRequest(height, "invalid id %q", parts[1]), nil
		}
		res, err := a.queryKey(view, recordStores[parts[0]], ledger.RecordKey(parts[1]), req.Prove)
		if err == nil && res.Code == 0 && res.Value == nil {
			res.Code = queryCodeNotFound
			res.Log = fmt.Sprintf("%s %q not found at height %d", parts[0], parts[1], height)
		}
		return res, err
	case len(parts) == 1 && (parts[0] == "grants" || parts[0] == "licences" || parts[0] == "payments"):
		var f struct {
			Agency string `json:"agency"`
			Status string `json:"status"`
			After  string `json:"after"`
			Limit  int    `json:"limit"`
		}
		if len(req.Data) > 0 {
			if err := json.Unmarshal(req.Data, &f); err != nil {
				return badRequest(height, "listing filter: %v", err), nil
			}
		}
		page, err := ledger.List(view, strings.TrimSuffix(parts[0], "s"), ledger.ListFilter{Agency: f.Agency, Status: f.Status, After: f.After, Limit: f.Limit})
		return jsonResult(height, page, err)
	case len(parts) == 3 && parts[0] == "grant" && parts[2] == "payments":
		var f struct {
			After string `json:"after"`
			Limit int    `json:"limit"`
		}
		if len(req.Data) > 0 {
			if err := json.Unmarshal(req.Data, &f); err != nil {
				return badRequest(height, "listing filter: %v", err), nil
			}
		}
		page, err := ledger.ListPaymentsOfGrant(view, parts[1], f.After, f.Limit)
		return jsonResult(height, page, err)
	case len(parts) == 3 && parts[0] == "totals":
		res, err := a.queryKey(view, ledger.StoreMeta, ledger.TotalsKey(parts[1], parts[2]), req.Prove)
		if err == nil && res.Code == 0 && res.Value == nil {
			res.Code = queryCodeNotFound
			res.Log = fmt.Sprintf("no totals for %s in %s at height %d", parts[1], parts[2], height)
		}
		return res, err
	case len(parts) == 1 && parts[0] == "agencies":
		var items []json.RawMessage
		err := view.Iterate(ledger.StoreAgencies, nil, nil, func(k, v []byte) bool {
			if string(k) != string(ledger.SeedKey) {
				items = append(items, append([]byte(nil), v...))
			}
			return true
		})
		return jsonResult(height, ledger.Page{Items: items}, err)
	case len(parts) == 2 && parts[0] == "proposal":
		id, perr := strconv.ParseUint(parts[1], 10, 64)
		if perr != nil || id == 0 {
			return badRequest(height, "invalid proposal id %q", parts[1]), nil
		}
		res, err := a.queryKey(view, ledger.StoreMeta, ledger.ProposalKey(id), req.Prove)
		if err == nil && res.Code == 0 && res.Value == nil {
			res.Code = queryCodeNotFound
			res.Log = fmt.Sprintf("proposal %d not found at height %d", id, height)
		}
		return res, err
	case len(parts) == 1 && parts[0] == "proposals":
		var f struct {
			Status string `json:"status"`
			After  uint64 `json:"after"`
			Limit  int    `json:"limit"`
		}
		if len(req.Data) > 0 {
			if err := json.Unmarshal(req.Data, &f); err != nil {
				return badRequest(height, "listing filter: %v", err), nil
			}
		}
		if f.Status != "" && !slices.Contains(ledger.ProposalStatuses, f.Status) {
			return badRequest(height, "status %q is not one of %v", f.Status, ledger.ProposalStatuses), nil
		}
		ps, next, err := ledger.ListProposals(view, f.Status, f.After, f.Limit)
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
		return jsonResult(height, page, nil)
	case len(parts) == 2 && parts[0] == "list":
		var f struct {
			Owner string `json:"owner"`
			After string `json:"after"`
			Limit int    `json:"limit"`
		}
		if len(req.Data) > 0 {
			if err := json.Unmarshal(req.Data, &f); err != nil {
				return badRequest(height, "listing request: %v", err), nil
			}
		}
		page, err := ListingPage(view, parts[1], f.Owner, f.After, f.Limit)
		return jsonResult(height, page, err)
	case len(parts) == 1 && parts[0] == "params":
		return a.queryKey(view, ledger.StoreMeta, ledger.KeyParams, req.Prove)
	}
	return badRequest(height, "unknown query path %q", req.Path), nil
}

func badRequest(height int64, format string, args ...any) *abci.ResponseQuery {
	return &abci.ResponseQuery{Code: queryCodeBadRequest, Log: fmt.Sprintf(format, args...), Height: height, Codespace: Codespace}
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
