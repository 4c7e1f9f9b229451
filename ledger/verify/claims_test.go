package verify_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/civicledger/civicledger/ledger/verify"
)

// withClaims returns b with the manifest sentences the verified facts give,
// as an honest exporter writes them.
func withClaims(t *testing.T, f *fixture, b *verify.Bundle) *verify.Bundle {
	t.Helper()
	rep, err := verify.VerifyBundle(b, f.genesis, f.genesisSum, f.now())
	if err != nil {
		t.Fatal(err)
	}
	b = clone(t, b)
	b.Manifest.Proves = rep.Claims
	return b
}

// A report holds only what was checked: every manifest field is checked
// against the proofs (the sentences too), what cannot be checked is kept
// apart as unverified, and a failed bundle reports no facts.
func TestBundleManifestClaims(t *testing.T) {
	f := newFixture(t)
	grant := withClaims(t, f, f.recordBundle(t, "grant", "G-1", 5))
	absent := withClaims(t, f, f.recordBundle(t, "grant", "G-404", 5))
	tx := withClaims(t, f, f.txBundle(t, 1))

	rep, err := verify.VerifyBundle(grant, f.genesis, f.genesisSum, f.now())
	if err != nil || rep.Outcome != "VERIFIED" || len(rep.Claims) != 3 || !strings.Contains(rep.Claims[0], "is present") {
		t.Fatalf("honest bundle: %v %+v", err, rep)
	}
	if last := rep.Steps[len(rep.Steps)-1]; last.Name != verify.StepClaims || !last.OK {
		t.Errorf("last step %+v", last)
	}
	rep, err = verify.VerifyBundle(tx, f.genesis, f.genesisSum, f.now())
	if err != nil || len(rep.Claims) != 4 || !strings.Contains(rep.Claims[2], "officers of agency-1") {
		t.Fatalf("honest tx bundle: %v %+v", err, rep.Claims)
	}

	edit := func(b *verify.Bundle, fn func(m *verify.Manifest)) *verify.Bundle {
		b = clone(t, b)
		fn(&b.Manifest)
		return b
	}
	for name, c := range map[string]struct {
		b    *verify.Bundle
		step string
		says string
	}{
		"a sentence turned around": {edit(grant, func(m *verify.Manifest) {
			m.Proves[0] = strings.Replace(m.Proves[0], "present, with the value abci_query.response.value, in", "ABSENT from", 1)
		}), verify.StepClaims, "manifest.proves[0]"},
		"absence claimed present": {edit(absent, func(m *verify.Manifest) {
			m.Proves[0] = strings.Replace(m.Proves[0], "ABSENT from", "present, with the value abci_query.response.value, in", 1)
		}), verify.StepClaims, "manifest.proves[0]"},
		"a sentence added":   {edit(grant, func(m *verify.Manifest) { m.Proves = append(m.Proves, "and the minister approved it") }), verify.StepClaims, "manifest.proves[3]"},
		"a sentence dropped": {edit(grant, func(m *verify.Manifest) { m.Proves = m.Proves[:2] }), verify.StepClaims, "missing"},
		"tx code claimed":    {edit(tx, func(m *verify.Manifest) { m.Proves[1] = strings.Replace(m.Proves[1], "code 0", "code 7", 1) }), verify.StepClaims, "manifest.proves[1]"},
		"another height":     {edit(grant, func(m *verify.Manifest) { m.Height = 4 }), verify.StepQuery, "height"},
		"another id":         {edit(grant, func(m *verify.Manifest) { m.ID = "G-2" }), verify.StepFormat, "G-2"},
		"another kind":       {edit(grant, func(m *verify.Manifest) { m.Kind = "licence" }), verify.StepFormat, "licence"},
		"another store":      {edit(grant, func(m *verify.Manifest) { m.Store = "licences" }), verify.StepFormat, "licences"},
		"another key":        {edit(grant, func(m *verify.Manifest) { m.Key = "G-2" }), verify.StepFormat, "G-2"},
		"another chain id":   {edit(grant, func(m *verify.Manifest) { m.ChainID = "civic-other" }), verify.StepChainID, "civic-other"},
	} {
		rep, err := verify.VerifyBundle(roundTrip(t, c.b), f.genesis, f.genesisSum, f.now())
		var be *verify.BundleError
		switch {
		case err == nil:
			t.Errorf("%s: VERIFIED", name)
		case !errors.As(err, &be) || be.Step != c.step || !strings.Contains(err.Error(), c.says):
			t.Errorf("%s: %v, want step %q naming %q", name, err, c.step, c.says)
		case rep.Outcome != "" || !reflectZero(rep.Facts):
			t.Errorf("%s: a failed bundle reports facts %+v", name, rep.Facts)
		case len(rep.Steps) == 0 || rep.Steps[len(rep.Steps)-1] != verify.Step{Name: be.Step, OK: false, Detail: be.Err.Error()}:
			// The failed step closes the steps, as in an online report.
			t.Errorf("%s: steps %+v do not end with the failed step %q", name, rep.Steps, be.Step)
		}
		if bz, _ := json.Marshal(rep); err != nil && strings.Contains(string(bz), `"claims":[`) {
			t.Errorf("%s: the report of a failed bundle has claims: %s", name, bz)
		}
	}

	// What nothing covers verifies, and is reported apart, as stated.
	dated := edit(grant, func(m *verify.Manifest) { m.Created, m.Tool = "1999-01-01T00:00:00Z", "a tool of the exporter's" })
	rep, err = verify.VerifyBundle(dated, f.genesis, f.genesisSum, f.now())
	if err != nil || rep.Unverified.Created != "1999-01-01T00:00:00Z" || rep.Unverified.Tool != "a tool of the exporter's" || rep.Unverified.Note == "" {
		t.Fatalf("created/tool: %v %+v", err, rep.Unverified)
	}
	bz, _ := json.Marshal(rep)
	var shape map[string]json.RawMessage
	_ = json.Unmarshal(bz, &shape)
	if strings.Contains(string(shape["verified"]), "1999") || !strings.Contains(string(shape["unverified"]), "1999") {
		t.Errorf("created shown as verified: %s", bz)
	}

	// Events and logs are outside LastResultsHash: an edited event or log
	// verifies, never as a fact, and the facts do not change.
	honest, _ := verify.VerifyBundle(tx, f.genesis, f.genesisSum, f.now())
	forged := clone(t, tx)
	ev := abci.Event{Type: "grant", Attributes: []abci.EventAttribute{{Key: "amount", Value: "99999999", Index: true}}}
	forged.BlockResults.TxsResults[1].Events = []abci.Event{ev}
	forged.BlockResults.TxsResults[1].Log = "awarded 99,999,999.99 EUR"
	forged.Tx.TxResult.Events = []abci.Event{ev}
	rep, err = verify.VerifyBundle(roundTrip(t, forged), f.genesis, f.genesisSum, f.now())
	if err != nil {
		t.Fatalf("edited events: %v", err)
	}
	hj, _ := json.Marshal(honest.Facts)
	fj, _ := json.Marshal(rep.Facts)
	if string(hj) != string(fj) {
		t.Errorf("edited events changed the verified facts:\n%s\n%s", hj, fj)
	}
	if len(rep.Unverified.Events) != 1 || rep.Unverified.Log != "awarded 99,999,999.99 EUR" || strings.Contains(string(fj), "99999999") {
		t.Errorf("events: unverified %+v, facts %s", rep.Unverified, fj)
	}
	if !slices.Equal(rep.Claims, honest.Claims) {
		t.Errorf("claims changed: %v", rep.Claims)
	}
}

func reflectZero(f verify.Facts) bool {
	bz, _ := json.Marshal(f)
	zero, _ := json.Marshal(verify.Facts{})
	return string(bz) == string(zero)
}
