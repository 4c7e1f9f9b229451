package main

import (
	"bytes"
	"encoding/csv"
	"slices"
	"strings"
	"testing"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/ledger"
)

type auditOut struct {
	Height        int64                      `json:"height"`
	Verified      bool                       `json:"verified"`
	Proofs        *auditProofsOut            `json:"proofs"`
	Warnings      []string                   `json:"warnings"`
	Agencies      []string                   `json:"agencies"`
	Totals        []client.AuditTotals       `json:"totals"`
	Discrepancies []client.Discrepancy       `json:"discrepancies"`
	Summary       auditSummary               `json:"summary"`
	Result        string                     `json:"result"`
	Misbehaviour  *client.MisbehaviourReport `json:"misbehaviour"`
}

// TestAudit records grants, payments and reversals in two currencies on a
// real two-agency network and audits it: unproved, proved from a trust root,
// by agency, a page at a time, in every output format; then checks the
// mismatch path on tampered copies of the collected records.
func TestAudit(t *testing.T) {
	net := testNet(t, "civic-audit-test")
	a := net.Testnet.Agencies
	ok1 := func(args ...string) string { t.Helper(); return mustCLI(t, net, 0, args...) }
	ok2 := func(args ...string) string { t.Helper(); return mustCLI(t, net, 1, args...) }

	ok1(awardArgs("G-A-1", "1000.00 EUR")...)
	ok1(awardArgs("G-A-2", "300.00 USD")...)
	ok1(paymentArgs("P-A-1", "250.00 EUR", "--grant", "G-A-1")...)
	ok1(paymentArgs("P-A-2", "100.00 USD", "--grant", "G-A-2")...)
	ok1(paymentArgs("P-A-3", "50.00 EUR")...)
	ok1(paymentArgs("P-A-4", "40.00 EUR", "--grant", "G-A-1")...)
	ok1("tx", "payment", "reverse", "--from", "finance", "--id", "P-A-4", "--reason", "Duplicate")
	ok2(awardArgs("G-B-1", "700.00 EUR")...)
	_, last, _ := txLines(t, ok2(paymentArgs("P-B-1", "200.00 EUR", "--grant", "G-B-1")...))

	// The audit reads the state at the latest block minus one: wait until
	// it includes the last transaction.
	ctx := t.Context()
	c, err := client.New(a[0].RPC)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitForHeight(ctx, last+2); err != nil {
		t.Fatal(err)
	}

	home := t.TempDir()
	as := func(args ...string) []string { return append([]string{"--home", home, "--node", a[0].RPC}, args...) }
	want := map[string]ledger.Totals{
		"agency-1/EUR": {Agency: "agency-1", Currency: "EUR", Awarded: 100000, Grants: 1, Paid: 30000, PaidAgainstGrant: 25000, Payments: 2, Reversed: 4000, Reversals: 1},
		"agency-1/USD": {Agency: "agency-1", Currency: "USD", Awarded: 30000, Grants: 1, Paid: 10000, PaidAgainstGrant: 10000, Payments: 1},
		"agency-2/EUR": {Agency: "agency-2", Currency: "EUR", Awarded: 70000, Grants: 1, Paid: 20000, PaidAgainstGrant: 20000, Payments: 1},
	}
	checkTotals := func(t *testing.T, r auditOut, keys ...string) {
		t.Helper()
		if r.Result != auditOK || len(r.Discrepancies) != 0 || len(r.Totals) != len(keys) {
			t.Fatalf("audit report: %+v", r)
		}
		for i, k := range keys {
			row := r.Totals[i]
			if !row.OK || row.Stored == nil || *row.Stored != want[k] || row.Recomputed != want[k] {
				t.Errorf("%s: %+v, want %+v", k, row, want[k])
			}
		}
	}

	t.Run("no trust root", func(t *testing.T) {
		out, errOut, code := run(t, as("-o", "json", "audit")...)
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		r := decodeJSON[auditOut](t, out)
		checkTotals(t, r, "agency-1/EUR", "agency-1/USD", "agency-2/EUR")
		if r.Verified || r.Proofs != nil || !slices.Equal(r.Agencies, []string{"agency-1", "agency-2"}) ||
			r.Summary.Grants != 3 || r.Summary.Payments != 5 || r.Summary.TotalsOK != 3 {
			t.Errorf("report: %+v", r)
		}
		contains(t, "stderr", errOut, "warning: no trust root")
		// --no-proofs: no warning about the trust root.
		_, errOut, code = run(t, as("audit", "--no-proofs")...)
		if code != 0 || strings.Contains(errOut, "trust root") {
			t.Errorf("--no-proofs: exit %d, stderr %s", code, errOut)
		}
	})

	if out, errOut, code := run(t, as("trust", "init", "--genesis", net.Testnet.Genesis)...); code != 0 {
		t.Fatalf("trust init: exit %d\n%s\n%s", code, out, errOut)
	}

	t.Run("proved", func(t *testing.T) {
		out, errOut, code := run(t, as("audit", "--witness", a[1].RPC)...)
		if code != 0 || lastLine(out) != auditOK {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		contains(t, "audit", out, "state height:", "keys proved against header", "agency-1", "EUR", "stored", "recomputed",
			"1000.00", "300.00", "250.00", "40.00", "discrepancies: none", "summary: 2 agencies, 3 grants, 5 payments; 3 of 3 totals reconcile; 0 discrepancies")
		if strings.Contains(errOut, "warning") {
			t.Errorf("warning with a witness and a trust root:\n%s", errOut)
		}
		out, _, code = run(t, as("-o", "json", "audit", "--witness", a[1].RPC, "--page-size", "1")...)
		r := decodeJSON[auditOut](t, out)
		checkTotals(t, r, "agency-1/EUR", "agency-1/USD", "agency-2/EUR")
		// 2 agencies, 3 grants, 5 payments, and every currency's totals key
		// of each agency (present or proved absent).
		if code != 0 || !r.Verified || r.Proofs == nil || r.Proofs.VerifiedKeys != 2+3+5+2*len(ledger.Currencies()) || r.Proofs.HeaderHeight != r.Height+1 {
			t.Errorf("proved report (exit %d): %+v %+v", code, r, r.Proofs)
		}
		// Every block up to the audited height was read for evidence of
		// validator misbehaviour, and there is none.
		if m := r.Misbehaviour; m == nil || m.From != 1 || m.To != r.Height || m.Scanned != r.Height || len(m.Evidence) != 0 || r.Summary.Misbehaviour != 0 {
			t.Errorf("misbehaviour section: %+v", m)
		}
		out, _, code = run(t, as("-o", "json", "audit", "--witness", a[1].RPC, "--evidence-from", "3")...)
		if r := decodeJSON[auditOut](t, out); code != 0 || r.Misbehaviour == nil || r.Misbehaviour.From != 3 || r.Misbehaviour.Scanned != r.Height-2 {
			t.Errorf("--evidence-from 3 (exit %d): %+v", code, r.Misbehaviour)
		}
	})

	t.Run("one agency csv", func(t *testing.T) {
		out, errOut, code := run(t, as("-o", "csv", "audit", "--agency", "agency-2", "--page-size", "1")...)
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatalf("csv: %v\n%s", err, out)
		}
		if len(recs) != 2 || !slices.Equal(recs[0], auditCSVHeader) {
			t.Fatalf("csv rows: %q", recs)
		}
		r := recs[1]
		if r[0] != "totals" || r[1] != "agency-2" || r[2] != "EUR" || r[4] != auditOK || r[5] != "70000" || r[6] != "70000" || r[9] != "20000" {
			t.Errorf("csv totals row: %q", r)
		}
		// The same amounts as decimals, in columns after the old ones.
		col := func(name string) string { return r[slices.Index(auditCSVHeader, name)] }
		if len(r) != len(auditCSVHeader) || col("stored_awarded_decimal") != "700.00" || col("recomputed_awarded_decimal") != "700.00" ||
			col("stored_paid_decimal") != "200.00" || col("height") != r[19] || col("detail") != r[20] {
			t.Errorf("csv decimal columns: %q", r)
		}
	})

	t.Run("usage and network", func(t *testing.T) {
		wantCode(t, 2, []string{"--output must be text, json or csv"}, as("-o", "yaml", "audit")...)
		wantCode(t, 2, []string{"unknown agency"}, as("audit", "--agency", "agency-9", "--no-proofs")...)
		wantCode(t, 2, []string{"--agency"}, as("audit", "--agency", "a/b")...)
		wantCode(t, 2, []string{"--page-size"}, as("audit", "--page-size", "0")...)
		wantCode(t, 2, []string{"--evidence-from"}, as("audit", "--evidence-from", "0")...)
		wantCode(t, 2, []string{"unknown flag"}, as("audit", "--bogus")...)
		wantCode(t, 2, []string{"connection refused"}, "--home", home, "--node", deadNode(t), "audit")
	})

	t.Run("tampered", func(t *testing.T) {
		calls := 0
		d, proofs, err := c.CollectAudit(ctx, client.AuditOptions{Progress: func(int) { calls++ }, ProgressEvery: 2})
		if err != nil || proofs != nil {
			t.Fatal(err, proofs)
		}
		if calls != 5 { // 8 records + 3 totals, every 2
			t.Errorf("progress called %d times", calls)
		}
		if r := client.Reconcile(d); !r.OK() {
			t.Fatalf("untampered: %+v", r.Discrepancies)
		}
		// Tamper with a deep copy each time.
		tamper := func(f func(d *client.AuditData)) *client.AuditReport {
			cp := *d
			cp.Grants = slices.Clone(d.Grants)
			cp.Payments = slices.Clone(d.Payments)
			cp.Stored = map[string]*ledger.Totals{}
			for k, v := range d.Stored {
				tv := *v
				cp.Stored[k] = &tv
			}
			f(&cp)
			return client.Reconcile(&cp)
		}
		kinds := func(r *client.AuditReport) []string {
			var ks []string
			for _, x := range r.Discrepancies {
				ks = append(ks, x.Kind+":"+x.ID)
			}
			slices.Sort(ks)
			return ks
		}
		grant := func(d *client.AuditData, id string) *ledger.Grant {
			for i := range d.Grants {
				if d.Grants[i].ID == id {
					return &d.Grants[i]
				}
			}
			t.Fatalf("no grant %s", id)
			return nil
		}
		payment := func(d *client.AuditData, id string) *ledger.Payment {
			for i := range d.Payments {
				if d.Payments[i].ID == id {
					return &d.Payments[i]
				}
			}
			t.Fatalf("no payment %s", id)
			return nil
		}
		cases := []struct {
			name string
			f    func(d *client.AuditData)
			want []string
		}{
			{"stored paid", func(d *client.AuditData) { d.Stored["agency-1/EUR"].Paid++ },
				[]string{"totals_mismatch:agency-1/EUR"}},
			{"missing totals record", func(d *client.AuditData) { d.Stored["agency-1/USD"] = nil },
				[]string{"totals_mismatch:agency-1/USD"}},
			{"stray totals record", func(d *client.AuditData) {
				d.Stored["agency-2/USD"] = &ledger.Totals{Agency: "agency-2", Currency: "USD", Paid: 1, Payments: 1}
			}, []string{"totals_mismatch:agency-2/USD"}},
			{"grant disbursed", func(d *client.AuditData) { grant(d, "G-A-1").Disbursed += 100 },
				[]string{"grant_disbursed_mismatch:G-A-1"}},
			{"over-disbursed", func(d *client.AuditData) { grant(d, "G-B-1").Disbursed = 80000; grant(d, "G-B-1").Payments = 2 },
				[]string{"grant_disbursed_mismatch:G-B-1", "grant_over_disbursed:G-B-1"}},
			{"hidden payment", func(d *client.AuditData) {
				d.Payments = slices.DeleteFunc(d.Payments, func(p ledger.Payment) bool { return p.ID == "P-A-3" })
			}, []string{"totals_mismatch:agency-1/EUR"}},
			{"missing grant", func(d *client.AuditData) { payment(d, "P-A-3").Grant = "G-NONE" },
				[]string{"payment_missing_grant:P-A-3", "totals_mismatch:agency-1/EUR"}},
			{"currency", func(d *client.AuditData) { payment(d, "P-A-2").Grant = "G-A-1" },
				[]string{"currency_mismatch:P-A-2", "grant_disbursed_mismatch:G-A-1", "grant_disbursed_mismatch:G-A-2"}},
			{"another agency's grant", func(d *client.AuditData) { payment(d, "P-A-3").Grant = "G-B-1" },
				[]string{"grant_disbursed_mismatch:G-B-1", "payment_foreign_grant:P-A-3", "totals_mismatch:agency-1/EUR"}},
			{"status", func(d *client.AuditData) { payment(d, "P-B-1").Status = "lost" },
				[]string{"grant_disbursed_mismatch:G-B-1", "payment_unknown_status:P-B-1", "totals_mismatch:agency-2/EUR"}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := tamper(tc.f)
				if got := kinds(r); !slices.Equal(got, tc.want) {
					t.Errorf("discrepancies %q, want %q\n%+v", got, tc.want, r.Discrepancies)
				}
			})
		}
		// Printed, a tampered report says MISMATCH, in every format.
		r := tamper(cases[0].f)
		out := &auditOutput{Height: r.Height, Agencies: r.Agencies, Totals: r.Totals, Discrepancies: r.Discrepancies, Result: auditMismatch}
		var text, csvOut bytes.Buffer
		if err := printAudit(&text, "text", out); err != nil {
			t.Fatal(err)
		}
		contains(t, "text", text.String(), "MISMATCH", "totals_mismatch: total/agency-1/EUR: stored {awarded 1,000.00 EUR (100000 minor units), grants 1, paid 300.01 EUR (30001 minor units)")
		if err := printAudit(&csvOut, "csv", out); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(&csvOut).ReadAll()
		if err != nil || len(recs) != 5 || recs[1][4] != auditMismatch || recs[4][0] != "discrepancy" || recs[4][4] != client.DiscTotals || len(recs[4]) != len(auditCSVHeader) {
			t.Errorf("csv (%v): %q", err, recs)
		}
	})
}

