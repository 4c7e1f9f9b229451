package ledger_test

import (
	"bytes"
	"slices"
	"testing"

	"github.com/civicledger/civicledger/ledger"
)

func TestGenesisValidate(t *testing.T) {
	cases := []struct {
		name string
		mod  func(gs *ledger.GenesisState)
		want *ledger.Error
	}{
		{"ok", func(*ledger.GenesisState) {}, nil},
		{"no agencies", func(gs *ledger.GenesisState) { gs.Agencies = nil }, ledger.ErrInvalidField},
		{"duplicate agency", func(gs *ledger.GenesisState) {
			gs.Agencies[1].ID = agCulture
		}, ledger.ErrAlreadyExists},
		{"invalid agency id", func(gs *ledger.GenesisState) { gs.Agencies[0].ID = "Ministry of Culture" }, ledger.ErrInvalidID},
		{"officer in two agencies", func(gs *ledger.GenesisState) {
			gs.Agencies[1].Officers = append(gs.Agencies[1].Officers, off(cultFin1, ledger.RoleFinance))
		}, ledger.ErrOfficerExists},
		{"agency without admin", func(gs *ledger.GenesisState) { gs.Agencies[0].Officers = gs.Agencies[0].Officers[1:] }, ledger.ErrLastAdmin},
		{"bad role", func(gs *ledger.GenesisState) { gs.Agencies[0].Officers[1].Roles = []ledger.Role{"boss"} }, ledger.ErrInvalidRole},
		{"short validator key", func(gs *ledger.GenesisState) { gs.Agencies[0].ValidatorKey = gs.Agencies[0].ValidatorKey[:16] }, ledger.ErrInvalidKey},
		{"shared validator key", func(gs *ledger.GenesisState) { gs.Agencies[1].ValidatorKey = gs.Agencies[0].ValidatorKey }, ledger.ErrInvalidKey},
		{"zero power", func(gs *ledger.GenesisState) { gs.Agencies[2].Power = 0 }, ledger.ErrInvalidField},
		{"no officers", func(gs *ledger.GenesisState) { gs.Agencies[2].Officers = nil }, ledger.ErrInvalidField},
		{"params: tiny max tx bytes", func(gs *ledger.GenesisState) { gs.Params.MaxTxBytes = 1023 }, ledger.ErrInvalidField},
		{"params: zero replay window", func(gs *ledger.GenesisState) { gs.Params.ReplayWindow = 0 }, ledger.ErrInvalidField},
		{"params: negative threshold", func(gs *ledger.GenesisState) { gs.Params.FourEyesThreshold = -1 }, ledger.ErrInvalidField},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gs := testGenesis()
			tc.mod(gs)
			expectErr(t, gs.Validate(), tc.want)
		})
	}
}

func TestInitGenesisState(t *testing.T) {
	c := newChain(t)
	c.block()
	ag := c.agency(agCulture)
	if ag == nil || len(ag.Officers) != 5 {
		t.Fatalf("agency: %+v", ag)
	}
	if !slices.IsSortedFunc(ag.Officers, func(a, b ledger.Officer) int { return bytes.Compare(a.Key, b.Key) }) {
		t.Fatal("genesis officers not sorted by key")
	}
	p, err := ledger.LoadParams(c.view())
	if err != nil || !p.Equal(ledger.DefaultParams()) {
		t.Fatalf("params %+v, %v", p, err)
	}
	for _, s := range ledger.StoreNames {
		if !c.has(s, string(ledger.SeedKey)) {
			t.Fatalf("store %s not seeded", s)
		}
	}
}
