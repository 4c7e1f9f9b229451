package client_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	cmtcrypto "github.com/cometbft/cometbft/proto/tendermint/crypto"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/internal/keystore"
	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/verify"
	"github.com/civicledger/civicledger/node"
)

func submit(ctx context.Context, t *testing.T, c *client.Client, net *node.Network, i int, officer string, p ledger.Payload) *client.TxResult {
	t.Helper()
	ks, err := keystore.Open(net.KeyDir(i), keystore.BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ks.PrivKey(officer)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := c.BuildTx(ctx, client.Signer{Agency: net.Testnet.Agencies[i].ID, Keys: []ed25519.PrivateKey{k}}, p, client.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Submit(ctx, raw, true)
	if err != nil || !res.OK() {
		t.Fatalf("%s: %v %+v", p.Type(), err, res)
	}
	return res
}

// TestExportBundles exports record, absence and tx bundles from a live
// 4-agency network, stops the network, and verifies them offline with the
// genesis file alone; then tampered bundles must fail at the right step.
func TestExportBundles(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	dir := t.TempDir()
	net, err := node.StartNetwork(ctx, filepath.Join(dir, "net"), node.NetworkOptions{Agencies: 4, ExtraOfficers: true, ChainID: "civic-bundle"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(net.Stop)
	a := net.Testnet.Agencies
	c, _ := client.New(a[0].RPC)
	acme := ledger.Party{Name: "Acme", Scheme: "GB-COH", ID: "1"}
	award := submit(ctx, t, c, net, 0, "grants", &ledger.GrantAward{
		ID: "G-B1", Recipient: acme, Programme: "P", Purpose: "Purpose",
		Amount: "1000", Currency: "EUR", PeriodStart: "2026-01-01", PeriodEnd: "2026-12-31", DecisionDate: "2026-01-01",
		DocumentHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"})
	pay := submit(ctx, t, c, net, 0, "finance", &ledger.PaymentRecord{
		ID: "P-B1", Payee: acme, Amount: "100", Currency: "EUR", Date: "2026-02-01", Purpose: "First instalment", Grant: "G-B1"})

	home := t.TempDir()
	if _, err := client.InitTrustFromGenesis(ctx, home, net.Testnet.Genesis, a[1].RPC); err != nil {
		t.Fatal(err)
	}
	v, err := client.NewVerifier(ctx, home, a[0].RPC, []string{a[1].RPC, a[2].RPC})
	if err != nil {
		t.Fatal(err)
	}
	grant, err := v.ExportRecord(ctx, ledger.StoreGrants, []byte("G-B1"), 0, "grant", "G-B1")
	if err != nil {
		t.Fatal(err)
	}
	// The grant as awarded, before the payment changed it.
	grantBefore, err := v.ExportRecord(ctx, ledger.StoreGrants, []byte("G-B1"), award.Height, "grant", "G-B1")
	if err != nil {
		t.Fatal(err)
	}
	absent, err := v.ExportRecord(ctx, ledger.StoreGrants, []byte("G-NONE"), 0, "grant", "G-NONE")
	if err != nil {
		t.Fatal(err)
	}
	total, err := v.ExportRecord(ctx, ledger.StoreMeta, ledger.TotalsKey("agency-1", "EUR"), 0, "total", verify.TotalID("agency-1", "EUR"))
	if err != nil {
		t.Fatal(err)
	}
	payHash, _ := hex.DecodeString(pay.Hash)
	txb, err := v.ExportTx(ctx, payHash)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.ExportRecord(ctx, ledger.StoreGrants, []byte("G-B1"), 0, "payment", "G-B1"); err == nil {
		t.Error("a grant's key exported as a payment")
	}
	// A checkpoint trust root cannot make bundles.
	cpHome := t.TempDir()
	if _, err := client.InitTrustCheckpoint(cpHome, "civic-bundle", v.Trust.LastVerified.Height, v.Trust.LastVerified.Hash); err != nil {
		t.Fatal(err)
	}
	cpv, err := client.NewVerifier(ctx, cpHome, a[0].RPC, []string{a[1].RPC})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cpv.ExportRecord(ctx, ledger.StoreGrants, []byte("G-B1"), 0, "grant", "G-B1"); !errors.Is(err, client.ErrCheckpointRoot) {
		t.Errorf("export from a checkpoint root: %v", err)
	}
	if _, err := cpv.ExportTx(ctx, payHash); !errors.Is(err, client.ErrCheckpointRoot) {
		t.Errorf("tx export from a checkpoint root: %v", err)
	}
	held, err := v.TrustedBlocks(1, 1<<40)
	if err != nil || len(held) < 2 || held[0].Height != 1 {
		t.Errorf("trusted blocks: %d %v", len(held), err)
	}

	// The bundle holds the RPC's objects verbatim.
	rpcResult := func(path string) []byte {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a[0].RPC+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var env struct {
			Result json.RawMessage `json:"result"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || env.Result == nil {
			t.Fatalf("%s: %v", path, err)
		}
		return env.Result
	}
	part := func(b *verify.Bundle, name string) []byte {
		t.Helper()
		bz, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		var top map[string]json.RawMessage
		_ = json.Unmarshal(bz, &top)
		return top[name]
	}
	// Equal JSON, but for empty arrays, which CometBFT's JSON decoding turns
	// into nil slices and its encoding then omits ("aunts": [] of a one-tx
	// block's proof): the bundle holds what the RPC client decoded.
	sameJSON := func(what string, got, want []byte) {
		t.Helper()
		var g, w any
		if json.Unmarshal(got, &g) != nil || json.Unmarshal(want, &w) != nil || !reflect.DeepEqual(dropEmptyArrays(g), dropEmptyArrays(w)) {
			t.Errorf("%s is not the RPC's object:\nbundle: %s\nrpc:    %s", what, got, want)
		}
	}
	sameJSON("abci_query", part(grant, "abci_query"), rpcResult(fmt.Sprintf(`/abci_query?path="/store/grants/key"&data=0x%X&height=%d&prove=true`, "G-B1", grant.Manifest.Height)))
	sameJSON("tx", part(txb, "tx"), rpcResult(fmt.Sprintf("/tx?hash=0x%X&prove=true", payHash)))
	sameJSON("block_results", part(txb, "block_results"), rpcResult(fmt.Sprintf("/block_results?height=%d", pay.Height)))
	sameJSON("agency_query", part(txb, "agency_query"), rpcResult(fmt.Sprintf(`/abci_query?path="/store/agencies/key"&data=0x%X&height=%d&prove=true`, "agency-1", pay.Height-1)))
	var lbs []json.RawMessage
	_ = json.Unmarshal(part(txb, "light_blocks"), &lbs)
	for i, lb := range txb.LightBlocks {
		// The header is the RPC's; the commit is the one served when the
		// light client fetched it: for the latest block, the commit the node
		// had seen then (canonical: false), which may hold fewer signatures
		// than the canonical one served later.
		var got, commit struct {
			SignedHeader struct {
				Header json.RawMessage `json:"header"`
			} `json:"signed_header"`
		}
		_ = json.Unmarshal(lbs[i], &got)
		_ = json.Unmarshal(rpcResult(fmt.Sprintf("/commit?height=%d", lb.Height)), &commit)
		sameJSON(fmt.Sprintf("light block %d's header", lb.Height), got.SignedHeader.Header, commit.SignedHeader.Header)
	}

	// Offline from here.
	net.Stop()
	doc, sum, err := client.LoadGenesisFile(net.Testnet.Genesis)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	file := func(b *verify.Bundle) *verify.Bundle {
		t.Helper()
		bz, err := b.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		out, err := verify.ParseBundle(bz)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		b       *verify.Bundle
		outcome string
		heights []int64
	}{
		{"grant", grant, "VERIFIED", []int64{grant.Manifest.Height + 1}},
		{"grant before the payment", grantBefore, "VERIFIED", []int64{award.Height + 1}},
		{"absent grant", absent, "VERIFIED ABSENT", []int64{absent.Manifest.Height + 1}},
		{"total", total, "VERIFIED", []int64{total.Manifest.Height + 1}},
		{"payment tx", txb, "VERIFIED", []int64{pay.Height, pay.Height + 1}},
	} {
		rep, err := verify.VerifyBundle(file(tc.b), doc, sum, now)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if rep.Outcome != tc.outcome || len(rep.Headers) != len(tc.heights) {
			t.Fatalf("%s: %+v", tc.name, rep)
		}
		for i, h := range rep.Headers {
			if h.Height != tc.heights[i] || len(h.Signers) < 3 || h.Signers[0].Name == "" {
				t.Errorf("%s: header %+v", tc.name, h)
			}
		}
		if tc.b.LightBlocks[0].Height != 1 {
			t.Errorf("%s: starts at %d", tc.name, tc.b.LightBlocks[0].Height)
		}
		t.Logf("%s: %d light blocks, %+v", tc.name, len(tc.b.LightBlocks), rep.Steps[len(rep.Steps)-1])
	}
	rep, _ := verify.VerifyBundle(txb, doc, sum, now)
	if rep.Tx == nil || rep.Tx.Type != "payment/record" || rep.Tx.Agency != "agency-1" || len(rep.Tx.Signers) != 1 || rep.Tx.Signers[0].Roles[0] != ledger.RoleFinance {
		t.Errorf("tx report %+v", rep.Tx)
	}
	if grant.Manifest.Height < pay.Height || !strings.Contains(string(mustVerify(t, grant, doc, sum).Value), `"payments":1`) {
		t.Errorf("latest grant at %d (payment at %d)", grant.Manifest.Height, pay.Height)
	}

	// Tampering.
	other, err := node.GenerateTestnet(node.TestnetOptions{Agencies: 4, Output: filepath.Join(dir, "other"), ChainID: "civic-bundle", Fast: true, Keyring: keystore.BackendTest})
	if err != nil {
		t.Fatal(err)
	}
	otherDoc, otherSum, err := client.LoadGenesisFile(other.Genesis)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(b []byte, i int) []byte { b = bytes.Clone(b); b[i%len(b)] ^= 1; return b }
	with := func(src *verify.Bundle, fn func(b *verify.Bundle)) *verify.Bundle { b := file(src); fn(b); return b }
	last := func(b *verify.Bundle) *cmttypes.LightBlock { return b.LightBlocks[len(b.LightBlocks)-1] }
	signed := func(lb *cmttypes.LightBlock) *cmttypes.CommitSig {
		for i := range lb.Commit.Signatures {
			if s := &lb.Commit.Signatures[i]; s.BlockIDFlag == cmttypes.BlockIDFlagCommit {
				return s
			}
		}
		t.Fatal("no signature")
		return nil
	}
	type tc struct {
		name string
		b    *verify.Bundle
		doc  *cmttypes.GenesisDoc
		sum  string
		step string
		kind error
	}
	cases := []tc{
		{"value byte", with(grant, func(b *verify.Bundle) { b.Query.Response.Value = flip(b.Query.Response.Value, 10) }), doc, sum, verify.StepStoreProof, verify.ErrProof},
		{"app hash", with(grant, func(b *verify.Bundle) { lb := last(b); lb.AppHash = flip(lb.AppHash, 3) }), doc, sum, verify.StepHeaderChain, verify.ErrHeader},
		{"commit signature", with(grant, func(b *verify.Bundle) {
			s := signed(last(b))
			s.Signature = flip(s.Signature, 9)
		}), doc, sum, verify.StepHeaderChain, verify.ErrHeader},
		{"first block commit signature", with(grant, func(b *verify.Bundle) {
			s := signed(b.LightBlocks[0])
			s.Signature = flip(s.Signature, 9)
		}), doc, sum, verify.StepFirstBlock, verify.ErrHeader},
		{"validator set", with(grant, func(b *verify.Bundle) { last(b).ValidatorSet.Validators[2].VotingPower += 5 }), doc, sum, verify.StepHeaderChain, verify.ErrHeader},
		{"genesis validator set", with(grant, func(b *verify.Bundle) { b.LightBlocks[0].ValidatorSet.Validators[0].VotingPower++ }), doc, sum, verify.StepFirstBlock, verify.ErrHeader},
		{"drop header H from a tx bundle", with(txb, func(b *verify.Bundle) { b.LightBlocks = append(b.LightBlocks[:1], b.LightBlocks[2:]...) }), doc, sum, verify.StepHeaders, verify.ErrBundle},
		{"drop header H+1", with(grant, func(b *verify.Bundle) { b.LightBlocks = b.LightBlocks[:len(b.LightBlocks)-1] }), doc, sum, verify.StepHeaders, verify.ErrBundle},
		{"absent claimed present", with(absent, func(b *verify.Bundle) { b.Query.Response.Value = grant.Query.Response.Value }), doc, sum, verify.StepStoreProof, verify.ErrProof},
		{"another key's query", with(grant, func(b *verify.Bundle) { b.Query = file(absent).Query }), doc, sum, verify.StepQuery, verify.ErrBundle},
		{"another key's query, key patched", with(absent, func(b *verify.Bundle) {
			q := file(grant).Query
			q.Response.Height = b.Manifest.Height
			q.Response.Key = b.Query.Response.Key
			b.Query = q
		}), doc, sum, verify.StepStoreProof, verify.ErrProof},
		{"another height's query", with(grant, func(b *verify.Bundle) { b.Query = file(grantBefore).Query }), doc, sum, verify.StepQuery, verify.ErrBundle},
		{"another height's query, height patched", with(grant, func(b *verify.Bundle) {
			b.Query = file(grantBefore).Query
			b.Query.Response.Height = b.Manifest.Height
		}), doc, sum, verify.StepStoreProof, verify.ErrProof},
		{"manifest genesis hash", with(grant, func(b *verify.Bundle) { b.Manifest.GenesisSHA256 = otherSum }), doc, sum, verify.StepGenesis, verify.ErrBundle},
		{"another network's genesis", grant, otherDoc, otherSum, verify.StepGenesis, verify.ErrBundle},
		{"another network's genesis, manifest patched", with(grant, func(b *verify.Bundle) { b.Manifest.GenesisSHA256 = otherSum }), otherDoc, otherSum, verify.StepFirstBlock, verify.ErrHeader},
		{"tx byte", with(txb, func(b *verify.Bundle) { b.Tx.Tx = flip(b.Tx.Tx, 50) }), doc, sum, verify.StepTxInclusion, verify.ErrTx},
		{"tx claimed code", with(txb, func(b *verify.Bundle) { b.Tx.TxResult.Code = 30 }), doc, sum, verify.StepTxResult, verify.ErrTx},
		{"tx committed code", with(txb, func(b *verify.Bundle) {
			r := b.BlockResults.TxsResults[b.Tx.Index]
			r.Code = 30
			b.Tx.TxResult.Code = 30
		}), doc, sum, verify.StepTxResult, verify.ErrTx},
		{"agency record", with(txb, func(b *verify.Bundle) { b.AgencyQuery.Response.Value = flip(b.AgencyQuery.Response.Value, 20) }), doc, sum, verify.StepAgencyRecord, verify.ErrProof},
		{"tx header app hash", with(txb, func(b *verify.Bundle) { lb := b.LightBlocks[1]; lb.AppHash = flip(lb.AppHash, 0) }), doc, sum, verify.StepHeaderChain, verify.ErrHeader},
	}
	for op := range 2 {
		ops := grant.Query.Response.ProofOps.Ops
		for _, i := range []int{0, 1, len(ops[op].Data) / 3, len(ops[op].Data) / 2, len(ops[op].Data) - 1} {
			cases = append(cases, tc{"proof op byte", with(grant, func(b *verify.Bundle) {
				o := &b.Query.Response.ProofOps.Ops[op]
				o.Data = flip(o.Data, i)
			}), doc, sum, verify.StepStoreProof, verify.ErrProof})
		}
	}
	cases = append(cases, tc{"proof op 0 replaced by another key's", with(grant, func(b *verify.Bundle) {
		o := grant.Query.Response.ProofOps.Ops[0]
		b.Query.Response.ProofOps.Ops[0] = cmtcrypto.ProofOp{Type: o.Type, Key: o.Key, Data: absent.Query.Response.ProofOps.Ops[0].Data}
	}), doc, sum, verify.StepStoreProof, verify.ErrProof})
	for _, c := range cases {
		rep, err := verify.VerifyBundle(c.b, c.doc, c.sum, now)
		var be *verify.BundleError
		switch {
		case err == nil:
			t.Errorf("%s: tampered bundle verified (%s)", c.name, rep.Outcome)
		case !errors.As(err, &be) || be.Step != c.step || !errors.Is(err, c.kind):
			t.Errorf("%s: %v; want step %q wrapping %v", c.name, err, c.step, c.kind)
		}
	}
}

func mustVerify(t *testing.T, b *verify.Bundle, doc *cmttypes.GenesisDoc, sum string) *verify.BundleReport {
	t.Helper()
	rep, err := verify.VerifyBundle(b, doc, sum, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func dropEmptyArrays(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if a, ok := e.([]any); ok && len(a) == 0 {
				delete(x, k)
				continue
			}
			x[k] = dropEmptyArrays(e)
		}
	case []any:
		for i, e := range x {
			x[i] = dropEmptyArrays(e)
		}
	}
	return v
}
