package portal

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/ledger"
)

// latestShown is the number of latest changes on the home page.
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
		p, err := s.c.Records(ctx, kind, client.ListFilter{Agency: a.ID, Limit: totalsScan}, h)
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
	id := r.PathValue("id")
	height, err := heightParam(r)
	if err == nil {
		err = validID(id)
	}
	if err != nil {
		s.fail(w, r, err)
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
		p, err := s.c.Records(ctx, kind, client.ListFilter{Agency: id, Limit: 10}, h)
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

// txView is a transaction's page.
type txView struct {
	Hash    string
	Fields  []field
	Payload string
	Records []recordLink
	OK      bool
	Result  string
}

func (s *server) tx(w http.ResponseWriter, r *http.Request) {
	hash := strings.ToUpper(r.PathValue("hash"))
	raw, err := hex.DecodeString(hash)
	if err != nil || len(raw) != 32 {
		s.fail(w, r, &pageError{status: http.StatusNotFound, key: "err.notfound"})
		return
	}
	ctx := r.Context()
	res, err := s.c.RPC().Tx(ctx, raw, false)
	switch {
	case client.NoTxIndex(err):
		s.fail(w, r, &pageError{status: http.StatusNotFound, key: "err.notfound", err: client.ErrNoTxIndex})
		return
	case err != nil && strings.Contains(err.Error(), "not found"):
		s.fail(w, r, &pageError{status: http.StatusNotFound, key: "err.notfound", err: err})
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	t := s.texts
	v := &txView{Hash: hash, OK: res.TxResult.Code == 0, Records: touched(res.TxResult.Events)}
	if v.OK {
		v.Result = t.get("tx.ok")
	} else {
		v.Result = t.getf("tx.rejected", res.TxResult.Code, res.TxResult.Log)
	}
	times := s.blockTimes(ctx, []int64{res.Height})
	v.Fields = []field{
		{Label: t.get("f.height"), Value: strconv.FormatInt(res.Height, 10)},
		{Label: t.get("f.time"), Value: times[res.Height]},
		{Label: t.get("f.result"), Value: v.Result},
	}
	if d, err := ledger.DecodeTx(res.Tx, 0); err == nil {
		names := s.c.OfficerNames(ctx, d.Body.Agency, res.Height)
		v.Fields = append(v.Fields,
			field{Label: t.get("f.type"), Value: d.Body.Type},
			field{Label: t.get("f.agency"), Value: d.Body.Agency, Href: recordPath("agency", d.Body.Agency)},
			field{Label: t.get("f.nonce"), Value: strconv.FormatUint(d.Body.Nonce, 10)},
			field{Label: t.get("f.expires"), Value: strconv.FormatInt(d.Body.ExpiresAt, 10)})
		for _, sig := range d.Signatures {
			v.Fields = append(v.Fields, field{Label: t.get("f.signers"), Value: officerName(t, names, sig.PubKey), Hash: true})
		}
		if pretty, err := json.MarshalIndent(json.RawMessage(d.Body.Payload), "", "  "); err == nil {
			v.Payload = string(pretty)
		}
	}
	// A transaction in a block never changes.
	cache(w, true)
	s.render(w, r, "tx", &view{Title: t.getf("tx.title", hash[:12]+"…"), Height: res.Height, At: true, Data: v})
}

// proposalsView is the governance page.
type proposalsView struct {
	Status    string
	Statuses  []string
	Rows      []proposalRow
	NextLink  string
	CSV, JSON string
}

type proposalRow struct {
	ID                      uint64
	Title, Kind, Proposer   string
	Status                  string
	Submitted, VotingEnd    int64
	Yes, No, Abstain, Total int64
}

var proposalStatuses = []string{ledger.ProposalVoting, ledger.ProposalNotice, ledger.ProposalExecuted, ledger.ProposalRejected, ledger.ProposalFailed}

func (s *server) proposals(w http.ResponseWriter, r *http.Request) {
	qv := r.URL.Query()
	f := client.ProposalFilter{Status: qv.Get("status"), Limit: DefaultPageSize}
	height, err := heightParam(r)
	if err == nil && f.Status != "" && !contains(proposalStatuses, f.Status) {
		err = &pageError{status: http.StatusBadRequest, key: "err.badrequest", detail: "status"}
	}
	if a := qv.Get("after"); err == nil && a != "" {
		if f.After, err = strconv.ParseUint(a, 10, 64); err != nil {
			err = &pageError{status: http.StatusBadRequest, key: "err.badrequest", detail: "after"}
		}
	}
	format := qv.Get("format")
	if err == nil && format != "" && format != "csv" && format != "json" {
		err = &pageError{status: http.StatusBadRequest, key: "err.badrequest", detail: "format"}
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, err := s.c.Proposals(r.Context(), f, height)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	cache(w, height > 0)
	if format != "" {
		s.proposalsDownload(w, format, p)
		return
	}
	v := &proposalsView{Status: f.Status, Statuses: proposalStatuses}
	for _, raw := range p.Items {
		var pr ledger.Proposal
		if err := json.Unmarshal(raw, &pr); err != nil {
			s.fail(w, r, badRecordErr(err))
			return
		}
		v.Rows = append(v.Rows, proposalRow{ID: pr.ID, Title: pr.Change.Title, Kind: pr.Change.Kind, Proposer: pr.Proposer,
			Status: pr.Status, Submitted: pr.Submitted, VotingEnd: pr.VotingEnd,
			Yes: pr.Tally.Yes, No: pr.Tally.No, Abstain: pr.Tally.Abstain, Total: pr.Tally.Total})
	}
	base := url.Values{"height": {strconv.FormatInt(p.Height, 10)}}
	if f.Status != "" {
		base.Set("status", f.Status)
	}
	if p.Next != "" {
		nv := url.Values{}
		for k, x := range base {
			nv[k] = x
		}
		nv.Set("after", p.Next)
		v.NextLink = "/proposals?" + nv.Encode()
	}
	if f.After > 0 {
		base.Set("after", strconv.FormatUint(f.After, 10))
	}
	base.Set("format", "csv")
	v.CSV = "/proposals?" + base.Encode()
	base.Set("format", "json")
	v.JSON = "/proposals?" + base.Encode()
	s.render(w, r, "proposals", &view{Title: s.texts.get("gov.title"), Height: p.Height, At: height > 0, Data: v})
}

func (s *server) proposalsDownload(w http.ResponseWriter, format string, p *client.Page) {
	name := fmt.Sprintf("proposals-%d", p.Height)
	if format == "json" {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.json"`)
		_ = json.NewEncoder(w).Encode(struct {
			Height int64             `json:"height"`
			Items  []json.RawMessage `json:"items"`
			Next   string            `json:"next,omitempty"`
		}{p.Height, p.Items, p.Next})
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"id", "kind", "title", "proposer", "status", "submitted_height", "voting_end_height", "yes", "no", "abstain", "total", "effective_height", "closed_height"})
	for _, raw := range p.Items {
		var pr ledger.Proposal
		if json.Unmarshal(raw, &pr) != nil {
			continue
		}
		i := func(n int64) string { return strconv.FormatInt(n, 10) }
		_ = cw.Write([]string{strconv.FormatUint(pr.ID, 10), csvSafe(pr.Change.Kind), csvSafe(pr.Change.Title), csvSafe(pr.Proposer), pr.Status,
			i(pr.Submitted), i(pr.VotingEnd), i(pr.Tally.Yes), i(pr.Tally.No), i(pr.Tally.Abstain), i(pr.Tally.Total), i(pr.Effective), i(pr.ClosedHeight)})
	}
	cw.Flush()
}

// proposalView is one proposal's page.
type proposalView struct {
	Proposal ledger.Proposal
	Fields   []field
	Params   string
	Votes    []voteRow
}

type voteRow struct {
	Agency, Option string
	Height         int64
}

func (s *server) proposal(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		s.fail(w, r, &pageError{status: http.StatusNotFound, key: "err.notfound"})
		return
	}
	height, err := heightParam(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, _, h, err := s.c.Proposal(r.Context(), id, height)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	t := s.texts
	v := &proposalView{Proposal: *p}
	i := func(n int64) string { return strconv.FormatInt(n, 10) }
	v.Fields = []field{
		{Label: t.get("f.title"), Value: p.Change.Title},
		{Label: t.get("f.kind"), Value: p.Change.Kind},
		{Label: t.get("f.legal"), Value: p.Change.LegalBasis},
		{Label: t.get("f.proposer"), Value: p.Proposer, Href: recordPath("agency", p.Proposer)},
		{Label: t.get("f.status"), Value: statusLabel(t, p.Status)},
		{Label: t.get("f.submitted"), Value: i(p.Submitted)},
		{Label: t.get("f.voting_end"), Value: i(p.VotingEnd)},
		{Label: t.get("f.tally"), Value: t.getf("tally", p.Tally.Yes, p.Tally.No, p.Tally.Abstain, p.Tally.Total)},
		{Label: t.get("f.document"), Value: p.Change.DocumentHash, Hash: true},
	}
	if p.Change.Target != "" {
		v.Fields = append(v.Fields, field{Label: t.get("f.agency"), Value: p.Change.Target, Href: recordPath("agency", p.Change.Target)})
	}
	if p.Effective > 0 {
		v.Fields = append(v.Fields, field{Label: t.get("f.effective"), Value: i(p.Effective)})
	}
	if p.ClosedHeight > 0 {
		v.Fields = append(v.Fields, field{Label: t.get("f.closed"), Value: i(p.ClosedHeight)})
	}
	if p.Result != "" {
		v.Fields = append(v.Fields, field{Label: t.get("f.result"), Value: p.Result})
	}
	if p.Change.Params != nil {
		if bz, err := json.MarshalIndent(p.Change.Params, "", "  "); err == nil {
			v.Params = string(bz)
		}
	}
	for _, vt := range p.Votes {
		v.Votes = append(v.Votes, voteRow{Agency: vt.Agency, Option: vt.Option, Height: vt.Height})
	}
	cache(w, height > 0)
	s.render(w, r, "proposal", &view{Title: t.getf("proposal.title", p.ID), Height: h, At: height > 0, Data: v})
}

// verifyView is the "how to verify" page.
type verifyView struct {
	ChainID    string
	GenesisSum string
	HasGenesis bool
	Witnesses  []witnessRow
	Example    string
}

type witnessRow struct {
	URL    string
	Agrees bool
	Height int64
}

func (s *server) verifyPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	st, err := s.c.Status(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := &verifyView{ChainID: st.NodeInfo.Network, GenesisSum: s.genesisSum, HasGenesis: s.genesis != nil, Example: "G-2026-001"}
	// The example names a grant of this ledger, if it has one.
	if p, err := s.c.Records(ctx, "grant", client.ListFilter{Limit: 1}, 0); err == nil && len(p.Items) == 1 {
		var g ledger.Grant
		if json.Unmarshal(p.Items[0], &g) == nil {
			v.Example = g.ID
		}
	}
	// Compare the header of a block both have: the node's latest but one.
	h := st.SyncInfo.LatestBlockHeight - 1
	if h >= 1 {
		mine, err := s.c.RPC().Header(ctx, &h)
		for _, wc := range s.witnesses {
			row := witnessRow{URL: wc.URL, Height: h}
			wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			theirs, werr := wc.RPC().Header(wctx, &h)
			cancel()
			row.Agrees = err == nil && werr == nil && mine.Header != nil && theirs.Header != nil &&
				mine.Header.Hash().String() == theirs.Header.Hash().String()
			v.Witnesses = append(v.Witnesses, row)
		}
	}
	cache(w, false)
	s.render(w, r, "verify", &view{Title: s.texts.get("verify.title"), Height: st.SyncInfo.LatestBlockHeight, Data: v})
}
