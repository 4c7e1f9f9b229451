package ledger_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/civicledger/civicledger/ledger"
)

// payloadSigners are the officers that sign a fuzzed payload of each type:
// the ones seedTxs uses, so a payload close to a seed passes the role checks
// and reaches the state rules.
func payloadSigners() map[string][]*officer {
	return map[string][]*officer{
		ledger.TypeGrantAward:       {cultGrants},
		ledger.TypeGrantAmend:       {cultGrants},
		ledger.TypeGrantClose:       {cultGrants},
		ledger.TypeGrantRevoke:      {cultGrants},
		ledger.TypeLicenceIssue:     {cultLic},
		ledger.TypeLicenceRenew:     {cultLic},
		ledger.TypeLicenceSuspend:   {cultLic},
		ledger.TypeLicenceReinstate: {cultLic},
		ledger.TypeLicenceRevoke:    {cultLic},
		ledger.TypePaymentRecord:    {cultFin1, cultFin2},
		ledger.TypePaymentReverse:   {cultFin1},
		ledger.TypeOfficerAdd:       {cultAdmin},
		ledger.TypeOfficerRemove:    {cultAdmin},
		ledger.TypeOfficerSetRoles:  {cultAdmin},
		ledger.TypeGovPropose:       {cultAdmin},
		ledger.TypeGovVote:          {worksAdmin},
	}
}

// FuzzDecodePayload fuzzes each payload type's decoder on its own: the
// input is a transaction type (an index into TxTypes) and the payload
// bytes, wrapped in a well-formed envelope signed by an officer of the role
// the type needs. DecodeTx never panics and fails only with a registered
// code; a payload that decodes is canonical (re-encoding it gives the bytes
// the envelope carries: the input, compacted), passes its own ValidateBasic
// and has the body's type. It is then delivered against the fixture state
// on a throwaway overlay: no internal error, and when it applies the
// ledger's invariants still hold. Seeds are the payloads of seedTxs, one of
// every type.
func FuzzDecodePayload(f *testing.F) {
	types := ledger.TxTypes()
	index := map[string]uint8{}
	for i, typ := range types {
		index[typ] = uint8(i)
	}
	seeds := seedTxs(f)
	for _, typ := range sortedKeys(seeds) {
		tx, err := ledger.DecodeTx(seeds[typ], 0)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(index[typ], []byte(tx.Body.Payload))
	}
	f.Add(uint8(0), []byte(`{}`))
	f.Add(uint8(1), []byte(`null`))

	signers := payloadSigners()
	fx := newFixture(f)
	view := fx.view()
	info := ledger.BlockInfo{ChainID: testChainID, Height: fx.height + 1, Time: fx.now}

	f.Fuzz(func(t *testing.T, typeIndex uint8, payload []byte) {
		typ := types[int(typeIndex)%len(types)]
		if !json.Valid(payload) {
			return // not JSON: the envelope cannot carry it as a raw value
		}
		offs := signers[typ]
		body := ledger.Body{ChainID: testChainID, Type: typ, Agency: offs[0].agency, Signer: offs[0].pub,
			Nonce: 5000, ExpiresAt: info.Height + 100, Payload: payload}
		raw := sign(t, body, offs...)

		tx, err := ledger.DecodeTx(raw, 0)
		if err != nil {
			if tx != nil {
				t.Fatal("DecodeTx returned a tx with an error")
			}
			if ledger.CodeOf(err) == ledger.CodeInternal {
				t.Fatalf("decode error without a ledger code: %v", err)
			}
			return
		}
		if tx.Payload.Type() != typ || tx.Body.Type != typ {
			t.Fatalf("decoded %s as %s", typ, tx.Payload.Type())
		}
		pb, err := ledger.Canonical(tx.Payload)
		if err != nil {
			t.Fatal(err)
		}
		// The envelope carries the payload compacted (SignTx encodes the
		// body canonically), so the bytes the decoder accepted are those,
		// not the fuzzer's input with its insignificant whitespace.
		var signed bytes.Buffer
		if err := json.Compact(&signed, payload); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(tx.Body.Payload, signed.Bytes()) {
			t.Fatalf("envelope payload differs from the signed one:\n signed %q\n got    %q", signed.Bytes(), tx.Body.Payload)
		}
		if !bytes.Equal(pb, tx.Body.Payload) {
			t.Fatalf("decoded payload is not canonical:\n in  %q\n out %q", tx.Body.Payload, pb)
		}
		if err := tx.Payload.ValidateBasic(); err != nil {
			t.Fatalf("decoded payload fails its own validation: %v", err)
		}
		if err := tx.VerifySignatures(); err != nil {
			t.Fatalf("signatures of a well-signed tx: %v", err)
		}

		ov := ledger.NewOverlay(view)
		blk, _, err := ledger.BeginBlock(ov, info)
		if err != nil {
			t.Fatal(err)
		}
		res := blk.Deliver(tx)
		if res.Code == ledger.CodeInternal {
			t.Fatalf("internal error: %s", res.Log)
		}
		if err := blk.End(); err != nil {
			t.Fatal(err)
		}
		if res.Code != ledger.CodeOK {
			return
		}
		vs, err := ledger.CheckInvariants(ov)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) > 0 {
			t.Fatalf("%s %s broke invariants: %v", typ, payload, vs)
		}
	})
}
