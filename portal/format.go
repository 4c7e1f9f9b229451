package portal

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/url"
	"strconv"
	"time"

	"github.com/civicledger/civicledger/ledger"
)

// funcs are the template functions: texts and formatting.
func funcs(c catalogue) template.FuncMap {
	return template.FuncMap{
		"t":      c.get,
		"tf":     c.getf,
		"status": func(s string) string { return statusLabel(c, s) },
		"kinds":  func(k string) string { return c.get("kinds." + k) },
		"kind":   func(k string) string { return c.get("kind." + k) },
		"rowsOf": func(kind string, rows []row) *listView { return &listView{Kind: kind, Rows: rows} },
	}
}

// statusLabel is a status in plain words, the stored word when the
// catalogue has none.
func statusLabel[S ~string](c catalogue, s S) string {
	if t, ok := c.texts["status."+string(s)]; ok {
		return t
	}
	return string(s)
}

// actionLabel is what a transaction did to a record, in plain words (the
// event's action word when the catalogue has none).
func actionLabel(c catalogue, a string) string {
	if t, ok := c.texts["action."+a]; ok {
		return t
	}
	return a
}

// field is one labelled value of a record page.
type field struct {
	Label string
	Value string
	Href  string // a link, if the value names another page
	Hash  bool   // a long code: shown in a monospace font that wraps
}

// row is one record in a list.
type row struct {
	Kind, ID, Href, Agency, Party, PartyID, Programme, Amount, Status, Date string
}

func money(a ledger.Amount, currency string) string { return ledger.FormatMoney(int64(a), currency) }

// partyID is a party's registered identifier; a natural person has none on
// chain (it shows by its public label only).
func partyID(p ledger.Party) string {
	if p.Individual != nil {
		return ""
	}
	if p.Scheme == "" {
		return p.ID
	}
	return p.Scheme + " " + p.ID
}

// recordPath is the page of a record.
func recordPath(kind, id string) string { return "/" + kind + "/" + url.PathEscape(id) }

// atPath is a record's page at a height.
func atPath(kind, id string, h int64) string {
	return recordPath(kind, id) + "?height=" + strconv.FormatInt(h, 10)
}

// decodeRow makes the list row of one record as the node served it.
func decodeRow(c catalogue, kind string, raw json.RawMessage) (row, error) {
	switch kind {
	case "grant":
		var g ledger.Grant
		if err := json.Unmarshal(raw, &g); err != nil {
			return row{}, err
		}
		return grantRow(c, &g), nil
	case "licence":
		var l ledger.Licence
		if err := json.Unmarshal(raw, &l); err != nil {
			return row{}, err
		}
		return licenceRow(c, &l), nil
	default:
		var p ledger.Payment
		if err := json.Unmarshal(raw, &p); err != nil {
			return row{}, err
		}
		return paymentRow(c, &p), nil
	}
}

func grantRow(c catalogue, g *ledger.Grant) row {
	return row{Kind: "grant", ID: g.ID, Href: recordPath("grant", g.ID), Agency: g.Agency, Party: g.Recipient.DisplayName(),
		PartyID: partyID(g.Recipient), Programme: g.Programme, Amount: money(g.Awarded, g.Currency),
		Status: statusLabel(c, g.Status), Date: g.DecisionDate}
}

func licenceRow(c catalogue, l *ledger.Licence) row {
	return row{Kind: "licence", ID: l.ID, Href: recordPath("licence", l.ID), Agency: l.Agency, Party: l.Holder.DisplayName(),
		PartyID: partyID(l.Holder), Programme: l.LicenceType, Status: statusLabel(c, l.Status), Date: l.DecisionDate}
}

func paymentRow(c catalogue, p *ledger.Payment) row {
	return row{Kind: "payment", ID: p.ID, Href: recordPath("payment", p.ID), Agency: p.Agency, Party: p.Payee.DisplayName(),
		PartyID: partyID(p.Payee), Programme: p.Grant, Amount: money(p.Amount, p.Currency),
		Status: statusLabel(c, p.Status), Date: p.Date}
}

// blockTimes returns the time of each height's block, as far as the node
// answers within ctx (a missing time shows empty).
func (s *server) blockTimes(ctx context.Context, heights []int64) map[int64]string {
	out := map[int64]string{}
	for _, h := range heights {
		if _, ok := out[h]; ok || h < 1 {
			continue
		}
		hh := h
		res, err := s.c.RPC().Header(ctx, &hh)
		if err != nil || res.Header == nil {
			out[h] = ""
			continue
		}
		out[h] = res.Header.Time.UTC().Format(time.DateTime)
	}
	return out
}

// officerName names an officer's key from names (base64 keys, as
// client.OfficerNames gives them, or raw keys as strings).
func officerName(c catalogue, names map[string]string, key []byte) string {
	if n, ok := names[string(key)]; ok && n != "" {
		return n + " (" + base64.StdEncoding.EncodeToString(key) + ")"
	}
	return c.get("unknown.officer") + " (" + base64.StdEncoding.EncodeToString(key) + ")"
}
