package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/civicledger/civicledger/genesis"
	"github.com/civicledger/civicledger/node"
)

// TestInitJoin runs `ledgerd init --join` against a running 2-agency
// network: the new home holds the same genesis file (same sha256 as the
// agencies publish), the running nodes as persistent peers, state sync
// trusting a header of the chain, fresh keys, and the proposal to vote on.
func TestInitJoin(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	net, err := node.StartNetwork(ctx, filepath.Join(t.TempDir(), "net"), node.NetworkOptions{Agencies: 2, ChainID: "civic-join",
		Tweak: func(_ int, c *node.Config) { c.App.SnapshotInterval = 3 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(net.Stop)
	a := net.Testnet.Agencies
	// State sync needs a snapshot to restore: wait for the first one.
	for {
		res, err := net.Nodes[0].App().Query(ctx, &abci.RequestQuery{Path: "/snapshots"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Code == 0 && len(res.Value) > 2 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("no snapshot on agency-1")
		case <-time.After(100 * time.Millisecond):
		}
	}
	ports, err := node.FreePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(t.TempDir(), "county-health")
	out, err := run(t, "init", "--join", a[0].RPC, "--join", a[1].RPC, "--agency", "county-health", "--agency-name", "County Health Board",
		"--home", home, "--keyring-backend", "test", "--state-sync",
		"--p2p-laddr", fmt.Sprintf("127.0.0.1:%d", ports[0]), "--rpc-laddr", fmt.Sprintf("127.0.0.1:%d", ports[1]), "--metrics-laddr", fmt.Sprintf("127.0.0.1:%d", ports[2]))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want, err := genesis.FileHash(net.Testnet.Genesis)
	if err != nil {
		t.Fatal(err)
	}
	got, err := genesis.FileHash(filepath.Join(home, "config", "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("joined genesis sha256 %x, the agencies' %x", got, want)
	}
	cfg, err := node.LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	for _, ah := range a {
		if !strings.Contains(cfg.P2P.PersistentPeers, ah.NodeID+"@"+ah.P2P) {
			t.Errorf("persistent peers %q lack %s@%s", cfg.P2P.PersistentPeers, ah.NodeID, ah.P2P)
		}
	}
	if !cfg.StateSync.Enable || len(cfg.StateSync.RPCServers) != 2 || cfg.StateSync.TrustHeight < 2 || len(cfg.StateSync.TrustHash) != 64 {
		t.Fatalf("state sync config: %+v", cfg.StateSync)
	}
	if cfg.RPC.ListenAddress != fmt.Sprintf("tcp://127.0.0.1:%d", ports[1]) {
		t.Fatalf("rpc laddr %s", cfg.RPC.ListenAddress)
	}
	for _, w := range []string{"chain civic-join", hex.EncodeToString(want[:]), "tx gov propose agency-add", "--target county-health", `--name "County Health Board"`} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	// The validator key printed is the home's, and is not one of the
	// agencies' keys.
	for _, ah := range a {
		if strings.Contains(out, hex.EncodeToString(ah.ValidatorK)) {
			t.Fatalf("the joining home reuses %s's validator key", ah.ID)
		}
	}

	// Usage errors exit 2 before anything is written.
	for _, args := range [][]string{
		{"init", "--join", a[0].RPC, "--home", t.TempDir(), "--keyring-backend", "test"},                                         // no --agency
		{"init", "--join", a[0].RPC, "--agency", "x", "--chain-id", "other", "--home", t.TempDir(), "--keyring-backend", "test"}, // chain id from genesis
		{"init", "--state-sync", "--home", t.TempDir(), "--keyring-backend", "test"},                                             // state sync without join
	} {
		if _, err := run(t, args...); exitCodeOf(err) != 2 {
			t.Errorf("%v: exit %d (%v), want 2", args, exitCodeOf(err), err)
		}
	}
	// A node that cannot be reached, and a home that exists, are errors.
	if out, err := run(t, "init", "--join", "http://127.0.0.1:1", "--agency", "x", "--home", t.TempDir(), "--keyring-backend", "test"); err == nil {
		t.Fatalf("joining an unreachable node succeeded:\n%s", out)
	}
	if _, err := run(t, "init", "--join", a[0].RPC, "--agency", "county-health", "--home", home, "--keyring-backend", "test"); err == nil {
		t.Fatal("init --join over an existing home succeeded")
	}

	// State sync from a chain whose nodes hold no snapshot is refused
	// (the node would wait for one forever); block sync works.
	young, err := node.StartNetwork(ctx, filepath.Join(t.TempDir(), "young"), node.NetworkOptions{Agencies: 1, ChainID: "civic-young"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(young.Stop)
	if err := young.WaitForHeight(ctx, 2); err != nil {
		t.Fatal(err)
	}
	y := young.Testnet.Agencies[0].RPC
	out, err = run(t, "init", "--join", y, "--agency", "x", "--home", t.TempDir(), "--keyring-backend", "test", "--state-sync")
	if err == nil || !strings.Contains(err.Error(), "serves a snapshot") {
		t.Fatalf("state sync without snapshots: %v\n%s", err, out)
	}
	if out, err := run(t, "init", "--join", y, "--agency", "x", "--home", t.TempDir(), "--keyring-backend", "test"); err != nil || !strings.Contains(out, "block sync") {
		t.Fatalf("block sync join: %v\n%s", err, out)
	}
}
