package node_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/civicledger/civicledger/internal/keystore"
	"github.com/civicledger/civicledger/node"
)

// TestJoinStateSyncPeersMustAgree: two networks from the same genesis and
// keys (a real fork, node.CloneTestnet) serve the same genesis but other
// headers. `init --join A --join B --state-sync` must refuse, naming B,
// instead of trusting A's header alone.
func TestJoinStateSyncPeersMustAgree(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	tnA, err := node.GenerateTestnet(node.TestnetOptions{Agencies: 1, Output: filepath.Join(dir, "a"), ChainID: "civic-join-fork", Fast: true, Keyring: keystore.BackendTest})
	if err != nil {
		t.Fatal(err)
	}
	tnB, err := node.CloneTestnet(filepath.Join(dir, "a"), filepath.Join(dir, "b"))
	if err != nil {
		t.Fatal(err)
	}
	opts := node.NetworkOptions{Tweak: func(_ int, c *node.Config) { c.App.SnapshotInterval = 2 }}
	netA, err := node.StartTestnet(ctx, tnA, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(netA.Stop)
	netB, err := node.StartTestnet(ctx, tnB, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(netB.Stop)
	// Both have snapshots, so only the disagreement can stop the join.
	if err := netA.WaitForHeight(ctx, 4); err != nil {
		t.Fatal(err)
	}
	if err := netB.WaitForHeight(ctx, 4); err != nil {
		t.Fatal(err)
	}
	join := func(peers ...string) (*node.Joined, error) {
		ports, err := node.FreePorts(3)
		if err != nil {
			t.Fatal(err)
		}
		return node.JoinHome(ctx, node.JoinOptions{
			Home: filepath.Join(t.TempDir(), "joiner"), AgencyID: "joiner", Peers: peers,
			Keyring: keystore.BackendTest, StateSync: true, Fast: true,
			P2PListen: fmt.Sprintf("127.0.0.1:%d", ports[0]), RPCListen: fmt.Sprintf("127.0.0.1:%d", ports[1]),
			MetricsListen: fmt.Sprintf("127.0.0.1:%d", ports[2]),
		})
	}
	a, b := tnA.Agencies[0].RPC, tnB.Agencies[0].RPC
	_, err = join(a, b)
	if err == nil || !strings.Contains(err.Error(), "--join "+b) || !strings.Contains(err.Error(), "disagree") {
		t.Fatalf("join of disagreeing peers: %v, want a refusal naming %s", err, b)
	}
	// Peers that agree (here one node given twice) still join, trusting
	// the header they serve.
	j, err := join(a, a)
	if err != nil {
		t.Fatal(err)
	}
	if j.TrustHeight < 4 || len(j.TrustHash) != 32 {
		t.Fatalf("trust root %d %X", j.TrustHeight, j.TrustHash)
	}
}
