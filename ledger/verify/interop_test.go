package verify_test

// Store proofs served by a real node:
//
//   - TestICS23Interop checks them with github.com/cosmos/ics23/go and
//     CometBFT's own light client code only (no civicledger package in the
//     verification path: what an independent verifier in Go would write
//     from the proof format in doc.go);
//   - TestStoreValueLiveTampering checks that verify.StoreValue rejects
//     every tampering of them (the live counterpart of proof_test.go).
//
// The network setup (header_test.go) uses project code.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	cmtmath "github.com/cometbft/cometbft/libs/math"
	"github.com/cometbft/cometbft/light"
	lighthttp "github.com/cometbft/cometbft/light/provider/http"
	cmtcrypto "github.com/cometbft/cometbft/proto/tendermint/crypto"
	rpcclient "github.com/cometbft/cometbft/rpc/client"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	cmttypes "github.com/cometbft/cometbft/types"
	ics23 "github.com/cosmos/ics23/go"

	"github.com/civicledger/civicledger/ledger/verify"
)

// independentHeader returns header h+1 of the chain served at rpcURL,
// verified from the genesis file with CometBFT code only: block 1 against
// the genesis validators, then light.Verify (skipping) to block h+1.
func independentHeader(t *testing.T, genesisFile, rpcURL string, h int64) *cmttypes.SignedHeader {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	doc, err := cmttypes.GenesisDocFromFile(genesisFile)
	if err != nil {
		t.Fatal(err)
	}
	prov, err := lighthttp.New(doc.ChainID, rpcURL)
	if err != nil {
		t.Fatal(err)
	}
	lb1, err := prov.LightBlock(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	vals := make([]*cmttypes.Validator, len(doc.Validators))
	for i, v := range doc.Validators {
		vals[i] = cmttypes.NewValidator(v.PubKey, v.Power)
	}
	gv := cmttypes.NewValidatorSet(vals)
	if !bytes.Equal(gv.Hash(), lb1.ValidatorsHash) || !bytes.Equal(gv.Hash(), lb1.ValidatorSet.Hash()) {
		t.Fatal("block 1 is not signed by the genesis validators")
	}
	if err := gv.VerifyCommitLightAllSignatures(doc.ChainID, lb1.Commit.BlockID, 1, lb1.Commit); err != nil {
		t.Fatalf("block 1: %v", err)
	}
	var lb *cmttypes.LightBlock
	for {
		if lb, err = prov.LightBlock(ctx, h+1); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("header %d: %v", h+1, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err := light.Verify(lb1.SignedHeader, lb1.ValidatorSet, lb.SignedHeader, lb.ValidatorSet,
		24*time.Hour, time.Now(), 10*time.Second, cmtmath.Fraction{Numerator: 1, Denominator: 3}); err != nil {
		t.Fatalf("header %d: %v", h+1, err)
	}
	return lb.SignedHeader
}

// ics23Check verifies the two proof ops of a "/store/<store>/key" answer
// with ics23 alone: op 0 under the store root it computes (IavlSpec), op 1
// as membership of (store, root) under appHash (TendermintSpec). value nil
// means absent.
func ics23Check(appHash []byte, store string, key, value []byte, ops []cmtcrypto.ProofOp) error {
	if len(ops) != 2 || ops[0].Type != "ics23:iavl" || ops[1].Type != "ics23:simple" ||
		!bytes.Equal(ops[0].Key, key) || string(ops[1].Key) != store {
		return fmt.Errorf("unexpected proof ops %v", ops)
	}
	var p0, p1 ics23.CommitmentProof
	if err := p0.Unmarshal(ops[0].Data); err != nil {
		return err
	}
	if err := p1.Unmarshal(ops[1].Data); err != nil {
		return err
	}
	root, err := p0.Calculate()
	if err != nil {
		return err
	}
	if value != nil {
		if !ics23.VerifyMembership(ics23.IavlSpec, root, &p0, key, value) {
			return fmt.Errorf("op 0: membership of %q does not verify", key)
		}
	} else if !ics23.VerifyNonMembership(ics23.IavlSpec, root, &p0, key) {
		return fmt.Errorf("op 0: non-membership of %q does not verify", key)
	}
	if !ics23.VerifyMembership(ics23.TendermintSpec, appHash, &p1, []byte(store), root) {
		return fmt.Errorf("op 1: store %q root %X is not under AppHash %X", store, []byte(root), appHash)
	}
	return nil
}

func TestICS23Interop(t *testing.T) {
	f := live(t)
	tn := f.A.net.Testnet
	rpcURL := tn.Agencies[2].RPC
	c, err := rpchttp.New(rpcURL, "/websocket")
	if err != nil {
		t.Fatal(err)
	}
	h := f.Payment.Height // G-1 and P-1 exist in this state
	hdr := independentHeader(t, tn.Genesis, rpcURL, h)
	cases := []struct {
		store, key string
		present    bool
	}{
		{"grants", "G-1", true},
		{"payments", "P-1", true},
		{"agencies", "agency-1", true},
		{"agencies", "agency-4", true},
		{"meta", "params", true},
		{"index", "grant/agency/agency-1/G-1", true},
		{"grants", "!store", true},
		{"grants", "G-0", false},    // between the seed key and G-1
		{"grants", "G-NONE", false}, // after every key
		{"grants", "!", false},      // before every key
		{"payments", "P-2", false},  // after every key
		{"licences", "L-1", false},  // a store holding only its seed key
		{"agencies", "agency-9", false},
	}
	for _, tc := range cases {
		res, err := c.ABCIQueryWithOptions(t.Context(), "/store/"+tc.store+"/key", []byte(tc.key), rpcclient.ABCIQueryOptions{Height: h, Prove: true})
		if err != nil {
			t.Fatal(err)
		}
		r := res.Response
		if r.Code != 0 || r.Height != h || r.ProofOps == nil {
			t.Fatalf("%s/%s: code %d height %d: %s", tc.store, tc.key, r.Code, r.Height, r.Log)
		}
		if (r.Value != nil) != tc.present {
			t.Fatalf("%s/%s: present=%v, want %v", tc.store, tc.key, r.Value != nil, tc.present)
		}
		if err := ics23Check(hdr.AppHash, tc.store, []byte(tc.key), r.Value, r.ProofOps.Ops); err != nil {
			t.Errorf("%s/%s: %v", tc.store, tc.key, err)
		}
		// ... and ics23 rejects what it should, too.
		if tc.present {
			if ics23Check(hdr.AppHash, tc.store, []byte(tc.key), append(bytes.Clone(r.Value), ' '), r.ProofOps.Ops) == nil {
				t.Errorf("%s/%s: ics23 accepted another value", tc.store, tc.key)
			}
			if ics23Check(hdr.AppHash, tc.store, []byte(tc.key), nil, r.ProofOps.Ops) == nil {
				t.Errorf("%s/%s: ics23 accepted a present key as absent", tc.store, tc.key)
			}
		}
		if ics23Check(flipAt(hdr.AppHash, 3), tc.store, []byte(tc.key), r.Value, r.ProofOps.Ops) == nil {
			t.Errorf("%s/%s: ics23 accepted another AppHash", tc.store, tc.key)
		}
		// Outside the independent path: the project's verifier agrees.
		if _, err := verify.StoreValue(hdr.AppHash, tc.store, []byte(tc.key), r.Value, r.ProofOps.Ops); err != nil {
			t.Errorf("%s/%s: verify.StoreValue disagrees with ics23: %v", tc.store, tc.key, err)
		}
	}
}

func cloneOps(ops []cmtcrypto.ProofOp) []cmtcrypto.ProofOp {
	out := make([]cmtcrypto.ProofOp, len(ops))
	for i, o := range ops {
		out[i] = cmtcrypto.ProofOp{Type: o.Type, Key: bytes.Clone(o.Key), Data: bytes.Clone(o.Data)}
	}
	return out
}

func TestStoreValueLiveTampering(t *testing.T) {
	f := live(t)
	H := f.Grant.Height // G-1 was written by block H
	hdr := f.verifiedA(t, H+1)
	key := []byte("G-1")
	res := f.query(t, "grants", key, H)
	value, ops := res.Value, res.ProofOps.Ops
	if _, err := verify.StoreValue(hdr.AppHash, "grants", key, value, ops); err != nil {
		t.Fatalf("real proof rejected: %v", err)
	}
	type tc struct {
		name    string
		appHash []byte
		store   string
		key     []byte
		value   []byte
		ops     []cmtcrypto.ProofOp
		step    string // "" when either op may be the one that fails
	}
	var cases []tc
	for i := range value {
		cases = append(cases, tc{fmt.Sprintf("value byte %d", i), hdr.AppHash, "grants", key, flipAt(value, i), ops, "op0"})
	}
	cases = append(cases,
		tc{"value with a byte appended", hdr.AppHash, "grants", key, append(bytes.Clone(value), '}'), ops, "op0"},
		tc{"value truncated", hdr.AppHash, "grants", key, value[:len(value)-1], ops, "op0"},
		tc{"empty value", hdr.AppHash, "grants", key, []byte{}, ops, "op0"},
	)
	// Every byte of every op's data, flipped in the low and the high bit.
	for o := range ops {
		for i := range ops[o].Data {
			for _, bit := range []byte{0x01, 0x80} {
				bad := cloneOps(ops)
				bad[o].Data[i] ^= bit
				cases = append(cases, tc{fmt.Sprintf("op %d data byte %d ^%#x", o, i, bit), hdr.AppHash, "grants", key, value, bad, ""})
			}
		}
	}
	for i := range hdr.AppHash {
		cases = append(cases, tc{fmt.Sprintf("AppHash byte %d", i), flipAt(hdr.AppHash, i), "grants", key, value, ops, "op1"})
	}
	edit := func(e func([]cmtcrypto.ProofOp) []cmtcrypto.ProofOp) []cmtcrypto.ProofOp { return e(cloneOps(ops)) }
	cases = append(cases,
		tc{"op 0 key changed", hdr.AppHash, "grants", key, value, edit(func(o []cmtcrypto.ProofOp) []cmtcrypto.ProofOp { o[0].Key = []byte("G-2"); return o }), "shape"},
		tc{"op 1 store changed", hdr.AppHash, "grants", key, value, edit(func(o []cmtcrypto.ProofOp) []cmtcrypto.ProofOp { o[1].Key = []byte("payments"); return o }), "shape"},
		tc{"op types swapped", hdr.AppHash, "grants", key, value, edit(func(o []cmtcrypto.ProofOp) []cmtcrypto.ProofOp { o[0].Type, o[1].Type = o[1].Type, o[0].Type; return o }), "shape"},
		tc{"ops reversed", hdr.AppHash, "grants", key, value, edit(func(o []cmtcrypto.ProofOp) []cmtcrypto.ProofOp { o[0], o[1] = o[1], o[0]; return o }), "shape"},
		tc{"op 1 missing", hdr.AppHash, "grants", key, value, ops[:1], "shape"},
		tc{"extra op", hdr.AppHash, "grants", key, value, append(cloneOps(ops), ops[1]), "shape"},
		tc{"no ops", hdr.AppHash, "grants", key, value, nil, "shape"},
		tc{"op 0 data empty", hdr.AppHash, "grants", key, value, edit(func(o []cmtcrypto.ProofOp) []cmtcrypto.ProofOp { o[0].Data = nil; return o }), "op0"},
		tc{"op 1 data empty", hdr.AppHash, "grants", key, value, edit(func(o []cmtcrypto.ProofOp) []cmtcrypto.ProofOp { o[1].Data = nil; return o }), "op1"},
		tc{"op 0 data truncated", hdr.AppHash, "grants", key, value, edit(func(o []cmtcrypto.ProofOp) []cmtcrypto.ProofOp { o[0].Data = o[0].Data[:len(o[0].Data)-1]; return o }), ""},
		tc{"op 1 data truncated", hdr.AppHash, "grants", key, value, edit(func(o []cmtcrypto.ProofOp) []cmtcrypto.ProofOp { o[1].Data = o[1].Data[:len(o[1].Data)-1]; return o }), ""},
		tc{"AppHash of header H (the state before)", f.verifiedA(t, H).AppHash, "grants", key, value, ops, "op1"},
		tc{"AppHash of a later state", f.verifiedA(t, f.Payment.Height+1).AppHash, "grants", key, value, ops, "op1"},
		tc{"present key claimed absent", hdr.AppHash, "grants", key, nil, ops, "op0"},
	)
	// The proof of another key, for this key and value.
	for _, other := range []struct{ store, key string }{{"grants", "!store"}, {"payments", "P-1"}, {"agencies", "agency-1"}} {
		r := f.query(t, other.store, []byte(other.key), f.Payment.Height)
		o := cloneOps(r.ProofOps.Ops)
		o[0].Key, o[1].Key = key, []byte("grants")
		cases = append(cases,
			tc{"proof of " + other.store + "/" + other.key + " (keys as is)", hdr.AppHash, "grants", key, value, r.ProofOps.Ops, "shape"},
			tc{"proof of " + other.store + "/" + other.key + " (keys rewritten)", hdr.AppHash, "grants", key, value, o, ""},
			tc{"proof of " + other.store + "/" + other.key + " with its own value, against header H+1", hdr.AppHash, other.store, []byte(other.key), r.Value, r.ProofOps.Ops, "op1"},
		)
	}
	// The proof of another height: state H-1 (no G-1 yet) checked against
	// header H+1; an unchanged record of state H-1 likewise.
	before := f.query(t, "grants", key, H-1)
	if before.Value != nil {
		t.Fatalf("G-1 present at %d", H-1)
	}
	ag := f.query(t, "agencies", []byte("agency-1"), H-1)
	agNow := f.query(t, "agencies", []byte("agency-1"), H)
	if !bytes.Equal(ag.Value, agNow.Value) {
		t.Fatalf("agency-1 changed in block %d", H)
	}
	cases = append(cases,
		tc{"absence proof of state H-1 against header H+1", hdr.AppHash, "grants", key, nil, before.ProofOps.Ops, "op1"},
		tc{"absence proof of state H-1 claimed as presence", hdr.AppHash, "grants", key, value, before.ProofOps.Ops, "op0"},
		tc{"unchanged record's proof of state H-1 against header H+1", hdr.AppHash, "agencies", []byte("agency-1"), ag.Value, ag.ProofOps.Ops, "op1"},
		// (the payment changed G-1: op 0 already fails)
		tc{"proof of a later state against header H+1", hdr.AppHash, "grants", key, value, f.query(t, "grants", key, f.Payment.Height).ProofOps.Ops, ""},
	)
	for _, c := range cases {
		_, err := verify.StoreValue(c.appHash, c.store, c.key, c.value, c.ops)
		wantProofErr(t, c.name, err, c.step)
		// The message names the failing op by its place and type.
		want := map[string]string{"op0": "proof op 0 (ics23:iavl: the key in its store): ", "op1": "proof op 1 (ics23:simple: the store's root in the AppHash): "}[c.step]
		if err != nil && want != "" && !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: %q does not start with %q", c.name, err, want)
		}
	}

	// Absence proofs for missing ids verify; a present key does not verify
	// as absent even with a neighbour's absence proof.
	for _, id := range []string{"G-0", "G-10", "G-NONE", "!", "~~~", "agency-1"} {
		r := f.query(t, "grants", []byte(id), H)
		if r.Value != nil {
			t.Fatalf("grants/%s present", id)
		}
		if _, err := verify.StoreValue(hdr.AppHash, "grants", []byte(id), nil, r.ProofOps.Ops); err != nil {
			t.Errorf("absence of grants/%s rejected: %v", id, err)
		}
		o := cloneOps(r.ProofOps.Ops)
		o[0].Key = key
		_, err := verify.StoreValue(hdr.AppHash, "grants", key, nil, o)
		wantProofErr(t, "G-1 claimed absent with the absence proof of "+id, err, "op0")
	}
}

func wantProofErr(t *testing.T, name string, err error, step string) {
	t.Helper()
	if !errors.Is(err, verify.ErrProof) {
		t.Errorf("%s: accepted or wrong error class: %v", name, err)
		return
	}
	var pe *verify.ProofError
	if !errors.As(err, &pe) {
		t.Errorf("%s: %v is not a *ProofError", name, err)
		return
	}
	if step != "" && pe.Step != step {
		t.Errorf("%s: failed at step %q (%v), want %q", name, pe.Step, err, step)
	}
}
