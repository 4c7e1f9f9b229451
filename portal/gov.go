package portal

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/ledger"
)

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

var proposalStatuses = ledger.StatusesOf(ledger.KindProposal)

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
			Status: string(pr.Status), Submitted: pr.Submitted, VotingEnd: pr.VotingEnd,
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
		_ = cw.Write([]string{strconv.FormatUint(pr.ID, 10), csvSafe(pr.Change.Kind), csvSafe(pr.Change.Title), csvSafe(pr.Proposer), string(pr.Status),
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
