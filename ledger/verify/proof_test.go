package verify_test

import (
	"bytes"
	"errors"
	"testing"

	cmtcrypto "github.com/cometbft/cometbft/proto/tendermint/crypto"

	"github.com/civicledger/civicledger/ledger/store"
	"github.com/civicledger/civicledger/ledger/verify"
)

func proofOps(t testing.TB, view *store.View, st, key string) ([]byte, []cmtcrypto.ProofOp) {
	t.Helper()
	v, ip, sp, err := view.Proof(st, []byte(key))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := ip.Marshal()
	b, _ := sp.Marshal()
	return v, []cmtcrypto.ProofOp{{Type: verify.OpIAVL, Key: []byte(key), Data: a}, {Type: verify.OpSimple, Key: []byte(st), Data: b}}
}

func TestStoreValueTampering(t *testing.T) {
	m, err := store.OpenMem([]string{"grants", "meta", "payments"}, store.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"G-1", "G-2", "G-3"} {
		if err := m.Set("grants", []byte(k), []byte(`{"id":"`+k+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	_ = m.Set("meta", []byte("params"), []byte("{}"))
	_ = m.Set("payments", []byte("P-1"), []byte("{}"))
	appHash, _, err := m.Commit()
	if err != nil {
		t.Fatal(err)
	}
	view, _ := m.At(1)
	value, ops := proofOps(t, view, "grants", "G-2")
	if _, err := verify.StoreValue(appHash, "grants", []byte("G-2"), value, ops); err != nil {
		t.Fatalf("valid proof rejected: %v", err)
	}
	_, absentOps := proofOps(t, view, "grants", "G-9")
	if _, err := verify.StoreValue(appHash, "grants", []byte("G-9"), nil, absentOps); err != nil {
		t.Fatalf("valid absence proof rejected: %v", err)
	}
	clone := func(ops []cmtcrypto.ProofOp) []cmtcrypto.ProofOp {
		out := make([]cmtcrypto.ProofOp, len(ops))
		for i, o := range ops {
			out[i] = cmtcrypto.ProofOp{Type: o.Type, Key: bytes.Clone(o.Key), Data: bytes.Clone(o.Data)}
		}
		return out
	}
	flip := func(b []byte, i int) []byte { b = bytes.Clone(b); b[i%len(b)] ^= 1; return b }
	cases := []struct {
		name    string
		appHash []byte
		key     string
		value   []byte
		ops     []cmtcrypto.ProofOp
		step    string
	}{
		{"value byte", appHash, "G-2", flip(value, 3), ops, "op0"},
		{"app hash byte", flip(appHash, 0), "G-2", value, ops, "op1"},
		{"other key", appHash, "G-1", value, func() []cmtcrypto.ProofOp { o := clone(ops); o[0].Key = []byte("G-1"); return o }(), "op0"},
		{"present key claimed absent", appHash, "G-2", nil, ops, "op0"},
		{"absent key claimed present", appHash, "G-9", value, absentOps, "op0"},
		{"wrong store", appHash, "G-2", value, func() []cmtcrypto.ProofOp { o := clone(ops); o[1].Key = []byte("payments"); return o }(), "op1"},
		{"missing op", appHash, "G-2", value, ops[:1], "shape"},
	}
	for i := range ops[0].Data {
		o := clone(ops)
		o[0].Data = flip(o[0].Data, i)
		cases = append(cases, struct {
			name    string
			appHash []byte
			key     string
			value   []byte
			ops     []cmtcrypto.ProofOp
			step    string
		}{"op0 byte", appHash, "G-2", value, o, ""})
	}
	for i := range ops[1].Data {
		o := clone(ops)
		o[1].Data = flip(o[1].Data, i)
		cases = append(cases, struct {
			name    string
			appHash []byte
			key     string
			value   []byte
			ops     []cmtcrypto.ProofOp
			step    string
		}{"op1 byte", appHash, "G-2", value, o, ""})
	}
	for _, tc := range cases {
		st := "grants"
		if tc.name == "wrong store" {
			st = "payments"
		}
		_, err := verify.StoreValue(tc.appHash, st, []byte(tc.key), tc.value, tc.ops)
		if !errors.Is(err, verify.ErrProof) {
			t.Errorf("%s: tampered proof accepted (err %v)", tc.name, err)
			continue
		}
		var pe *verify.ProofError
		if tc.step != "" && (!errors.As(err, &pe) || pe.Step != tc.step) {
			t.Errorf("%s: failed at %v, want step %s", tc.name, err, tc.step)
		}
	}
}
