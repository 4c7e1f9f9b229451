package portal

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/ledger"
)

// recordView is the page of one grant, licence or payment.
type recordView struct {
	Kind     string
	ID       string
	Heading  string
	Status   string
	Fields   []field
	History  *historyView
	Payments *listView // a grant's payments
	Latest   string    // the record's page at the latest height (when read at one)
	AtLink   string    // the permanent link of this version
	Agency   string
}

// historyView is a record's changes, oldest first.
type historyView struct {
	Rows    []historyRow
	Total   int
	Cut     bool
	NoIndex bool
}

type historyRow struct {
	Height  int64
	Time    string
	Hash    string
	What    string
	Changes []string
	Reason  string
	AtLink  string
}

// listView is a list of records with its download links.
type listView struct {
	Kind     string
	Rows     []row
	More     string // the search page listing the rest
	CSV      string
	JSON     string
	Complete bool
}

func (s *server) grant(w http.ResponseWriter, r *http.Request) {
	id, height, ok := s.recordParams(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	g, h, err := s.c.Grant(ctx, id, height)
	if err != nil {
		s.failRecord(w, r, "grant", id, height, err)
		return
	}
	t := s.texts
	v := &recordView{Kind: "grant", ID: g.ID, Heading: t.get("kind.grant") + " " + g.ID, Status: statusLabel(t, g.Status), Agency: g.Agency}
	v.Fields = []field{
		{Label: t.get("f.id"), Value: g.ID},
		{Label: t.get("f.agency"), Value: g.Agency, Href: recordPath("agency", g.Agency)},
		{Label: t.get("f.recipient"), Value: g.Recipient.DisplayName()},
		{Label: t.get("f.party.id"), Value: partyID(g.Recipient)},
		{Label: t.get("f.programme"), Value: g.Programme},
		{Label: t.get("f.purpose"), Value: g.Purpose},
		{Label: t.get("f.currency"), Value: g.Currency},
		{Label: t.get("f.awarded"), Value: money(g.Awarded, g.Currency)},
		{Label: t.get("f.disbursed"), Value: money(g.Disbursed, g.Currency)},
		{Label: t.get("f.remaining"), Value: money(g.Awarded-g.Disbursed, g.Currency)},
		{Label: t.get("f.payments"), Value: strconv.FormatInt(g.Payments, 10)},
		{Label: t.get("f.period"), Value: g.PeriodStart + " – " + g.PeriodEnd},
		{Label: t.get("f.decision"), Value: g.DecisionDate},
		{Label: t.get("f.status"), Value: statusLabel(t, g.Status)},
		{Label: t.get("f.document"), Value: g.DocumentHash, Hash: true},
	}
	if g.AmendmentHash != "" {
		v.Fields = append(v.Fields, field{Label: t.get("f.amendment"), Value: g.AmendmentHash, Hash: true})
	}
	v.Fields = append(v.Fields, s.heightFields(g.Created, g.Updated)...)
	pays, err := s.c.GrantPayments(ctx, id, client.ListFilter{Limit: DefaultPageSize}, h)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := url.Values{"kind": {"payment"}, "grant": {id}, "height": {strconv.FormatInt(h, 10)}}
	v.Payments = &listView{Kind: "payment", Complete: pays.Next == "", More: "/search?" + q.Encode()}
	q.Set("format", "csv")
	v.Payments.CSV = "/search?" + q.Encode()
	q.Set("format", "json")
	v.Payments.JSON = "/search?" + q.Encode()
	for _, raw := range pays.Items {
		rw, err := decodeRow(t, "payment", raw)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		v.Payments.Rows = append(v.Payments.Rows, rw)
	}
	s.finishRecord(w, r, v, height, h)
}

func (s *server) licence(w http.ResponseWriter, r *http.Request) {
	id, height, ok := s.recordParams(w, r)
	if !ok {
		return
	}
	l, h, err := s.c.Licence(r.Context(), id, height)
	if err != nil {
		s.failRecord(w, r, "licence", id, height, err)
		return
	}
	t := s.texts
	v := &recordView{Kind: "licence", ID: l.ID, Heading: t.get("kind.licence") + " " + l.ID, Status: statusLabel(t, l.Status), Agency: l.Agency}
	v.Fields = []field{
		{Label: t.get("f.id"), Value: l.ID},
		{Label: t.get("f.agency"), Value: l.Agency, Href: recordPath("agency", l.Agency)},
		{Label: t.get("f.holder"), Value: l.Holder.DisplayName()},
		{Label: t.get("f.party.id"), Value: partyID(l.Holder)},
		{Label: t.get("f.licence_type"), Value: l.LicenceType},
		{Label: t.get("f.scope"), Value: l.Scope},
		{Label: t.get("f.valid"), Value: l.ValidFrom + " – " + l.ValidUntil},
		{Label: t.get("f.decision"), Value: l.DecisionDate},
		{Label: t.get("f.status"), Value: statusLabel(t, l.Status)},
		{Label: t.get("f.conditions"), Value: l.ConditionsHash, Hash: true},
	}
	if l.RenewalHash != "" {
		v.Fields = append(v.Fields, field{Label: t.get("f.renewal"), Value: l.RenewalHash, Hash: true})
	}
	v.Fields = append(v.Fields, s.heightFields(l.Created, l.Updated)...)
	s.finishRecord(w, r, v, height, h)
}

func (s *server) payment(w http.ResponseWriter, r *http.Request) {
	id, height, ok := s.recordParams(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	p, h, err := s.c.Payment(ctx, id, height)
	if err != nil {
		s.failRecord(w, r, "payment", id, height, err)
		return
	}
	t := s.texts
	v := &recordView{Kind: "payment", ID: p.ID, Heading: t.get("kind.payment") + " " + p.ID, Status: statusLabel(t, p.Status), Agency: p.Agency}
	v.Fields = []field{
		{Label: t.get("f.id"), Value: p.ID},
		{Label: t.get("f.agency"), Value: p.Agency, Href: recordPath("agency", p.Agency)},
		{Label: t.get("f.payee"), Value: p.Payee.DisplayName()},
		{Label: t.get("f.party.id"), Value: partyID(p.Payee)},
		{Label: t.get("f.currency"), Value: p.Currency},
		{Label: t.get("f.amount"), Value: money(p.Amount, p.Currency)},
		{Label: t.get("f.date"), Value: p.Date},
		{Label: t.get("f.purpose"), Value: p.Purpose},
	}
	if p.Grant != "" {
		v.Fields = append(v.Fields, field{Label: t.get("f.grant"), Value: p.Grant, Href: recordPath("grant", p.Grant)})
	}
	v.Fields = append(v.Fields, field{Label: t.get("f.status"), Value: statusLabel(t, p.Status)})
	names := s.c.OfficerNames(ctx, p.Agency, h)
	for _, k := range p.Approved {
		v.Fields = append(v.Fields, field{Label: t.get("f.approved"), Value: officerName(t, names, k), Hash: true})
	}
	v.Fields = append(v.Fields, s.heightFields(p.Created, p.Updated)...)
	s.finishRecord(w, r, v, height, h)
}

func (s *server) heightFields(created, updated int64) []field {
	t := s.texts
	return []field{
		{Label: t.get("f.created"), Value: strconv.FormatInt(created, 10)},
		{Label: t.get("f.updated"), Value: strconv.FormatInt(updated, 10)},
	}
}

// failRecord answers a record page that cannot be shown; a record that
// does not exist gets the not-found page with the proof of its absence to
// verify.
func (s *server) failRecord(w http.ResponseWriter, r *http.Request, kind, id string, height int64, err error) {
	if !errors.Is(err, client.ErrNotFound) {
		s.fail(w, r, err)
		return
	}
	pe := classify(err)
	w.Header().Set("Cache-Control", "no-store")
	s.renderStatus(w, r, pe.status, "error", &view{
		Title: s.texts.get(pe.key + ".title"),
		Data:  struct{ Message, Detail string }{s.texts.get(pe.key), pe.detail},
		Check: s.check(kind, id, height),
	})
}

// finishRecord adds the record's history (up to height h when the page
// was asked at a height) and renders the page.
func (s *server) finishRecord(w http.ResponseWriter, r *http.Request, v *recordView, asked, h int64) {
	hv, err := s.history(r.Context(), v.Kind, v.ID, asked)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v.History = hv
	v.AtLink = atPath(v.Kind, v.ID, h)
	if asked > 0 {
		v.Latest = recordPath(v.Kind, v.ID)
	}
	cache(w, asked > 0)
	s.render(w, r, "record", &view{Title: v.Heading, Height: h, At: asked > 0, Data: v, Check: s.check(v.Kind, v.ID, h)})
}

// history reads a record's history: the latest Options.HistoryRows transactions
// that touched it (up to height upTo, if not 0), with what each changed and
// the time of its block, and how many there are in all.
func (s *server) history(ctx context.Context, kind, id string, upTo int64) (*historyView, error) {
	hist, total, err := s.recentHistory(ctx, kind, id, upTo, s.opts.HistoryRows)
	if errors.Is(err, client.ErrNoTxIndex) {
		return &historyView{NoIndex: true}, nil
	}
	if err != nil {
		return nil, err
	}
	hv := &historyView{Total: total, Cut: total > len(hist)}
	if err := s.c.HistoryChanges(ctx, ledger.Kind(kind), id, hist); err != nil {
		return nil, err
	}
	heights := make([]int64, 0, len(hist))
	for _, e := range hist {
		heights = append(heights, e.Height)
	}
	times := s.blockTimes(ctx, heights)
	t := s.texts
	for _, e := range hist {
		row := historyRow{Height: e.Height, Time: times[e.Height], Hash: e.Hash, Reason: e.Reason, AtLink: atPath(kind, id, e.Height)}
		row.What = actionLabel(t, e.Action)
		if e.Status != "" {
			row.What += " — " + t.get("f.status") + ": " + statusLabel(t, e.Status)
		}
		if e.Created {
			row.Changes = append(row.Changes, t.get("created"))
		}
		for _, c := range e.Changes {
			row.Changes = append(row.Changes, c.String())
		}
		hv.Rows = append(hv.Rows, row)
	}
	return hv, nil
}

// recordParams reads a record page's id (from its path) and ?height; on a
// bad one it writes the error page and returns ok = false.
func (s *server) recordParams(w http.ResponseWriter, r *http.Request) (id string, height int64, ok bool) {
	id = r.PathValue("id")
	height, err := heightParam(r)
	if err == nil {
		err = validID(id)
	}
	if err != nil {
		s.fail(w, r, err)
		return "", 0, false
	}
	return id, height, true
}
