package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/ledger"
)

// recordOut is the JSON of "ledger query KIND ID".
type recordOut[T any] struct {
	Height  int64                 `json:"height"`
	Record  T                     `json:"record"`
	History []client.HistoryEntry `json:"history"`
}

// paymentArgs are the arguments of "tx payment record" by the "finance"
// officer to Acme (the recipient of the test grants).
func paymentArgs(id, amount string, extra ...string) []string {
	a := []string{"tx", "payment", "record", "--from", "finance", "--id", id,
		"--payee-name", "Acme Limited", "--payee-scheme", "GB-COH", "--payee-id", "0001",
		"--amount", amount, "--date", "2026-02-01", "--purpose", "Instalment"}
	return append(a, extra...)
}

func contains(t *testing.T, what, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, out)
		}
	}
}

// TestTxFlow drives every kind of transaction through the CLI against a real
// network, as agency-1, and reads each record back in text and JSON.
func TestTxFlow(t *testing.T) {
	net := testNet(t, "civic-cli-test")
	ok := func(args ...string) string { t.Helper(); return mustCLI(t, net, 0, args...) }
	as := func(args ...string) []string { return append(agencyArgs(net, 0), args...) }

	// Award a grant; the decision document is hashed from a file.
	docFile := filepath.Join(t.TempDir(), "decision.pdf")
	if err := os.WriteFile(docFile, []byte("award decision 2026/17"), 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("award decision 2026/17"))
	awardHash := hex.EncodeToString(sum[:])
	out := ok(awardArgs("G-FLOW-1", "50000.00 EUR", "--document", docFile)...)
	_, awardHeight, code := txLines(t, out)
	if code != "0 (ok)" || awardHeight <= 0 {
		t.Fatalf("award output:\n%s", out)
	}

	// A payment against it, with the currency as a flag; JSON output is the
	// client's TxResult.
	res := decodeJSON[client.TxResult](t, ok(append([]string{"-o", "json"},
		paymentArgs("P-FLOW-1", "1250.50", "--currency", "EUR", "--grant", "G-FLOW-1")...)...))
	if res.Code != 0 || res.Stage != "block" || res.Height <= 0 || len(res.Hash) != 64 {
		t.Fatalf("payment result %+v", res)
	}

	t.Run("four-eyes", func(t *testing.T) {
		// Above the threshold (10000.00 EUR) one finance officer is not enough.
		out, _ := wantCode(t, 1, []string{"four-eyes approval required", "code 30"},
			as(paymentArgs("P-FLOW-2", "15000.00 EUR", "--grant", "G-FLOW-1")...)...)
		contains(t, "rejected tx output", out, "code: 30 (rejected: ")
		out, _ = wantCode(t, 1, []string{"four-eyes approval required"},
			as(append([]string{"-o", "json"}, paymentArgs("P-FLOW-2", "15000.00 EUR", "--grant", "G-FLOW-1")...)...)...)
		if r := decodeJSON[client.TxResult](t, out); r.Code != 30 || r.Codespace != "civicledger" || !strings.Contains(r.Log, "four-eyes") {
			t.Errorf("rejected tx JSON %+v", r)
		}
		out = ok(paymentArgs("P-FLOW-2", "15000.00 EUR", "--grant", "G-FLOW-1", "--cosign", "finance2")...)
		if _, h, code := txLines(t, out); code != "0 (ok)" || h <= awardHeight {
			t.Fatalf("co-signed payment:\n%s", out)
		}
	})

	t.Run("overpayment rejected", func(t *testing.T) {
		// 50000 awarded, 16250.50 disbursed: 40000 is too much.
		out, errOut := wantCode(t, 1, []string{"payments would exceed awarded amount", "code 26", "payload.amount"},
			as(paymentArgs("P-FLOW-3", "40000.00 EUR", "--grant", "G-FLOW-1", "--cosign", "finance2")...)...)
		contains(t, "rejected tx output", out, "hash: ", "code: 26 (rejected: ")
		if !strings.Contains(errOut, "rejected") {
			t.Errorf("stderr: %s", errOut)
		}
		// Nothing was recorded.
		wantCode(t, 1, []string{"not found"}, as("query", "payment", "P-FLOW-3")...)
	})

	ok("tx", "payment", "reverse", "--from", "finance", "--id", "P-FLOW-1", "--reason", "Duplicate invoice")

	t.Run("amend", func(t *testing.T) {
		// The grant's currency is read from the node; a different one is refused.
		wantCode(t, 2, []string{"grant G-FLOW-1 is in EUR"},
			as("tx", "grant", "amend", "--from", "grants", "--id", "G-FLOW-1", "--amount", "60000 USD",
				"--reason", "Extension", "--document-hash", testDocHash)...)
		wantCode(t, 1, []string{"not found"},
			as("tx", "grant", "amend", "--from", "grants", "--id", "G-NOPE", "--amount", "60000",
				"--reason", "Extension", "--document-hash", testDocHash)...)
		ok("tx", "grant", "amend", "--from", "grants", "--id", "G-FLOW-1", "--amount", "60000",
			"--reason", "Extension of scope", "--document-hash", testDocHash)
	})

	// A payment without a grant, not waited for: the next waited tx through
	// the same node is ordered after it.
	out = ok("tx", "payment", "record", "--from", "finance", "--id", "P-FLOW-4", "--payee-name", "Office Supplies plc",
		"--payee-scheme", "GB-COH", "--payee-id", "0009", "--amount", "99.99 EUR", "--date", "2026-03-01",
		"--purpose", "Stationery", "--no-wait")
	if _, h, code := txLines(t, out); code != "0 (ok)" || h != 0 || !strings.Contains(out, "height: 0 (pending: --no-wait)") {
		t.Fatalf("--no-wait output:\n%s", out)
	}

	// Licences: issue, suspend, reinstate, renew.
	ok("tx", "licence", "issue", "--from", "licensing", "--id", "L-FLOW-1", "--holder-name", "Harbour Cafe",
		"--holder-scheme", "GB-COH", "--holder-id", "0002", "--type", "premises", "--scope", "Sale of alcohol",
		"--valid-from", "2026-01-01", "--valid-until", "2030-12-31", "--decision-date", "2025-12-15",
		"--conditions-hash", strings.ToUpper(testDocHash))
	ok("tx", "licence", "suspend", "--from", "licensing", "--id", "L-FLOW-1", "--reason", "Noise complaints", "--document-hash", testDocHash)
	wantCode(t, 1, []string{"illegal status transition"},
		as("tx", "licence", "renew", "--from", "licensing", "--id", "L-FLOW-1", "--valid-until", "2031-12-31", "--document-hash", testDocHash)...)
	ok("tx", "licence", "reinstate", "--from", "licensing", "--id", "L-FLOW-1", "--reason", "Soundproofing fitted", "--document-hash", testDocHash)
	ok("tx", "licence", "renew", "--from", "licensing", "--id", "L-FLOW-1", "--valid-until", "2031-12-31", "--document", docFile)

	// Officers: add one whose key is in the local keystore, then change its
	// roles by public key.
	kout := ok("-o", "json", "keys", "add", "deputy", "--agency", "agency-1")
	deputy := decodeJSON[struct {
		PubKey string `json:"pub_key"`
	}](t, kout).PubKey
	ok("tx", "agency", "officer", "add", "--from", "admin", "--key-name", "deputy", "--name", "Deputy grants officer",
		"--roles", "grants,admin", "--roles", "grants")
	// The new officer can act at once, and the default agency is its key's.
	ok(awardArgs("G-FLOW-2", "10 EUR", "--from", "deputy")...)
	ok("tx", "agency", "officer", "set-roles", "--from", "admin", "--key", deputy, "--roles", "licensing, grants")
	wantCode(t, 1, []string{"officer lacks required role"},
		as("tx", "payment", "reverse", "--from", "deputy", "--id", "P-FLOW-4", "--reason", "x")...)

	t.Run("query grant", func(t *testing.T) {
		text := ok("query", "grant", "G-FLOW-1")
		contains(t, "grant text", text, "status:", "amended", "recipient:", "Acme Ltd (GB-COH 0001)",
			"awarded:", "60000.00 EUR (6000000 minor units)", "disbursed:", "15000.00 EUR (1500000 minor units)",
			"remaining:", "45000.00 EUR (4500000 minor units)", "document_hash:", testDocHash)
		g := decodeJSON[recordOut[ledger.Grant]](t, ok("-o", "json", "query", "grant", "G-FLOW-1"))
		if g.Record.ID != "G-FLOW-1" || g.Record.Agency != "agency-1" || g.Record.Status != ledger.GrantAmended ||
			g.Record.Awarded != 6000000 || g.Record.Disbursed != 1500000 || g.Record.Payments != 1 || g.Height < awardHeight {
			t.Errorf("grant JSON %+v", g)
		}
		if g.History != nil {
			t.Errorf("history without --history: %+v", g.History)
		}
		// As it was when awarded.
		old := decodeJSON[recordOut[ledger.Grant]](t, ok("-o", "json", "query", "grant", "G-FLOW-1", "--height", strconv.FormatInt(awardHeight, 10)))
		if old.Height != awardHeight || old.Record.Status != ledger.GrantAwarded || old.Record.Awarded != 5000000 ||
			old.Record.Disbursed != 0 || old.Record.DocumentHash != awardHash {
			t.Errorf("grant at award height %+v", old)
		}
		wantCode(t, 1, []string{"not found"}, as("query", "grant", "G-FLOW-1", "--height", "1")...)
		wantCode(t, 1, []string{"not available"}, as("query", "grant", "G-FLOW-1", "--height", "100000000")...)
	})

	t.Run("query payments", func(t *testing.T) {
		p1 := decodeJSON[recordOut[ledger.Payment]](t, ok("-o", "json", "query", "payment", "P-FLOW-1"))
		if p1.Record.Status != ledger.PaymentReversed || p1.Record.Amount != 125050 || p1.Record.Grant != "G-FLOW-1" || len(p1.Record.Approved) != 1 {
			t.Errorf("P-FLOW-1 %+v", p1.Record)
		}
		contains(t, "payment text", ok("query", "payment", "P-FLOW-1"), "amount:", "1250.50 EUR (125050 minor units)",
			"status:", "reversed", "grant:", "G-FLOW-1", "agency-1 finance officer (")
		text := ok("query", "payment", "P-FLOW-2")
		contains(t, "four-eyes payment text", text, "approved_by:", "agency-1 finance officer (", "agency-1 finance2 officer (",
			"15000.00 EUR (1500000 minor units)")
		p4 := decodeJSON[recordOut[ledger.Payment]](t, ok("-o", "json", "query", "payment", "P-FLOW-4"))
		if p4.Record.Status != ledger.PaymentRecorded || p4.Record.Amount != 9999 || p4.Record.Grant != "" {
			t.Errorf("P-FLOW-4 %+v", p4.Record)
		}
		contains(t, "payment without grant", ok("query", "payment", "P-FLOW-4"), "grant:", " -\n")
	})

	t.Run("query licence", func(t *testing.T) {
		l := decodeJSON[recordOut[ledger.Licence]](t, ok("-o", "json", "query", "licence", "L-FLOW-1"))
		if l.Record.Status != ledger.LicenceRenewed || l.Record.ValidUntil != "2031-12-31" ||
			l.Record.ConditionsHash != testDocHash || l.Record.RenewalHash != awardHash {
			t.Errorf("licence %+v", l.Record)
		}
		contains(t, "licence text", ok("query", "licence", "L-FLOW-1", "--history"),
			"holder:", "Harbour Cafe (GB-COH 0002)", "valid_until:", "2031-12-31",
			"history:", "licence/issue", "licence/suspend", "licence/reinstate", "licence/renew", "suspended")
	})

	t.Run("query agency", func(t *testing.T) {
		contains(t, "agency text", ok("query", "agency", "agency-1"), "jurisdiction:", "Testland",
			"Deputy grants officer", "grants,licensing", deputy, "agency-1 finance2 officer")
		a := decodeJSON[recordOut[ledger.Agency]](t, ok("-o", "json", "query", "agency", "agency-1", "--history"))
		key, _ := base64.StdEncoding.DecodeString(deputy)
		o := a.Record.Officer(key)
		if o == nil || o.Name != "Deputy grants officer" || !slices.Equal(o.Roles, []ledger.Role{ledger.RoleGrants, ledger.RoleLicensing}) {
			t.Fatalf("deputy officer %+v in %+v", o, a.Record)
		}
		// The agency's history is its officer changes; roles were sent sorted.
		var acts []string
		for _, e := range a.History {
			acts = append(acts, e.Type+" "+e.Action+" "+e.Status)
		}
		want := []string{"agency/officer-add add admin,grants", "agency/officer-roles set-roles grants,licensing"}
		if !slices.Equal(acts, want) {
			t.Errorf("agency history %q, want %q", acts, want)
		}
	})

	t.Run("history", func(t *testing.T) {
		h := decodeJSON[struct {
			Kind    string                `json:"kind"`
			ID      string                `json:"id"`
			History []client.HistoryEntry `json:"history"`
		}](t, ok("-o", "json", "query", "history", "grant", "G-FLOW-1"))
		var got []string
		for _, e := range h.History {
			got = append(got, e.Type+" "+e.Action+" "+e.Status)
		}
		want := []string{
			"grant/award award awarded", "payment/record disburse awarded", "payment/record disburse awarded",
			"payment/reverse reverse-payment awarded", "grant/amend amend amended",
		}
		if h.Kind != "grant" || h.ID != "G-FLOW-1" || !slices.Equal(got, want) {
			t.Errorf("history of G-FLOW-1 = %q, want %q", got, want)
		}
		if h.History[0].Height != awardHeight {
			t.Errorf("award at height %d, history says %d", awardHeight, h.History[0].Height)
		}
		// Who signed, why, and what changed, old → new.
		am := h.History[len(h.History)-1]
		if !h.History[0].Created || am.Reason != "Extension of scope" || len(am.Signers) != 1 || am.Agency != "agency-1" ||
			!slices.Contains(am.Changes, client.FieldChange{Field: "awarded", Old: "50,000.00 EUR", New: "60,000.00 EUR"}) ||
			!slices.Contains(am.Changes, client.FieldChange{Field: "status", Old: "awarded", New: "amended"}) {
			t.Errorf("amend entry %+v", am)
		}
		text := ok("query", "history", "payment", "P-FLOW-1")
		contains(t, "payment history", text, "HEIGHT", "HASH", "payment/record", "payment/reverse", "reversed", res.Hash)
	})

	t.Run("totals and params", func(t *testing.T) {
		contains(t, "totals", ok("query", "totals", "agency-1", "EUR"), "reversed:", "1250.50 EUR (125050 minor units)", "reversals:")
		tot := decodeJSON[struct {
			Height int64         `json:"height"`
			Totals ledger.Totals `json:"totals"`
		}](t, ok("-o", "json", "query", "totals", "agency-1", "EUR"))
		if tot.Height <= 0 || tot.Totals.Reversed != 125050 || tot.Totals.Reversals != 1 || tot.Totals.Paid < 1509999 {
			t.Errorf("totals %+v", tot)
		}
		wantCode(t, 1, []string{"no totals"}, as("query", "totals", "agency-1", "JPY")...)
		contains(t, "params", ok("query", "params"), "four_eyes_threshold:", "1000000 minor units", "replay_window:")
		p := decodeJSON[struct {
			Height int64         `json:"height"`
			Params ledger.Params `json:"params"`
		}](t, ok("-o", "json", "query", "params"))
		if !p.Params.Equal(ledger.DefaultParams()) {
			t.Errorf("params %+v", p.Params)
		}
	})
}

