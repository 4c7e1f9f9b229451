package ledger

import (
	"bytes"
	"encoding/json"
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
}

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

// List returns a page of records of kind ("grant", "licence" or "payment").
// With an agency it walks the agency index (status kept in the index value,
// so filtering reads no record it does not return); without one it walks the
// record store.
func List(r Reader, kind string, f ListFilter) (*Page, error) {
	store := map[string]string{"grant": StoreGrants, "licence": StoreLicences, "payment": StorePayments}[kind]
	if store == "" {
		return nil, fieldErr(ErrInvalidField, "kind", "%q (grant, licence or payment)", kind)
	}
	f.Limit = pageSize(f.Limit)
	if f.Agency != "" && !ValidID(f.Agency) {
		return nil, fieldErr(ErrInvalidID, "agency", "%q", f.Agency)
	}
	if f.After != "" && !ValidID(f.After) {
		return nil, fieldErr(ErrInvalidID, "after", "%q", f.After)
	}
	page := &Page{Items: []json.RawMessage{}}
	var ids []string
	var iterErr error
	collect := func(id string, status []byte) bool {
		if f.Status != "" && string(status) != f.Status {
			return true
		}
		if len(ids) == f.Limit {
			page.Next = ids[len(ids)-1]
			return false
		}
		ids = append(ids, id)
		return true
	}
	if f.Agency != "" {
		prefix := []byte(kind + "/agency/" + f.Agency + "/")
		start := prefix
		if f.After != "" {
			start = append(append(bytes.Clone(prefix), f.After...), 0)
		}
		iterErr = r.Iterate(StoreIndex, start, PrefixEnd(prefix), func(k, v []byte) bool {
			return collect(string(k[len(prefix):]), v)
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
			var s struct {
				Status string `json:"status"`
			}
			_ = json.Unmarshal(v, &s)
			return collect(string(k), []byte(s.Status))
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
	prefix := []byte("payment/grant/" + grant + "/")
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
