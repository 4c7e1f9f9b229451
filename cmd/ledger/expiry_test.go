package main

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/ledger"
)

// TestTxExpiryFromVerifiedHeight: the CLI counts --expires-in from the
// height this client verified when the node reports less, and refuses a node
// that is far behind that height, sending nothing. (Before, expires_at was
// the node's unproved height plus --expires-in.)
func TestTxExpiryFromVerifiedHeight(t *testing.T) {
	net := testNet(t, "civic-cli-expiry")
	a := net.Testnet.Agencies[0]
	c, err := client.New(a.RPC)
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	h := st.SyncInfo.LatestBlockHeight
	chainID := net.Testnet.ChainID
	ts, err := client.LoadTrust(a.Home, chainID)
	if errors.Is(err, client.ErrNoTrust) {
		ts = &client.TrustState{ChainID: chainID, Root: client.Checkpoint{Height: 1, Hash: strings.Repeat("AB", 32)}}
	} else if err != nil {
		t.Fatal(err)
	}
	// This client has verified a header 50 blocks above what the node
	// reports (as if the node lagged behind the one it verified with).
	ts.LastVerified = client.Checkpoint{Height: h + 50, Hash: strings.Repeat("CD", 32)}
	if err := client.SaveTrust(a.Home, ts); err != nil {
		t.Fatal(err)
	}
	out := mustCLI(t, net, 0, awardArgs("G-EXP-1", "100 EUR", "--expires-in", "100")...)
	hash, _, code := txLines(t, out)
	if code != "0 (ok)" {
		t.Fatalf("award:\n%s", out)
	}
	hb, err := hex.DecodeString(hash)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.RPC().Tx(t.Context(), hb, false)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := ledger.DecodeTx(res.Tx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if tx.Body.ExpiresAt < h+150 {
		t.Fatalf("expires_at %d: counted from the node's height %d, not the verified %d", tx.Body.ExpiresAt, h, h+50)
	}

	// A node 10,000 blocks behind the verified height is refused.
	ts.LastVerified.Height = h + 10_000
	if err := client.SaveTrust(a.Home, ts); err != nil {
		t.Fatal(err)
	}
	wantCode(t, 1, []string{"far behind", "use another --node"}, append(agencyArgs(net, 0), awardArgs("G-EXP-2", "100 EUR")...)...)
	if raw, _, err := c.Record(t.Context(), "grant", "G-EXP-2", 0); err == nil && len(raw) != 0 {
		t.Fatal("the refused tx was sent")
	}
}
