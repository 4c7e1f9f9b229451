package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/civicledger/civicledger/client"
)

// The natural person of TestNaturalPerson: none of these strings may reach
// the chain, its events, its index, the exports or a query answer.
var janeSecrets = []string{"Jane Example", "JG103759A"}

func individualArgs(args []string, who string) []string {
	return append(args, "--individual", "--"+who+"-name", "Jane Example", "--"+who+"-scheme", "GB-NINO",
		"--"+who+"-id", "JG103759A", "--individual-region", "North West")
}

// noSecret fails if text holds the person's name or identifier.
func noSecret(t *testing.T, what, text string) {
	t.Helper()
	for _, s := range janeSecrets {
		if strings.Contains(text, s) {
			t.Errorf("%s holds %q", what, s)
		}
	}
}

// rpcGet returns the body of a CometBFT RPC GET.
func rpcGet(t *testing.T, base, path string) string {
	t.Helper()
	resp, err := http.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestNaturalPerson records a grant, a payment and a licence for a natural
// person on a live network and checks that the person's identity reaches
// no query answer, event, indexed tx, block, export file or state file; then
// that an auditor verifies the agency's disclosure, that erasure changes
// nothing on chain and every proof still verifies, and that the disclosure
// file the auditor holds still verifies while the agency can disclose
// nothing more.
func TestNaturalPerson(t *testing.T) {
	net := testNet(t, "civic-privacy-test")
	a := net.Testnet.Agencies

	// Refused before anything is sent: a person in clear, personal data in
	// free text.
	_, errOut, code := cli(t, net, 0, awardArgs("G-P-0", "10.00 EUR", "--recipient-scheme", "GB-NINO")...)
	if code != exitUsage || !strings.Contains(errOut, "payload.recipient.scheme") || !strings.Contains(errOut, "natural person") {
		t.Fatalf("person in clear: exit %d\n%s", code, errOut)
	}
	_, errOut, code = cli(t, net, 0, awardArgs("G-P-0", "10.00 EUR", "--purpose", "Call +44 7700 900123")...)
	if code != exitUsage || !strings.Contains(errOut, "payload.purpose") || !strings.Contains(errOut, "personal data") {
		t.Fatalf("phone in purpose: exit %d\n%s", code, errOut)
	}

	_, errOut, _ = cli(t, net, 0, individualArgs(awardArgs("G-P-1", "1000.00 EUR", "--purpose", "Hardship support"), "recipient")...)
	if !strings.Contains(errOut, "commitment") {
		t.Errorf("award: stderr does not give the commitment:\n%s", errOut)
	}
	g := decodeJSON[map[string]any](t, mustCLI(t, net, 0, "-o", "json", "query", "grant", "G-P-1"))
	rec, _ := json.Marshal(g)
	var grant struct {
		Record struct {
			Recipient struct {
				Individual struct{ Commitment, Label, Region string }
			}
		}
	}
	if err := json.Unmarshal(rec, &grant); err != nil || len(grant.Record.Recipient.Individual.Commitment) != 64 ||
		grant.Record.Recipient.Individual.Label != "Individual recipient" || grant.Record.Recipient.Individual.Region != "North West" {
		t.Fatalf("grant G-P-1: %s", rec)
	}
	commitment := grant.Record.Recipient.Individual.Commitment

	// Payments: to the grant's recipient without naming the person, and
	// naming the person (checked against the disclosure store); another
	// person is refused before anything is sent; four-eyes applies.
	payArgs := func(id, amount string, extra ...string) []string {
		return append([]string{"tx", "payment", "record", "--from", "finance", "--id", id, "--amount", amount,
			"--date", "2026-02-01", "--purpose", "Instalment", "--grant", "G-P-1"}, extra...)
	}
	mustCLI(t, net, 0, payArgs("P-P-1", "250.00 EUR", "--individual")...)
	mustCLI(t, net, 0, individualArgs(payArgs("P-P-2", "100.00 EUR"), "payee")...)
	_, errOut, code = cli(t, net, 0, append(payArgs("P-P-3", "1.00 EUR", "--individual"),
		"--payee-name", "John Other", "--payee-scheme", "GB-NINO", "--payee-id", "AB123456C")...)
	if code != exitUsage || !strings.Contains(errOut, "not the individual recipient") {
		t.Fatalf("another person: exit %d\n%s", code, errOut)
	}
	mustCLI(t, net, 0, individualArgs([]string{"tx", "licence", "issue", "--from", "licensing", "--id", "L-P-1",
		"--type", "street trading", "--scope", "Market Square", "--valid-from", "2026-01-01", "--valid-until", "2030-12-31",
		"--decision-date", "2025-12-15", "--conditions-hash", testDocHash}, "holder")...)
	totals := mustCLI(t, net, 0, "query", "totals", "agency-1", "EUR")
	if !strings.Contains(totals, "350.00") {
		t.Errorf("totals do not count the payments:\n%s", totals)
	}
	recordOf := func(out string) string {
		return string(decodeJSON[struct{ Record json.RawMessage }](t, out).Record)
	}
	before := recordOf(mustCLI(t, net, 0, "-o", "json", "query", "grant", "G-P-1"))

	// No query answer, event, tx, block or state file holds the person.
	for _, q := range [][]string{
		{"-o", "json", "query", "grant", "G-P-1"}, {"query", "grant", "G-P-1"}, {"-o", "json", "query", "payment", "P-P-1"},
		{"-o", "json", "query", "licence", "L-P-1"}, {"query", "grants"}, {"query", "payments"}, {"query", "licences"},
		{"-o", "json", "query", "history", "grant", "G-P-1"}, {"-o", "json", "query", "history", "payment", "P-P-2"},
		{"query", "totals", "agency-1", "EUR"},
	} {
		out := mustCLI(t, net, 0, q...)
		noSecret(t, "ledger "+strings.Join(q, " "), out)
	}
	search := rpcGet(t, a[0].RPC, "/tx_search?per_page=100&query="+url.QueryEscape(`"tx.height>0"`))
	if !strings.Contains(search, commitment) {
		t.Fatalf("tx_search found no event with the commitment:\n%.2000s", search)
	}
	noSecret(t, "tx_search", search)
	var found struct {
		Result struct {
			Txs []struct {
				Height string `json:"height"`
				Tx     string `json:"tx"`
			} `json:"txs"`
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(search), &found); err != nil || len(found.Result.Txs) == 0 {
		t.Fatalf("tx_search: %v", err)
	}
	for _, tx := range found.Result.Txs {
		raw, err := base64.StdEncoding.DecodeString(tx.Tx)
		if err != nil {
			t.Fatal(err)
		}
		noSecret(t, "tx at height "+tx.Height, string(raw))
		noSecret(t, "block_results "+tx.Height, rpcGet(t, a[0].RPC, "/block_results?height="+tx.Height))
	}
	if err := filepath.Walk(filepath.Dir(a[0].Home), func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || strings.Contains(p, string(filepath.Separator)+"disclosures"+string(filepath.Separator)) {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil // a file that went away (a WAL rotated)
		}
		noSecret(t, "file "+p, string(b))
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// The exports show the label.
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if _, err := client.InitTrustFromGenesis(ctx, home, net.Testnet.Genesis, a[1].RPC); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "release")
	mustRun(t, "--home", home, "--node", a[0].RPC, "export", "all", "-o", dir, "--witness", a[1].RPC)
	var exported strings.Builder
	if err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		exported.Write(b)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	noSecret(t, "the exports", exported.String())
	for _, want := range []string{"Individual recipient", "recipientIndividual", commitment} {
		if !strings.Contains(exported.String(), want) {
			t.Errorf("the exports lack %q", want)
		}
	}

	// The auditor checks the disclosure.
	auditor := []string{"--home", home, "--node", a[0].RPC}
	file := filepath.Join(t.TempDir(), "jane.json")
	out := mustCLI(t, net, 0, "disclosure", "export", "G-P-1", "--out", file)
	for _, want := range []string{commitment, "grant G-P-1", "payment P-P-1", "payment P-P-2"} {
		if !strings.Contains(out, want) {
			t.Errorf("disclosure export lacks %q:\n%s", want, out)
		}
	}
	vout := mustRun(t, append(auditor, "verify", "disclosure", file, "--witness", a[1].RPC)...)
	if finalLine(vout) != resultVerified {
		t.Fatalf("verify disclosure:\n%s", vout)
	}
	t.Logf("ledger verify disclosure:\n%s", vout)
	j := decodeJSON[verifyOutput](t, mustRun(t, append(auditor, "-o", "json", "verify", "disclosure", file)...))
	if j.Result != resultVerified || j.ID != commitment || len(j.Steps) < 4 {
		t.Fatalf("verify disclosure -o json: %+v", j)
	}
	// A disclosure naming someone else, or naming a record of another
	// person, fails.
	data, _ := os.ReadFile(file)
	for name, bad := range map[string]string{
		"another name":   strings.Replace(string(data), "Jane Example", "Jane Exampel", 1),
		"another record": strings.Replace(string(data), `"id": "P-P-1"`, `"id": "P-P-9"`, 1),
	} {
		f := filepath.Join(t.TempDir(), "bad.json")
		if err := os.WriteFile(f, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := run(t, append(auditor, "verify", "disclosure", f)...)
		if code != exitFailed || !strings.Contains(errOut, "FAILED") {
			t.Errorf("%s: exit %d\n%s\n%s", name, code, out, errOut)
		}
	}

	// Erasure: the agency can disclose nothing more; nothing on chain
	// changed; every proof verifies; the file the auditor holds still does.
	out = mustCLI(t, net, 0, "disclosure", "erase", "P-P-1")
	t.Logf("ledger disclosure erase:\n%s", out)
	if !strings.Contains(out, "nothing on chain changed") || !strings.Contains(out, commitment) {
		t.Errorf("erase:\n%s", out)
	}
	_, errOut, code = cli(t, net, 0, "disclosure", "export", "G-P-1", "--out", filepath.Join(t.TempDir(), "again.json"))
	if code != exitFailed || !strings.Contains(errOut, "erased") {
		t.Fatalf("export after erasure: exit %d\n%s", code, errOut)
	}
	if after := recordOf(mustCLI(t, net, 0, "-o", "json", "query", "grant", "G-P-1")); after != before {
		t.Errorf("the grant changed with the erasure:\n%s\n%s", before, after)
	}
	for _, v := range [][]string{{"verify", "grant", "G-P-1"}, {"verify", "payment", "P-P-2"}, {"verify", "licence", "L-P-1"},
		{"verify", "total", "agency-1", "EUR"}, {"verify", "disclosure", file}} {
		if out := mustRun(t, append(auditor, v...)...); finalLine(out) != resultVerified {
			t.Errorf("ledger %s after erasure:\n%s", strings.Join(v, " "), out)
		}
	}
	if out := mustRun(t, "--home", t.TempDir(), "verify", "release", dir, "--genesis", net.Testnet.Genesis); finalLine(out) != resultVerified {
		t.Errorf("verify release after erasure:\n%s", out)
	}
}
