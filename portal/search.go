package portal

import (
	"context"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/ledger"
)

// searchQuery is a search as its URL gives it.
type searchQuery struct {
	Kind      string // grant, licence or payment
	Q         string // id, name or identifier of the party (substring, any case)
	Agency    string
	Status    string
	Programme string // programme of a grant, type of a licence (substring)
	Grant     string // payments under this grant
	From, To  string // YYYY-MM-DD, inclusive
	After     string // continue after this record id
	Limit     int
	Height    int64
	Format    string // "", "csv" or "json"
}

// kinds are the kinds of record a search lists.
var kinds = []string{"grant", "licence", "payment"}

// statuses are the statuses of each kind, as the node stores them.
var statuses = map[string][]string{
	"grant":   ledger.StatusesOf(ledger.KindGrant),
	"licence": ledger.StatusesOf(ledger.KindLicence),
	"payment": ledger.StatusesOf(ledger.KindPayment),
}

func parseSearch(r *http.Request) (searchQuery, error) {
	v := r.URL.Query()
	q := searchQuery{
		Kind: v.Get("kind"), Q: strings.TrimSpace(v.Get("q")), Agency: strings.TrimSpace(v.Get("agency")),
		Status: v.Get("status"), Programme: strings.TrimSpace(v.Get("programme")), Grant: strings.TrimSpace(v.Get("grant")),
		From: strings.TrimSpace(v.Get("from")), To: strings.TrimSpace(v.Get("to")), After: v.Get("after"), Format: v.Get("format"),
		Limit: DefaultPageSize,
	}
	bad := func(what string) error {
		return &pageError{status: http.StatusBadRequest, key: "err.badrequest", detail: what}
	}
	if q.Kind == "" {
		q.Kind = "grant"
		if q.Grant != "" {
			q.Kind = "payment"
		}
	}
	switch q.Kind {
	case "grant", "licence", "payment":
	default:
		return q, bad("kind")
	}
	if q.Grant != "" && q.Kind != "payment" {
		return q, bad("grant")
	}
	if q.Status != "" && !contains(statuses[q.Kind], q.Status) {
		return q, bad("status")
	}
	for _, id := range []string{q.Agency, q.Grant, q.After} {
		if id != "" && !ledger.ValidID(id) {
			return q, bad("id")
		}
	}
	for _, d := range []string{q.From, q.To} {
		if d != "" {
			if _, err := time.Parse(time.DateOnly, d); err != nil {
				return q, &pageError{status: http.StatusBadRequest, key: "err.badrequest", detail: "date"}
			}
		}
	}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return q, bad("limit")
		}
		q.Limit = min(n, MaxPageSize)
	}
	if q.Format == "" {
		q.Limit = min(q.Limit, MaxPageRows)
	}
	switch q.Format {
	case "", "csv", "json":
	default:
		return q, bad("format")
	}
	h, err := heightParam(r)
	q.Height = h
	return q, err
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// values is the query as URL parameters, without the cursor and format.
func (q searchQuery) values() url.Values {
	v := url.Values{"kind": {q.Kind}}
	for k, s := range map[string]string{"q": q.Q, "agency": q.Agency, "status": q.Status, "programme": q.Programme,
		"grant": q.Grant, "from": q.From, "to": q.To} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.Limit != DefaultPageSize {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Height > 0 {
		v.Set("height", strconv.FormatInt(q.Height, 10))
	}
	return v
}

// local reports whether the query filters on what the node cannot.
func (q searchQuery) local() bool {
	return q.Q != "" || q.Programme != "" || q.From != "" || q.To != "" || (q.Grant != "" && (q.Status != "" || q.Agency != ""))
}

// matches reports whether a record meets the filters the node does not
// apply itself.
func (q searchQuery) matches(kind string, raw json.RawMessage) (bool, string, error) {
	var r struct {
		ID           string       `json:"id"`
		Agency       string       `json:"agency"`
		Status       string       `json:"status"`
		Programme    string       `json:"programme"`
		LicenceType  string       `json:"licence_type"`
		DecisionDate string       `json:"decision_date"`
		Date         string       `json:"date"`
		Recipient    ledger.Party `json:"recipient"`
		Holder       ledger.Party `json:"holder"`
		Payee        ledger.Party `json:"payee"`
		Grant        string       `json:"grant"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return false, "", err
	}
	party, programme, date := r.Recipient, r.Programme, r.DecisionDate
	switch kind {
	case "licence":
		party, programme = r.Holder, r.LicenceType
	case "payment":
		party, programme, date = r.Payee, r.Grant, r.Date
	}
	if (q.Status != "" && r.Status != q.Status) || (q.Agency != "" && r.Agency != q.Agency) {
		return false, r.ID, nil
	}
	if q.Q != "" {
		needle := strings.ToLower(q.Q)
		hit := false
		for _, hay := range []string{r.ID, party.DisplayName(), party.ID, party.Scheme + " " + party.ID, party.Ref()} {
			if strings.Contains(strings.ToLower(hay), needle) {
				hit = true
				break
			}
		}
		if !hit {
			return false, r.ID, nil
		}
	}
	if q.Programme != "" && !strings.Contains(strings.ToLower(programme), strings.ToLower(q.Programme)) {
		return false, r.ID, nil
	}
	if q.From != "" && date < q.From {
		return false, r.ID, nil
	}
	if q.To != "" && date > q.To {
		return false, r.ID, nil
	}
	return true, r.ID, nil
}

// searchResult is one page of a search.
type searchResult struct {
	Height   int64
	Items    []json.RawMessage // as the node served them
	Next     string            // the record id to continue after ("": the end)
	Scanned  int
	CutShort bool // the scan budget ran out before the page filled
}

// maxNodeCalls bounds the listing queries of one search request.
const maxNodeCalls = 20

// run reads listing pages from the node, the node filtering by agency and
// status (or grant), and keeps the records that match the rest, until
// the page is full, the listing ends, or the scan budget is spent.
func (s *server) run(ctx context.Context, q searchQuery) (*searchResult, error) {
	res := &searchResult{Items: []json.RawMessage{}, Height: q.Height}
	after := q.After
	local := q.local()
	for calls := 0; ; calls++ {
		left := s.opts.ScanBudget - res.Scanned
		if left <= 0 || calls == maxNodeCalls {
			res.CutShort, res.Next = true, after
			return res, nil
		}
		lim := min(left, ledger.MaxPageSize)
		if !local {
			lim = q.Limit - len(res.Items)
		}
		f := client.ListFilter{Agency: q.Agency, Status: q.Status, After: after, Limit: lim}
		var p *client.Page
		var err error
		if q.Grant != "" {
			f.Status = "" // the node lists a grant's payments unfiltered
			p, err = s.c.GrantPayments(ctx, q.Grant, f, res.Height)
		} else {
			p, err = s.c.Records(ctx, ledger.Kind(q.Kind), f, res.Height)
		}
		if err != nil {
			return nil, err
		}
		res.Height = p.Height
		for i, raw := range p.Items {
			res.Scanned++
			ok, id, err := q.matches(q.Kind, raw)
			if err != nil {
				return nil, badRecordErr(err)
			}
			after = id
			if !ok {
				continue
			}
			res.Items = append(res.Items, raw)
			if len(res.Items) == q.Limit {
				if i < len(p.Items)-1 || p.Next != "" {
					res.Next = id
				}
				return res, nil
			}
		}
		if p.Next == "" {
			return res, nil
		}
		after = p.Next
	}
}

func badRecordErr(err error) error {
	return &pageError{status: http.StatusBadGateway, key: "err.badgateway", err: err}
}

// searchView is the search page.
type searchView struct {
	Q         searchQuery
	Kinds     []string
	Statuses  map[string][]string
	Agencies  []ledger.Agency
	Searched  bool
	Result    *searchResult
	Rows      []row
	Exact     []row
	TxHash    string
	NextLink  string
	FirstLink string
	CSV, JSON string
	BadInput  string
}

func (s *server) search(w http.ResponseWriter, r *http.Request) {
	q, err := parseSearch(r)
	if err != nil && q.Format != "" {
		s.fail(w, r, err)
		return
	}
	ctx := r.Context()
	v := &searchView{Q: q, Kinds: kinds, Statuses: statuses}
	if err != nil {
		// Show the form again with what was wrong.
		var pe *pageError
		if errors.As(err, &pe) && pe.detail == "date" {
			v.BadInput = s.texts.get("search.baddate")
		} else {
			s.fail(w, r, err)
			return
		}
	}
	v.Searched = len(r.URL.Query()) > 0 && v.BadInput == ""
	if v.Searched {
		res, err := s.run(ctx, q)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		v.Result = res
		if q.Format != "" {
			s.download(w, r, q, res)
			return
		}
		for _, raw := range res.Items {
			rw, err := decodeRow(s.texts, q.Kind, raw)
			if err != nil {
				s.fail(w, r, badRecordErr(err))
				return
			}
			v.Rows = append(v.Rows, rw)
		}
		pinned := q
		pinned.Height = res.Height
		base := pinned.values()
		if res.Next != "" {
			nv := pinned.values()
			nv.Set("after", res.Next)
			v.NextLink = "/search?" + nv.Encode()
		}
		if q.After != "" {
			v.FirstLink = "/search?" + base.Encode()
		}
		dl := pinned.values()
		if q.After != "" {
			dl.Set("after", q.After)
		}
		dl.Set("format", "csv")
		v.CSV = "/search?" + dl.Encode()
		dl.Set("format", "json")
		v.JSON = "/search?" + dl.Encode()
		if q.After == "" && q.Q != "" {
			v.Exact = s.exact(ctx, q.Q, res.Height)
			if len(q.Q) == 64 {
				if _, err := hex.DecodeString(q.Q); err == nil {
					v.TxHash = strings.ToUpper(q.Q)
				}
			}
		}
	}
	if ag, err := s.c.AgencyList(ctx, v.height()); err == nil {
		for _, raw := range ag.Items {
			var a ledger.Agency
			if json.Unmarshal(raw, &a) == nil {
				v.Agencies = append(v.Agencies, a)
			}
		}
	} else if !v.Searched {
		s.fail(w, r, err)
		return
	}
	status := http.StatusOK
	if v.BadInput != "" {
		status = http.StatusBadRequest
	}
	cache(w, q.Height > 0)
	s.renderStatus(w, r, status, "search", &view{Title: s.texts.get("search.title"), Height: v.height(), At: q.Height > 0, Data: v})
}

func (v *searchView) height() int64 {
	if v.Result != nil {
		return v.Result.Height
	}
	return v.Q.Height
}

// exact finds the records of every kind whose id is q.
func (s *server) exact(ctx context.Context, q string, h int64) []row {
	if !ledger.ValidID(q) {
		return nil
	}
	var out []row
	for _, k := range kinds {
		raw, _, err := s.c.Record(ctx, ledger.Kind(k), q, h)
		if err != nil {
			continue
		}
		if rw, err := decodeRow(s.texts, k, raw); err == nil {
			out = append(out, rw)
		}
	}
	return out
}

// csvColumns are the columns of each kind's CSV download: the record's
// JSON fields (parties split in three), amounts in minor units.
var csvColumns = map[string][]string{
	"grant": {"id", "agency", "recipient_name", "recipient_scheme", "recipient_id", "programme", "purpose", "awarded", "currency",
		"period_start", "period_end", "decision_date", "status", "disbursed", "payments", "document_hash", "amendment_document_hash",
		"created_height", "updated_height"},
	"licence": {"id", "agency", "holder_name", "holder_scheme", "holder_id", "licence_type", "scope", "valid_from", "valid_until",
		"decision_date", "status", "conditions_hash", "renewal_document_hash", "created_height", "updated_height"},
	"payment": {"id", "agency", "payee_name", "payee_scheme", "payee_id", "amount", "currency", "date", "purpose", "grant",
		"status", "created_height", "updated_height"},
}

// CSVRecord flattens a record as the node served it into the columns of
// its kind's CSV download (the values as the node stores them; a cell a
// spreadsheet would run as a formula is prefixed with a quote).
func CSVRecord(kind string, raw json.RawMessage) ([]string, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	flat := map[string]string{}
	for k, v := range m {
		var p ledger.Party
		if (k == "recipient" || k == "holder" || k == "payee") && json.Unmarshal(v, &p) == nil {
			flat[k+"_name"], flat[k+"_scheme"], flat[k+"_id"] = p.Name, p.Scheme, p.ID
			if in := p.Individual; in != nil { // the label only, as the open-data CSV files show it
				flat[k+"_name"], flat[k+"_scheme"], flat[k+"_id"] = in.Label, "individual", in.Commitment
			}
			continue
		}
		var str string
		if json.Unmarshal(v, &str) == nil {
			flat[k] = str
			continue
		}
		flat[k] = string(v)
	}
	cols := csvColumns[kind]
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = csvSafe(flat[c])
	}
	return out, nil
}

// csvSafe keeps a cell from being run as a formula by a spreadsheet.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// download writes a search page as CSV or JSON.
func (s *server) download(w http.ResponseWriter, r *http.Request, q searchQuery, res *searchResult) {
	name := fmt.Sprintf("%ss-%d", q.Kind, res.Height)
	cache(w, q.Height > 0)
	if q.Format == "json" {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.json"`)
		_ = json.NewEncoder(w).Encode(struct {
			Kind     string            `json:"kind"`
			Height   int64             `json:"height"`
			Items    []json.RawMessage `json:"items"`
			Next     string            `json:"next,omitempty"`
			CutShort bool              `json:"cut_short,omitempty"`
		}{q.Kind, res.Height, res.Items, res.Next, res.CutShort})
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write(csvColumns[q.Kind])
	for _, raw := range res.Items {
		rec, err := CSVRecord(q.Kind, raw)
		if err != nil {
			continue
		}
		_ = cw.Write(rec)
	}
	cw.Flush()
}
