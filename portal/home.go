package portal

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/ledger"
)

const latestShown = 10

// totalsScan is the most records of each kind read to find the
// currencies of an agency's totals.
const totalsScan = ledger.MaxPageSize

// homeView is the home page.
type homeView struct {
	ChainID   string
	Latest    int64
	Time      string
	Changes   []change
	NoIndex   bool
	Agencies  []agencyTotals
	TotalsCut bool
}

// change is one transaction of the latest changes.
type change struct {
	Height  int64
	Time    string
	Hash    string
	Type    string
	Agency  string
	Records []recordLink
}

type recordLink struct{ Kind, ID, Href string }

// agencyTotals is an agency's totals in every currency it used.
type agencyTotals struct {
	Agency ledger.Agency
	Totals []totalsRow
	Cut    bool
}

type totalsRow struct {
	Currency, Awarded, Paid, PaidAgainstGrant, Reversed string
	Grants, Payments, Reversals                         int64
}

func (s *server) home(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	st, err := s.c.Status(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := &homeView{ChainID: st.NodeInfo.Network, Latest: st.SyncInfo.LatestBlockHeight,
		Time: st.SyncInfo.LatestBlockTime.UTC().Format(time.DateTime)}
	ags, err := s.c.AgencyList(ctx, 0)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	h := ags.Height
	for _, raw := range ags.Items {
		var a ledger.Agency
		if err := json.Unmarshal(raw, &a); err != nil {
			s.fail(w, r, badRecordErr(err))
			return
		}
		at, err := s.totals(ctx, a, h)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		v.TotalsCut = v.TotalsCut || at.Cut
		v.Agencies = append(v.Agencies, at)
	}
	v.Changes, v.NoIndex, err = s.latestChanges(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	cache(w, false)
	s.render(w, r, "home", &view{Title: s.texts.get("home.title"), Height: h, Data: v})
}

// totals reads an agency's totals at height h in each currency of its
// grants and payments (the first totalsScan of each).
func (s *server) totals(ctx context.Context, a ledger.Agency, h int64) (agencyTotals, error) {
	out := agencyTotals{Agency: a}
	seen := map[string]bool{}
	for _, kind := range []string{"grant", "payment"} {
		p, err := s.c.Records(ctx, ledger.Kind(kind), client.ListFilter{Agency: a.ID, Limit: totalsScan}, h)
		if err != nil {
			return out, err
		}
		out.Cut = out.Cut || p.Next != ""
		for _, raw := range p.Items {
			var c struct {
				Currency string `json:"currency"`
			}
			if json.Unmarshal(raw, &c) == nil && c.Currency != "" {
				seen[c.Currency] = true
			}
		}
	}
	curs := make([]string, 0, len(seen))
	for c := range seen {
		curs = append(curs, c)
	}
	sort.Strings(curs)
	for _, cur := range curs {
		t, _, _, err := s.c.Totals(ctx, a.ID, cur, h)
		if errors.Is(err, client.ErrNotFound) {
			continue
		}
		if err != nil {
			return out, err
		}
		out.Totals = append(out.Totals, totalsRow{Currency: cur, Awarded: money(t.Awarded, cur), Paid: money(t.Paid, cur),
			PaidAgainstGrant: money(t.PaidAgainstGrant, cur), Reversed: money(t.Reversed, cur),
			Grants: t.Grants, Payments: t.Payments, Reversals: t.Reversals})
	}
	return out, nil
}

// latestChanges lists the latest transactions from the node's tx index,
// newest first, with the records each touched.
func (s *server) latestChanges(ctx context.Context) ([]change, bool, error) {
	page, per := 1, latestShown
	res, err := s.c.RPC().TxSearch(ctx, "tx.height>0", false, &page, &per, "desc")
	if client.NoTxIndex(err) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	heights := make([]int64, 0, len(res.Txs))
	for _, tx := range res.Txs {
		heights = append(heights, tx.Height)
	}
	times := s.blockTimes(ctx, heights)
	var out []change
	for _, tx := range res.Txs {
		c := change{Height: tx.Height, Time: times[tx.Height], Hash: strings.ToUpper(hex.EncodeToString(tx.Hash))}
		if d, err := ledger.DecodeTx(tx.Tx, 0); err == nil {
			c.Type, c.Agency = d.Body.Type, d.Body.Agency
		}
		c.Records = touched(tx.TxResult.Events)
		out = append(out, c)
	}
	return out, false, nil
}

type abciEvent = abcitypes.Event

// touched lists the records named by a transaction's events.
func touched(events []abciEvent) []recordLink {
	var out []recordLink
	seen := map[string]bool{}
	for _, ev := range events {
		switch ev.Type {
		case "grant", "licence", "payment", "agency":
		case "gov_proposal", "gov_vote":
			for _, a := range ev.Attributes {
				if (a.Key == "id" || a.Key == "proposal") && !seen["proposal/"+a.Value] {
					if _, err := strconv.ParseUint(a.Value, 10, 64); err == nil {
						seen["proposal/"+a.Value] = true
						out = append(out, recordLink{Kind: "proposal", ID: a.Value, Href: "/proposal/" + a.Value})
					}
				}
			}
			continue
		default:
			continue
		}
		for _, a := range ev.Attributes {
			if a.Key == "id" && ledger.ValidID(a.Value) && !seen[ev.Type+"/"+a.Value] {
				seen[ev.Type+"/"+a.Value] = true
				out = append(out, recordLink{Kind: ev.Type, ID: a.Value, Href: recordPath(ev.Type, a.Value)})
			}
		}
	}
	return out
}
