package app_test

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/civicledger/civicledger/app"
	"github.com/civicledger/civicledger/ledger"
)

// TestNaturalPersonNeverInResultsOrMetrics: CheckTx refuses a person named
// in clear (code 50) and personal data in free text (code 49); a grant to
// an individual and its payment commit with the commitment only, and
// neither the events, the result data, the state nor the metrics hold the
// person's name or identifier.
func TestNaturalPersonNeverInResultsOrMetrics(t *testing.T) {
	const name, id = "Jane Example", "JG103759A"
	f := newFixture()
	reg := prometheus.NewRegistry()
	a := openApp(t, "", func(o *app.Options) { o.Metrics = app.NewMetrics(reg) })
	defer a.Close()
	f.initChain(t, a)
	ctx := context.Background()
	check := func(tx []byte) uint32 {
		t.Helper()
		res, err := a.CheckTx(ctx, &abci.RequestCheckTx{Tx: tx, Type: abci.CheckTxType_New})
		if err != nil {
			t.Fatal(err)
		}
		return res.Code
	}
	inClear := award("G-1", "100000")
	inClear.Recipient = ledger.Party{Name: name, Scheme: "GB-NINO", ID: id}
	if c := check(f.tx(t, "agency-1", 1, 50, inClear, "grants")); c != uint32(ledger.ErrPersonInClear.Code) {
		t.Fatalf("person in clear: code %d", c)
	}
	email := award("G-1", "100000")
	email.Purpose = "Support for jane@example.org"
	if c := check(f.tx(t, "agency-1", 2, 50, email, "grants")); c != uint32(ledger.ErrPersonalData.Code) {
		t.Fatalf("email in purpose: code %d", c)
	}

	salt := bytes.Repeat([]byte{1}, ledger.SaltSize)
	c, err := ledger.IndividualCommitment(salt, ledger.Identity{Scheme: "GB-NINO", ID: id, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	person := ledger.Party{Individual: &ledger.Individual{Commitment: c, Label: "Individual recipient"}}
	g := award("G-1", "100000")
	g.Recipient = person
	p := payment("P-1", "G-1", "5000")
	p.Payee = person
	res := finalizeWith(t, a, 1, nil, nil, f.tx(t, "agency-1", 3, 50, g, "grants"))
	res2 := finalizeWith(t, a, 2, nil, nil, f.tx(t, "agency-1", 4, 50, p, "finance"))
	var seen strings.Builder
	for _, r := range []*abci.ResponseFinalizeBlock{res, res2} {
		for _, tr := range r.TxResults {
			if tr.Code != 0 {
				t.Fatalf("tx code %d: %s", tr.Code, tr.Log)
			}
			seen.WriteString(tr.String())
		}
		for _, e := range r.Events {
			seen.WriteString(e.String())
		}
	}
	if !strings.Contains(seen.String(), "individual:"+c) {
		t.Fatalf("no event names the commitment:\n%s", seen.String())
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var metrics strings.Builder
	for _, mf := range mfs {
		metrics.WriteString(mf.String())
	}
	for _, code := range []ledger.Code{ledger.ErrPersonInClear.Code, ledger.ErrPersonalData.Code} {
		if !strings.Contains(metrics.String(), `value:"`+strconv.Itoa(int(code))+`"`) {
			t.Errorf("the refusals counted no code %d", code)
		}
	}
	for what, text := range map[string]string{"results and events": seen.String(), "metrics": metrics.String()} {
		if strings.Contains(text, name) || strings.Contains(text, id) || strings.Contains(text, "jane@") {
			t.Errorf("the %s hold personal data", what)
		}
	}
}
