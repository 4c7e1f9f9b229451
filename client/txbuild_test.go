package client_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/ledger"
)

func TestParsePublicKey(t *testing.T) {
	pub := bytes.Repeat([]byte{7}, ed25519.PublicKeySize)
	for _, in := range []string{base64.StdEncoding.EncodeToString(pub), hex.EncodeToString(pub)} {
		if got, err := client.ParsePublicKey(in); err != nil || !bytes.Equal(got, pub) {
			t.Errorf("ParsePublicKey(%q) = %x, %v", in, got, err)
		}
	}
	if _, err := client.ParsePublicKey("not base64!"); !errors.Is(err, client.ErrKeyEncoding) || strings.Contains(err.Error(), "--") {
		t.Errorf("bad encoding: %v, want ErrKeyEncoding naming no flag", err)
	}
	if _, err := client.ParsePublicKey("AAAA"); !errors.Is(err, client.ErrKeyLength) {
		t.Errorf("short key: %v, want ErrKeyLength", err)
	}
}

func TestParseValidatorKey(t *testing.T) {
	pub := bytes.Repeat([]byte{9}, ed25519.PublicKeySize)
	b64 := base64.StdEncoding.EncodeToString(pub)
	for name, in := range map[string]string{
		"base64":       b64 + "\n",
		"hex":          hex.EncodeToString(pub),
		"json object":  `{"type":"tendermint/PubKeyEd25519","value":"` + b64 + `"}`,
		"priv_val key": `{"address":"x","pub_key":{"type":"tendermint/PubKeyEd25519","value":"` + b64 + `"},"priv_key":{}}`,
	} {
		if got, err := client.ParseValidatorKey(in); err != nil || !bytes.Equal(got, pub) {
			t.Errorf("%s: %x, %v", name, got, err)
		}
	}
	for _, in := range []string{"", "{", `{"type":"tendermint/PubKeyEd25519","value":"AAAA"}`, `{"value":"` + b64 + `"}`, "abcd"} {
		if _, err := client.ParseValidatorKey(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestProposedParams(t *testing.T) {
	cur := ledger.DefaultParams()
	np, err := client.ProposedParams(cur, func(p *ledger.Params) { p.VotingPeriod = cur.VotingPeriod + 1 })
	if err != nil || np.VotingPeriod != cur.VotingPeriod+1 || np.NoticePeriod != cur.NoticePeriod {
		t.Fatalf("a change: %+v, %v", np, err)
	}
	if _, err := client.ProposedParams(cur, func(p *ledger.Params) { p.VotingPeriod = cur.VotingPeriod }); !errors.Is(err, client.ErrNoChange) {
		t.Fatalf("no change: %v, want ErrNoChange", err)
	}
	if err := client.CheckParamsChange(func(p *ledger.Params) { p.VotingPeriod = -1 }); err == nil {
		t.Fatal("a negative voting period passed CheckParamsChange")
	}
}

func TestProposalID(t *testing.T) {
	ev := func(typ, k, v string) abci.Event {
		return abci.Event{Type: typ, Attributes: []abci.EventAttribute{{Key: k, Value: v}}}
	}
	cases := []struct {
		evs  []abci.Event
		want uint64
		ok   bool
	}{
		{[]abci.Event{ev("tx", "type", "gov/propose"), ev("gov_proposal", "id", "12")}, 12, true},
		{[]abci.Event{ev("gov_proposal", "id", "0")}, 0, false},
		{[]abci.Event{ev("gov_proposal", "id", "x")}, 0, false},
		{nil, 0, false},
	}
	for _, c := range cases {
		if id, ok := client.ProposalID(&client.TxResult{Events: c.evs}); id != c.want || ok != c.ok {
			t.Errorf("ProposalID(%v) = %d, %v; want %d, %v", c.evs, id, ok, c.want, c.ok)
		}
	}
}
