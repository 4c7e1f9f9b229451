package app_test

import (
	"strings"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/civicledger/civicledger/app"
	"github.com/civicledger/civicledger/ledger"
)

// indexed lists the "type.key" of the attributes marked for indexing.
func indexed(evs []abci.Event) map[string]bool {
	out := map[string]bool{}
	for _, e := range evs {
		for _, at := range e.Attributes {
			if at.Index {
				out[e.Type+"."+at.Key] = true
			}
		}
	}
	return out
}

// TestIndexOnlySearched: a validator marks for CometBFT's indexer only the
// attributes that searches use (a grant's id, on the award and on a payment
// against it); an auditor node (IndexAllEvents) marks every one. The events
// themselves, and the results' consensus part, are the same on both.
func TestIndexOnlySearched(t *testing.T) {
	f := newFixture()
	val := openApp(t, "")
	aud := openApp(t, "", func(o *app.Options) { o.IndexAllEvents = true })
	f.initChain(t, val)
	f.initChain(t, aud)
	txs := [][]byte{
		f.tx(t, "agency-1", 1, 40, award("G-1", "1000"), "grants"),
		f.tx(t, "agency-1", 2, 40, payment("P-1", "G-1", "10"), "finance"),
	}
	rv, ra := finalize(t, val, 1, txs...), finalize(t, aud, 1, txs...)
	if string(rv.AppHash) != string(ra.AppHash) {
		t.Fatal("app hashes differ")
	}
	for i := range txs {
		v, a := rv.TxResults[i], ra.TxResults[i]
		if v.Code != 0 || a.Code != 0 {
			t.Fatalf("tx %d: codes %d %d (%s)", i, v.Code, a.Code, v.Log)
		}
		if len(v.Events) != len(a.Events) {
			t.Fatalf("tx %d: %d events on the validator, %d on the auditor node", i, len(v.Events), len(a.Events))
		}
		all := 0
		for j, e := range v.Events {
			if e.Type != a.Events[j].Type || len(e.Attributes) != len(a.Events[j].Attributes) {
				t.Fatalf("tx %d event %d differs: %v / %v", i, j, e, a.Events[j])
			}
			for k, at := range e.Attributes {
				b := a.Events[j].Attributes[k]
				if at.Key != b.Key || at.Value != b.Value || !b.Index {
					t.Errorf("tx %d %s.%s: validator %+v, auditor %+v", i, e.Type, at.Key, at, b)
				}
				all++
			}
		}
		got := indexed(v.Events)
		for k := range got {
			typ, key, _ := strings.Cut(k, ".")
			if !ledger.Searched(typ, key) {
				t.Errorf("tx %d: %s indexed but no search uses it", i, k)
			}
		}
		if !got["grant.id"] {
			t.Errorf("tx %d: grant.id not indexed (history of G-1 searches it): %v", i, got)
		}
		if len(got) >= all {
			t.Errorf("tx %d: %d of %d attributes indexed", i, len(got), all)
		}
	}
}
