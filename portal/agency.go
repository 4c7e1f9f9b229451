package portal

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/ledger"
)

// agenciesView is the list of agencies.
type agenciesView struct {
	Agencies  []ledger.Agency
	CSV, JSON string
}

func (s *server) agencies(w http.ResponseWriter, r *http.Request) {
	height, err := heightParam(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, err := s.c.AgencyList(r.Context(), height)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	cache(w, height > 0)
	switch r.URL.Query().Get("format") {
	case "":
	case "json":
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="agencies-%d.json"`, p.Height))
		_ = json.NewEncoder(w).Encode(struct {
			Height int64             `json:"height"`
			Items  []json.RawMessage `json:"items"`
		}{p.Height, p.Items})
		return
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="agencies-%d.csv"`, p.Height))
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"id", "name", "jurisdiction", "power", "validator_key", "officers", "joined_height", "removed_height"})
		for _, raw := range p.Items {
			var a ledger.Agency
			if json.Unmarshal(raw, &a) != nil {
				continue
			}
			i := func(n int64) string { return strconv.FormatInt(n, 10) }
			_ = cw.Write([]string{csvSafe(a.ID), csvSafe(a.Name), csvSafe(a.Jurisdiction), i(a.Power), base64.StdEncoding.EncodeToString(a.ValidatorKey),
				strconv.Itoa(len(a.Officers)), i(a.Joined), i(a.Removed)})
		}
		cw.Flush()
		return
	default:
		s.fail(w, r, &pageError{status: http.StatusBadRequest, key: "err.badrequest", detail: "format"})
		return
	}
	v := &agenciesView{}
	hq := "height=" + strconv.FormatInt(p.Height, 10)
	v.CSV, v.JSON = "/agencies?"+hq+"&format=csv", "/agencies?"+hq+"&format=json"
	for _, raw := range p.Items {
		var a ledger.Agency
		if err := json.Unmarshal(raw, &a); err != nil {
			s.fail(w, r, badRecordErr(err))
			return
		}
		v.Agencies = append(v.Agencies, a)
	}
	s.render(w, r, "agencies", &view{Title: s.texts.get("agencies.title"), Height: p.Height, At: height > 0, Data: v})
}

// agencyView is an agency's page.
type agencyView struct {
	Agency   ledger.Agency
	Fields   []field
	Officers []officerRow
	Totals   agencyTotals
	Lists    []*listView
	Signing  *signingView
}

type officerRow struct{ Name, Key, Roles string }

// signingView is whether an agency's validator signed the latest blocks.
type signingView struct {
	Window int
	Signed int
	Missed []int64
	From   int64
	To     int64
}

func (s *server) agency(w http.ResponseWriter, r *http.Request) {
	id, height, ok := s.recordParams(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	a, h, err := s.c.Agency(ctx, id, height)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	t := s.texts
	v := &agencyView{Agency: *a}
	addr := ""
	if len(a.ValidatorKey) == cmted25519.PubKeySize {
		addr = cmted25519.PubKey(a.ValidatorKey).Address().String()
	}
	v.Fields = []field{
		{Label: t.get("f.id"), Value: a.ID},
		{Label: t.get("f.name"), Value: a.Name},
		{Label: t.get("f.jurisdiction"), Value: a.Jurisdiction},
		{Label: t.get("f.power"), Value: strconv.FormatInt(a.Power, 10)},
		{Label: t.get("f.validator"), Value: base64.StdEncoding.EncodeToString(a.ValidatorKey), Hash: true},
		{Label: t.get("f.validator.addr"), Value: addr, Hash: true},
	}
	if a.Joined > 0 {
		v.Fields = append(v.Fields, field{Label: t.get("f.joined"), Value: strconv.FormatInt(a.Joined, 10)})
	}
	if a.Removed > 0 {
		v.Fields = append(v.Fields, field{Label: t.get("f.removed"), Value: strconv.FormatInt(a.Removed, 10)})
	}
	for _, o := range a.Officers {
		roles := make([]string, len(o.Roles))
		for i, r := range o.Roles {
			roles[i] = string(r)
		}
		v.Officers = append(v.Officers, officerRow{Name: o.Name, Key: base64.StdEncoding.EncodeToString(o.Key), Roles: strings.Join(roles, ", ")})
	}
	if v.Totals, err = s.totals(ctx, *a, h); err != nil {
		s.fail(w, r, err)
		return
	}
	for _, kind := range kinds {
		p, err := s.c.Records(ctx, ledger.Kind(kind), client.ListFilter{Agency: id, Limit: 10}, h)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		q := url.Values{"kind": {kind}, "agency": {id}, "height": {strconv.FormatInt(h, 10)}}
		lv := &listView{Kind: kind, Complete: p.Next == "", More: "/search?" + q.Encode()}
		q.Set("format", "csv")
		lv.CSV = "/search?" + q.Encode()
		q.Set("format", "json")
		lv.JSON = "/search?" + q.Encode()
		for _, raw := range p.Items {
			rw, err := decodeRow(t, kind, raw)
			if err != nil {
				s.fail(w, r, badRecordErr(err))
				return
			}
			lv.Rows = append(lv.Rows, rw)
		}
		v.Lists = append(v.Lists, lv)
	}
	if addr != "" {
		v.Signing = s.signing(ctx, addr, h)
	}
	cache(w, height > 0)
	s.render(w, r, "agency", &view{Title: a.Name, Height: h, At: height > 0, Data: v})
}

// signing reads the commits of the signingWindow blocks up to height h
// and reports which the validator at addr signed (nil if the node could
// not tell).
func (s *server) signing(ctx context.Context, addr string, h int64) *signingView {
	st, err := s.c.Status(ctx)
	if err != nil {
		return nil
	}
	// The commit of block h is in block h+1: read up to the latest
	// block that has one.
	to := min(h, st.SyncInfo.LatestBlockHeight-1)
	if to < 1 {
		return nil
	}
	v := &signingView{To: to, From: max(1, to-signingWindow+1)}
	for hh := v.From; hh <= to; hh++ {
		x := hh
		c, err := s.c.RPC().Commit(ctx, &x)
		if err != nil || c.SignedHeader.Commit == nil {
			return nil
		}
		v.Window++
		signed := false
		for _, sig := range c.SignedHeader.Commit.Signatures {
			if sig.BlockIDFlag == cmttypes.BlockIDFlagCommit && sig.ValidatorAddress.String() == addr {
				signed = true
			}
		}
		if signed {
			v.Signed++
		} else {
			v.Missed = append(v.Missed, hh)
		}
	}
	return v
}
