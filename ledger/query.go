package ledger

import (
	"bytes"
	"encoding/json"
	"slices"
)

// Page is one page of a listing. Next is the id to pass as "after" for the
// following page, empty on the last page.
type Page struct {
	Items []json.RawMessage `json:"items"`
	Next  string            `json:"next,omitempty"`
}

// ListFilter selects records of one kind owned by one agency (or all
// agencies when Agency is empty), optionally by status, after an id.
type ListFilter struct {
	Agency string
	Status string
	After  string
	Limit  int
	// Budget is the most entries one page may scan (0: DefaultScanBudget).
	// A status filter skips entries it does not return; when the budget is
	// spent the page ends early, with Next set to the last entry scanned,
	// so the time of one query is bounded whatever the filter matches.
	Budget int
}

// DefaultScanBudget is the most index or record entries one listing page
// scans: a page with a status filter may return fewer items than its limit
// (even none) and a Next cursor to continue from.
const DefaultScanBudget = 10 * MaxPageSize

// Page sizes: DefaultPageSize when none is asked, at most MaxPageSize.
const (
	DefaultPageSize = 100
	MaxPageSize     = 500
)

func pageSize(n int) int {
	switch {
	case n <= 0:
		return DefaultPageSize
	case n > MaxPageSize:
		return MaxPageSize
	}
	return n
}

// List returns a page of records of a kind of ListedKinds (KindGrant,
// KindLicence or KindPayment).
// With an agency it walks the agency index (status kept in the index value,
// so filtering reads no record it does not return); without one it walks the
// record store. Either way it scans at most f.Budget entries (see
// DefaultScanBudget): paging on Next until it is empty visits every matching
// record exactly once.
func List(r Reader, kind Kind, f ListFilter) (*Page, error) {
	store := StoreOf(kind)
	if !slices.Contains(ListedKinds, kind) {
		return nil, fieldErr(ErrInvalidField, "kind", "%q (grant, licence or payment)", kind)
	}
	f.Limit = pageSize(f.Limit)
	if f.Agency != "" && !ValidID(f.Agency) {
		return nil, fieldErr(ErrInvalidID, "agency", "%q", f.Agency)
	}
	if f.After != "" && !ValidID(f.After) {
		return nil, fieldErr(ErrInvalidID, "after", "%q", f.After)
	}
	if f.Budget <= 0 {
		f.Budget = DefaultScanBudget
	}
	page := &Page{Items: []json.RawMessage{}}
	var ids []string
	var iterErr error
	scanned := 0
	last := ""
	// match reports whether the entry is listed; the record store decodes
	// a record only under a status filter.
	collect := func(id string, match func() bool) bool {
		if scanned == f.Budget {
			page.Next = last
			return false
		}
		scanned++
		if f.Status != "" && !match() {
			last = id
			return true
		}
		if len(ids) == f.Limit {
			page.Next = ids[len(ids)-1]
			return false
		}
		ids = append(ids, id)
		last = id
		return true
	}
	if f.Agency != "" {
		prefix := IndexByAgency(kind, f.Agency, "")
		start := prefix
		if f.After != "" {
			start = append(append(bytes.Clone(prefix), f.After...), 0)
		}
		iterErr = r.Iterate(StoreIndex, start, PrefixEnd(prefix), func(k, v []byte) bool {
			return collect(string(k[len(prefix):]), func() bool { return string(v) == f.Status })
		})
	} else {
		var start []byte
		if f.After != "" {
			start = append([]byte(f.After), 0)
		}
		iterErr = r.Iterate(store, start, nil, func(k, v []byte) bool {
			if bytes.Equal(k, SeedKey) {
				return true
			}
			return collect(string(k), func() bool {
				var s struct {
					Status string `json:"status"`
				}
				_ = json.Unmarshal(v, &s)
				return s.Status == f.Status
			})
		})
	}
	if iterErr != nil {
		return nil, iterErr
	}
	for _, id := range ids {
		v, err := r.Get(store, RecordKey(id))
		if err != nil {
			return nil, err
		}
		page.Items = append(page.Items, json.RawMessage(v))
	}
	return page, nil
}

// ListPaymentsOfGrant returns a page of the payments made against a grant.
func ListPaymentsOfGrant(r Reader, grant, after string, limit int) (*Page, error) {
	if !ValidID(grant) {
		return nil, fieldErr(ErrInvalidID, "grant", "%q", grant)
	}
	if after != "" && !ValidID(after) {
		return nil, fieldErr(ErrInvalidID, "after", "%q", after)
	}
	limit = pageSize(limit)
	prefix := IndexPaymentByGrant(grant, "")
	start := prefix
	if after != "" {
		start = append(append(bytes.Clone(prefix), after...), 0)
	}
	page := &Page{Items: []json.RawMessage{}}
	var ids []string
	err := r.Iterate(StoreIndex, start, PrefixEnd(prefix), func(k, _ []byte) bool {
		if len(ids) == limit {
			page.Next = ids[len(ids)-1]
			return false
		}
		ids = append(ids, string(k[len(prefix):]))
		return true
	})
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		v, err := r.Get(StorePayments, RecordKey(id))
		if err != nil {
			return nil, err
		}
		page.Items = append(page.Items, v)
	}
	return page, nil
}

// ProvedPage is the answer to the query "/list/<listing>": one page of a
// provable listing (ListingRangeOf) with the proofs that nothing of its range
// was left out, as protobuf ics23 CommitmentProofs. The entries are inside
// the proofs. See package ledger/verify, VerifyListing.
type ProvedPage struct {
	Listing string `json:"listing"`
	Owner   string `json:"owner,omitempty"`
	After   string `json:"after,omitempty"`
	Limit   int    `json:"limit"`
	Height  int64  `json:"height"`
	// Range: compressed batch of NonExistenceProofs in the range's store
	// (IavlSpec): for Start(After), then for each listed key + "\x00".
	Range []byte `json:"range_proof"`
	// RangeStore: the range store's root under the AppHash (TendermintSpec).
	RangeStore []byte `json:"range_store_proof"`
	// Records: compressed batch of ExistenceProofs of each listed id's
	// record in the record store, in listing order (absent when the range's
	// values are the records, or the page is empty); RecordsStore proves
	// that store's root.
	Records      []byte `json:"record_proof,omitempty"`
	RecordsStore []byte `json:"record_store_proof,omitempty"`
}