// TestTxInclusionTimeout: a node that accepts a tx into its mempool but
// cannot commit blocks (its only peer, holding half the voting power, is
// down) makes the CLI give up after --timeout with exit status 3.
func TestTxInclusionTimeout(t *testing.T) {
	net := testNet(t, "civic-cli-timeout")
	if err := net.StopNode(1); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out, errOut := wantCode(t, 3, []string{"not included within --timeout 2s"},
		append(agencyArgs(net, 0), awardArgs("G-T-1", "10 EUR", "--timeout", "2s")...)...)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("gave up after %s", d)
	}
	if out != "" || !strings.Contains(errOut, "tx ") {
		t.Errorf("stdout %q stderr %q", out, errOut)
	}
}

// TestParseMoney: --amount reads "1250.50 EUR", "EUR 1250.50" (as money is
// printed in the demo) and "1250.50" with --currency, never rounding.
func TestParseMoney(t *testing.T) {
	for _, c := range []struct{ amount, flag, minor, cur string }{
		{"1250.50 EUR", "", "125050", "EUR"},
		{"EUR 1250.50", "", "125050", "EUR"},
		{"EUR 12", "", "1200", "EUR"},
		{"  480000   JPY ", "", "480000", "JPY"},
		{"JPY 480000", "JPY", "480000", "JPY"},
		{"1250.5", "EUR", "125050", "EUR"},
	} {
		minor, cur, err := parseMoney(c.amount, c.flag)
		if err != nil || minor != c.minor || cur != c.cur {
			t.Errorf("parseMoney(%q, %q) = %q %q %v, want %q %q", c.amount, c.flag, minor, cur, err, c.minor, c.cur)
		}
	}
	if _, _, err := parseMoney("EUR 12.00", "USD"); err == nil || !strings.Contains(err.Error(), "--currency is USD") {
		t.Errorf("currency first, disagreeing flag: %v", err)
	}
}
