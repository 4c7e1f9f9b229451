package node_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/ledger"
)

// TestBadInputAgainstRealNode sends every kind of bad input to a running
// validator: each gets its own code and a log naming the field or rule,
// nothing is written, and the node keeps committing.
func TestBadInputAgainstRealNode(t *testing.T) {
	net := startNetwork(t, 2)
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	a := net.Testnet.Agencies[0]
	c, err := client.New(a.RPC)
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	grants, finance, finance2 := officerKey(t, net, 0, "grants"), officerKey(t, net, 0, "finance"), officerKey(t, net, 0, "finance2")
	otherGrants := officerKey(t, net, 1, "grants")
	recipient := ledger.Party{Name: "Acme Ltd", Scheme: "GB-COH", ID: "0001"}
	award := func(id, amount, cur string) *ledger.GrantAward {
		return &ledger.GrantAward{ID: id, Recipient: recipient, Programme: "P", Purpose: "Purpose", Amount: amount, Currency: cur,
			PeriodStart: "2026-01-01", PeriodEnd: "2026-12-31", DecisionDate: "2026-01-01", DocumentHash: docHash}
	}
	pay := func(id, grant, amount, cur string) *ledger.PaymentRecord {
		return &ledger.PaymentRecord{ID: id, Payee: recipient, Amount: amount, Currency: cur, Date: "2026-02-01", Purpose: "Instalment", Grant: grant}
	}
	type opts struct {
		chainID string
		nonce   uint64
		expires int64
	}
	build := func(agency string, p ledger.Payload, o opts, keys ...ed25519.PrivateKey) []byte {
		if o.chainID == "" {
			o.chainID = st.NodeInfo.Network
		}
		if o.nonce == 0 {
			o.nonce = client.RandomNonce()
		}
		if o.expires == 0 {
			cur, err := c.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			o.expires = cur.SyncInfo.LatestBlockHeight + 50
		}
		body, err := ledger.NewBody(o.chainID, agency, keys[0].Public().(ed25519.PublicKey), o.nonce, o.expires, p)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := ledger.SignTx(body, keys...)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	submit := func(t *testing.T, raw []byte) *client.TxResult {
		t.Helper()
		res, err := c.Submit(ctx, raw, true)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	mustOK := func(raw []byte) {
		if res := submit(t, raw); !res.OK() {
			t.Fatalf("setup tx rejected: %d %s", res.Code, res.Log)
		}
	}
	// Setup: a EUR grant with a payment, a closed grant, a licence.
	mustOK(build(a.ID, award("G-OK", "100000", "EUR"), opts{}, grants))
	mustOK(build(a.ID, pay("P-OK", "G-OK", "40000", "EUR"), opts{}, finance))
	mustOK(build(a.ID, award("G-CLOSED", "100000", "EUR"), opts{}, grants))
	mustOK(build(a.ID, &ledger.GrantClose{ID: "G-CLOSED", Reason: "done", DocumentHash: docHash}, opts{}, grants))
	const usedNonce = 424242
	mustOK(build(a.ID, award("G-REPLAY", "100", "EUR"), opts{nonce: usedNonce}, grants))
	// Same signer and nonce, different tx (identical bytes never reach the
	// app: CometBFT's mempool cache refuses them).
	replayed := build(a.ID, award("G-REPLAY2", "100", "EUR"), opts{nonce: usedNonce}, grants)

	flip := func(raw []byte) []byte {
		var env ledger.Envelope
		if err := json.Unmarshal(raw, &env); err != nil {
			t.Fatal(err)
		}
		env.Signatures[0].Signature[0] ^= 1
		out, _ := ledger.Canonical(env)
		return out
	}
	unknownField := strings.Replace(string(build(a.ID, award("G-X1", "100", "EUR"), opts{}, grants)), `"signatures"`, `"extra":1,"signatures"`, 1)
	cases := []struct {
		name  string
		raw   []byte
		want  *ledger.Error
		field string // must appear in the log
	}{
		{"malformed JSON", []byte(`{"body":`), ledger.ErrMalformed, "tx"},
		{"unknown field", []byte(unknownField), ledger.ErrUnknownField, "extra"},
		{"oversize field", build(a.ID, award(strings.Repeat("G", 65), "100", "EUR"), opts{}, grants), ledger.ErrFieldTooLong, "payload.id"},
		{"oversize tx", []byte(`{"body":"` + strings.Repeat("x", 40*1024) + `"}`), ledger.ErrTxTooLarge, "limit"},
		{"bad signature", flip(build(a.ID, award("G-X2", "100", "EUR"), opts{}, grants)), ledger.ErrBadSignature, "signatures[0]"},
		{"wrong chain id", build(a.ID, award("G-X3", "100", "EUR"), opts{chainID: "other-chain"}, grants), ledger.ErrWrongChainID, "body.chain_id"},
		{"replayed nonce", replayed, ledger.ErrNonceReplayed, "body.nonce"},
		{"expired", build(a.ID, award("G-X4", "100", "EUR"), opts{expires: 1}, grants), ledger.ErrTxExpired, "body.expires_at"},
		{"expiry too far", build(a.ID, award("G-X5", "100", "EUR"), opts{expires: 1 << 40}, grants), ledger.ErrExpiryTooFar, "body.expires_at"},
		{"unknown record", build(a.ID, &ledger.GrantClose{ID: "G-NOPE", Reason: "r", DocumentHash: docHash}, opts{}, grants), ledger.ErrNotFound, "payload.id"},
		{"wrong role", build(a.ID, award("G-X6", "100", "EUR"), opts{}, finance), ledger.ErrMissingRole, "grants"},
		{"other agency's officer", build(a.ID, award("G-X7", "100", "EUR"), opts{}, otherGrants), ledger.ErrNotOfficer, "signatures[0]"},
		{"amount zero", build(a.ID, award("G-X8", "0", "EUR"), opts{}, grants), ledger.ErrInvalidAmount, "payload.amount"},
		{"amount negative", build(a.ID, award("G-X9", "-5", "EUR"), opts{}, grants), ledger.ErrInvalidAmount, "payload.amount"},
		{"amount overflow", build(a.ID, award("G-X10", "9223372036854775808", "EUR"), opts{}, grants), ledger.ErrAmountOverflow, "payload.amount"},
		{"unknown currency", build(a.ID, award("G-X11", "100", "EUX"), opts{}, grants), ledger.ErrUnknownCurrency, "payload.currency"},
		{"currency mismatch", build(a.ID, pay("P-X1", "G-OK", "100", "USD"), opts{}, finance), ledger.ErrCurrencyMismatch, "payload.currency"},
		{"over-payment", build(a.ID, pay("P-X2", "G-OK", "60001", "EUR"), opts{}, finance), ledger.ErrOverpayment, "payload.amount"},
		{"closed grant", build(a.ID, pay("P-X3", "G-CLOSED", "1", "EUR"), opts{}, finance), ledger.ErrGrantNotPayable, "payload.grant"},
		{"illegal transition", build(a.ID, &ledger.GrantRevoke{ID: "G-CLOSED", Reason: "r", DocumentHash: docHash}, opts{}, grants), ledger.ErrIllegalTransition, "payload.id"},
		{"four-eyes", build(a.ID, pay("P-X4", "", "2000000", "EUR"), opts{}, finance), ledger.ErrFourEyes, "signatures"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := submit(t, tc.raw)
			if res.Code != uint32(tc.want.Code) {
				t.Fatalf("code %d (%s), want %d (%s)", res.Code, res.Log, tc.want.Code, tc.want.Msg)
			}
			if !strings.Contains(res.Log, tc.field) || !strings.Contains(res.Log, tc.want.Msg) {
				t.Fatalf("log %q should name %q and the rule %q", res.Log, tc.field, tc.want.Msg)
			}
		})
	}
	// Nothing was written: no rejected id exists, totals reflect only the setup.
	for _, id := range []string{"G-X1", "G-X2", "G-X3", "G-X6", "G-X7", "G-X8"} {
		if _, _, err := c.Record(ctx, "grant", id, 0); !errors.Is(err, client.ErrNotFound) {
			t.Errorf("rejected grant %s: want not found, got %v", id, err)
		}
	}
	for _, id := range []string{"P-X1", "P-X2", "P-X3", "P-X4"} {
		if _, _, err := c.Record(ctx, "payment", id, 0); !errors.Is(err, client.ErrNotFound) {
			t.Errorf("rejected payment %s: want not found, got %v", id, err)
		}
	}
	raw, _, err := c.Record(ctx, "grant", "G-OK", 0)
	if err != nil {
		t.Fatal(err)
	}
	var g ledger.Grant
	_ = json.Unmarshal(raw, &g)
	if g.Disbursed != 40000 || g.Payments != 1 {
		t.Fatalf("grant changed by rejected txs: %+v", g)
	}
	// Valid payment with two finance officers still works: the node is alive.
	mustOK(build(a.ID, pay("P-4EYES", "", "2000000", "EUR"), opts{}, finance, finance2))
}