// TestAuditCSVRule: the last CSV column names the ledger invariant of each
// row: agency-totals for a totals row, the rule a discrepancy breaks, none
// for a failed proof.
func TestAuditCSVRule(t *testing.T) {
	tot := ledger.Totals{Agency: "agency-1", Currency: "EUR", Awarded: 100, Grants: 1}
	out := &auditOutput{Height: 7, Agencies: []string{"agency-1"}, Result: auditMismatch,
		Totals: []client.AuditTotals{{Agency: "agency-1", Currency: "EUR", Stored: &tot, Recomputed: tot, OK: true}},
		Discrepancies: []client.Discrepancy{
			{Kind: client.DiscGrantTotals, Agency: "agency-1", Currency: "EUR", ID: "G-1", Detail: "grant G-1: …", Rule: ledger.InvGrantDisbursed},
			{Kind: client.DiscProof, ID: "G-2", Detail: "grant G-2: the node returned no proof"},
		}}
	var b bytes.Buffer
	if err := printAudit(&b, "csv", out); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil || len(recs) != 4 {
		t.Fatalf("csv (%v): %q", err, recs)
	}
	last := len(auditCSVHeader) - 1
	if auditCSVHeader[last] != "rule" {
		t.Fatalf("last column %q, want rule", auditCSVHeader[last])
	}
	for i, want := range []string{"rule", ledger.InvAgencyTotals, ledger.InvGrantDisbursed, ""} {
		if len(recs[i]) != len(auditCSVHeader) || recs[i][last] != want {
			t.Errorf("row %d: %q, want rule %q", i, recs[i], want)
		}
	}
	if recs[2][4] != client.DiscGrantTotals {
		t.Errorf("discrepancy row: result %q, want its kind", recs[2][4])
	}
}

