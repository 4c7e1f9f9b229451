package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	ics23 "github.com/cosmos/ics23/go"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/ledger"
)

// hidingNode is an RPC proxy in front of a real node that forwards
// everything, but removes the grant hide from every "/list/grants" page it
// answers (its adjacency proof and its record proof), as a node hiding a
// record would.
func hidingNode(t *testing.T, target, hide string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		var call struct {
			Method string `json:"method"`
			Params struct {
				Path string `json:"path"`
			} `json:"params"`
		}
		if json.Unmarshal(body, &call) == nil && call.Method == "abci_query" && call.Params.Path == "/list/"+ledger.ListingGrants {
			out = hideGrant(t, out, hide)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(res.StatusCode)
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func hideGrant(t *testing.T, rpcOut []byte, hide string) []byte {
	var msg map[string]any
	if err := json.Unmarshal(rpcOut, &msg); err != nil {
		return rpcOut
	}
	resp, _ := msg["result"].(map[string]any)["response"].(map[string]any)
	v, _ := resp["value"].(string)
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil || v == "" {
		return rpcOut
	}
	var page ledger.ProvedPage
	if err := json.Unmarshal(raw, &page); err != nil {
		return rpcOut
	}
	drop := func(proof []byte, keep func(*ics23.BatchEntry) bool) []byte {
		var p ics23.CommitmentProof
		if err := p.Unmarshal(proof); err != nil || proof == nil {
			return proof
		}
		b := ics23.Decompress(&p).GetBatch()
		b.Entries = slices.DeleteFunc(b.Entries, func(e *ics23.BatchEntry) bool { return !keep(e) })
		bz, _ := ics23.Compress(&ics23.CommitmentProof{Proof: &ics23.CommitmentProof_Batch{Batch: b}}).Marshal()
		return bz
	}
	page.Range = drop(page.Range, func(e *ics23.BatchEntry) bool {
		n := e.GetNonexist()
		return n == nil || n.Left == nil || !strings.HasSuffix(string(n.Left.Key), "/"+hide)
	})
	page.Records = drop(page.Records, func(e *ics23.BatchEntry) bool { return e.GetExist() == nil || string(e.GetExist().Key) != hide })
	bz, _ := json.Marshal(page)
	resp["value"] = base64.StdEncoding.EncodeToString(bz)
	out, _ := json.Marshal(msg)
	return out
}

type verifyListOut struct {
	Result  string                `json:"result"`
	Height  int64                 `json:"height"`
	Listing *client.ListingReport `json:"listing"`
	Signers []client.CommitSigner `json:"signers"`
	Error   string                `json:"error"`
	Steps   []client.Step         `json:"steps"`
}

// TestVerifyListings: on a real network, "ledger verify grants|payments|
// licences|agencies" prove whole listings complete; a node that hides a
// grant from its pages is caught (exit 1), by verify grants and by audit.
func TestVerifyListings(t *testing.T) {
	net := testNet(t, "civic-verify-list-test")
	a := net.Testnet.Agencies
	ok := func(args ...string) string { t.Helper(); return mustCLI(t, net, 0, args...) }
	for _, id := range []string{"G-L-1", "G-L-2", "G-L-3", "G-L-4", "G-L-5"} {
		ok(awardArgs(id, "1000.00 EUR")...)
	}
	ok(paymentArgs("P-L-1", "10.00 EUR", "--grant", "G-L-2")...)
	_, last, _ := txLines(t, ok(paymentArgs("P-L-2", "20.00 EUR", "--grant", "G-L-2")...))
	at := []string{"--height", strconv.FormatInt(last, 10)}

	home := t.TempDir()
	as := func(node string, args ...string) []string {
		return append([]string{"--home", home, "--node", node}, args...)
	}
	if out, errOut, code := run(t, as(a[0].RPC, "trust", "init", "--genesis", net.Testnet.Genesis)...); code != 0 {
		t.Fatalf("trust init: exit %d\n%s\n%s", code, out, errOut)
	}
	witness := []string{"--witness", a[1].RPC}
	ids := func(r verifyListOut) []string {
		var out []string
		for _, e := range r.Listing.Entries {
			out = append(out, e.ID)
		}
		return out
	}

	out, errOut, code := run(t, as(a[0].RPC, append(append([]string{"verify", "grants", "--agency", "agency-1", "--page-size", "2"}, at...), witness...)...)...)
	if code != 0 || lastLine(out) != resultComplete {
		t.Fatalf("verify grants: exit %d\n%s\n%s", code, out, errOut)
	}
	contains(t, "verify grants", out, "G-L-1", "G-L-5", "awarded", "1000.00 EUR", "Acme Ltd", "5 in 3 proved pages, complete", "signed by")
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"verify", "grants", "--agency", "agency-1"}, []string{"G-L-1", "G-L-2", "G-L-3", "G-L-4", "G-L-5"}},
		{[]string{"verify", "grants", "--agency", "agency-2"}, nil},
		{[]string{"verify", "payments", "--grant", "G-L-2"}, []string{"P-L-1", "P-L-2"}},
		{[]string{"verify", "payments", "--agency", "agency-1"}, []string{"P-L-1", "P-L-2"}},
		{[]string{"verify", "licences", "--agency", "agency-1"}, nil},
		{[]string{"verify", "agencies"}, []string{"agency-1", "agency-2"}},
	} {
		out, errOut, code := run(t, as(a[0].RPC, append(append(append([]string{"-o", "json"}, tc.args...), at...), witness...)...)...)
		r := decodeJSON[verifyListOut](t, out)
		if code != 0 || r.Result != resultComplete || r.Height != last || !slices.Equal(ids(r), tc.want) || len(r.Signers) == 0 || r.Signers[0].Name == "" {
			t.Errorf("%v: exit %d, %+v\n%s", tc.args, code, r, errOut)
		}
	}

	// A node that hides G-L-3 from its pages.
	liar := hidingNode(t, a[0].RPC, "G-L-3")
	out, errOut, code = run(t, as(liar, append(append([]string{"verify", "grants", "--agency", "agency-1"}, at...), witness...)...)...)
	if code != 1 || !strings.Contains(errOut, "FAILED") || !strings.Contains(errOut, "G-L-") {
		t.Fatalf("hidden grant: exit %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = run(t, as(liar, append(append([]string{"-o", "json", "audit"}, at...), witness...)...)...)
	r := decodeJSON[auditOut](t, out)
	if code != 1 || r.Result != auditMismatch || !slices.ContainsFunc(r.Discrepancies, func(d client.Discrepancy) bool {
		return d.Kind == client.DiscProof && d.ID == ledger.ListingGrants && d.Agency == "agency-1"
	}) {
		t.Fatalf("audit through a hiding node: exit %d %+v\n%s", code, r.Discrepancies, errOut)
	}

	// Usage.
	wantCode(t, 2, []string{"--agency is required"}, as(a[0].RPC, "verify", "grants")...)
	wantCode(t, 2, []string{"--agency or --grant"}, as(a[0].RPC, "verify", "payments")...)
	wantCode(t, 2, []string{"not both"}, as(a[0].RPC, "verify", "payments", "--agency", "agency-1", "--grant", "G-L-2")...)
	wantCode(t, 2, []string{"must match"}, as(a[0].RPC, "verify", "licences", "--agency", "a/b")...)
	wantCode(t, 2, []string{"--page-size"}, as(a[0].RPC, "verify", "agencies", "--page-size", "501")...)
}