// TestAuditMisbehaviourReport: committed evidence of validator misbehaviour
// is listed first in the text report, under MISBEHAVIOUR, named by agency
// (by address when no agency holds the key), gives one CSV row each, and
// makes the one-line reason of the failed audit name the agencies.
func TestAuditMisbehaviourReport(t *testing.T) {
	tot := ledger.Totals{Agency: "agency-1", Currency: "EUR", Awarded: 100, Grants: 1}
	out := &auditOutput{Height: 9, Agencies: []string{"agency-1"}, Result: auditMisbehaviour, Discrepancies: []client.Discrepancy{},
		Totals: []client.AuditTotals{{Agency: "agency-1", Currency: "EUR", Stored: &tot, Recomputed: tot, OK: true}},
		Misbehaviour: &client.MisbehaviourReport{From: 1, To: 9, Scanned: 9, Evidence: []client.Misbehaviour{
			{Block: 7, Height: 5, Type: client.MisbehaviourDuplicateVote, Validator: "4353A941", Agency: "agency-4", Power: 10,
				Evidence: "E1", Detail: "two prevote votes at height 5 round 0, for nil and block 45FA", Verified: true},
			{Block: 9, Height: 7, Type: client.MisbehaviourDuplicateVote, Validator: "4353A941", Agency: "agency-4", Power: 10,
				Evidence: "E2", Detail: "two prevote votes at height 7 round 0, for nil and block 0499", Verified: true},
			{Block: 9, Height: 8, Type: client.MisbehaviourLightClientAttack, Validator: "77AA", Power: 10,
				Evidence: "E3", Detail: "signed a conflicting header 8 (common height 6)"},
		}}}
	out.Summary.Misbehaviour = 3
	var b bytes.Buffer
	if err := printAudit(&b, "text", out); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	contains(t, "text", text, "MISBEHAVIOUR: blocks 1..9 committed evidence that validators misbehaved:",
		"  agency-4: duplicate_vote by validator 4353A941 (power 10) at height 5: two prevote votes at height 5 round 0, for nil and block 45FA; committed in block 7 (verified)",
		"  validator 77AA (no agency): light_client_attack by validator 77AA (power 10) at height 8",
		"(NOT verified: the node is trusted)", "3 validator misbehaviour", "\nMISBEHAVIOUR\n")
	if strings.Index(text, "MISBEHAVIOUR:") > strings.Index(text, "AGENCY") {
		t.Errorf("the misbehaviour section comes after the totals:\n%s", text)
	}
	b.Reset()
	if err := printAudit(&b, "csv", out); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil || len(recs) != 5 {
		t.Fatalf("csv (%v): %q", err, recs)
	}
	if r := recs[2]; r[0] != "misbehaviour" || r[1] != "agency-4" || r[3] != "E1" || r[4] != client.MisbehaviourDuplicateVote ||
		!strings.Contains(r[slices.Index(auditCSVHeader, "detail")], "committed in block 7") {
		t.Errorf("misbehaviour row: %q", r)
	}
	if got := misbehaviourSuffix(out); got != "; VALIDATOR MISBEHAVIOUR committed on chain: agency-4 duplicate_vote ×2, validator 77AA (no agency) light_client_attack ×1" {
		t.Errorf("reason: %q", got)
	}

	// None: one line in the header, the result stays OK.
	out.Misbehaviour.Evidence, out.Summary.Misbehaviour, out.Result = nil, 0, auditOK
	b.Reset()
	if err := printAudit(&b, "text", out); err != nil {
		t.Fatal(err)
	}
	contains(t, "text", b.String(), "misbehaviour: none committed in blocks 1..9")
	if strings.Contains(b.String(), "MISBEHAVIOUR") {
		t.Errorf("MISBEHAVIOUR printed without evidence:\n%s", b.String())
	}
}
