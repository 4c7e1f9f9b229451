package node_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtlog "github.com/cometbft/cometbft/libs/log"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/internal/keystore"
	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/verify"
	"github.com/civicledger/civicledger/node"
)

// TestStateSync runs four validators that take a snapshot every 5 blocks,
// records transactions, then starts a fresh node made by JoinHome (ledgerd
// init --join --state-sync: light-client trust in a validator's latest
// header). The
// new node must restore a snapshot instead of replaying from block 1, catch
// up with the network, agree on the AppHash and serve the same records with
// proofs that verify against the chain's headers.
func TestStateSync(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	net, err := node.StartNetwork(ctx, filepath.Join(t.TempDir(), "net"), node.NetworkOptions{
		Agencies: 4, ExtraOfficers: true, ChainID: "civic-statesync",
		Tweak: func(_ int, c *node.Config) {
			c.App.SnapshotInterval = 5
			c.App.SnapshotKeepRecent = 10 // kept long enough for discovery (5 s) and fetching
			c.App.SnapshotChunkSize = 2048
			c.Consensus.CreateEmptyBlocksInterval = 300 * time.Millisecond
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(net.Stop)

	// Records through two validators.
	var last int64
	for i := 0; i < 2; i++ {
		c, err := client.New(net.Testnet.Agencies[i].RPC)
		if err != nil {
			t.Fatal(err)
		}
		agency := net.Testnet.Agencies[i].ID
		award := &ledger.GrantAward{
			ID: fmt.Sprintf("G-%d", i), Recipient: ledger.Party{Name: "Acme Ltd", Scheme: "GB-COH", ID: "0001"},
			Programme: "Digital", Purpose: "Broadband rollout", Amount: "500000", Currency: "EUR",
			PeriodStart: "2026-01-01", PeriodEnd: "2026-12-31", DecisionDate: "2026-01-01", DocumentHash: docHash,
		}
		pay := &ledger.PaymentRecord{
			ID: fmt.Sprintf("P-%d", i), Payee: award.Recipient, Amount: "125000", Currency: "EUR",
			Date: "2026-02-01", Purpose: "First instalment", Grant: award.ID,
		}
		for _, tx := range []struct {
			p       ledger.Payload
			officer string
		}{{award, "grants"}, {pay, "finance"}} {
			raw, err := c.BuildTx(ctx, client.Signer{Agency: agency, Keys: []ed25519.PrivateKey{officerKey(t, net, i, tx.officer)}}, tx.p, client.BuildOptions{})
			if err != nil {
				t.Fatal(err)
			}
			res, err := c.Submit(ctx, raw, true)
			if err != nil || !res.OK() {
				t.Fatalf("submit: %v %+v", err, res)
			}
			last = max(last, res.Height)
		}
	}

	// Every validator writes the same snapshot of a height past the records.
	snapAt := waitForSnapshot(ctx, t, net, last)
	t.Logf("records up to height %d; snapshot at %d on every validator", last, snapAt)

	c0, err := client.New(net.Testnet.Agencies[0].RPC)
	if err != nil {
		t.Fatal(err)
	}
	joiner, joined := startJoiner(ctx, t, net)
	t.Cleanup(func() { _ = joiner.Stop() })
	if joined.TrustHeight < snapAt {
		t.Fatalf("trusted header %d is below the snapshot %d", joined.TrustHeight, snapAt)
	}

	// Wait for the restore and the first block executed after it (the block
	// store holds no block until then), then for the network's height.
	waitFor := func(what string, done func() bool) {
		t.Helper()
		for !done() {
			select {
			case <-ctx.Done():
				t.Fatalf("%s: joiner at height %d, block store base %d, network at %d", what,
					joiner.Height(), joiner.CometBFT().BlockStore().Base(), net.Height(0))
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	waitFor("restore", func() bool { return joiner.CometBFT().BlockStore().Base() > 0 })
	target := net.Height(0) + 1
	waitFor(fmt.Sprintf("catch up with height %d", target), func() bool { return joiner.Height() >= target })

	// It did not replay from block 1: its block store starts after the
	// snapshot it restored, and its state has no version before it.
	base := joiner.CometBFT().BlockStore().Base()
	restored := base - 1
	if base <= 1 || restored < snapAt || restored%5 != 0 {
		t.Fatalf("block store base %d: want the block after a snapshot height ≥ %d", base, snapAt)
	}
	st := joiner.App().Store()
	if _, err := st.At(restored); err != nil {
		t.Fatalf("restored version %d: %v", restored, err)
	}
	for _, h := range []int64{1, restored - 1} {
		if _, err := st.At(h); err == nil {
			t.Fatalf("the joiner holds version %d: it replayed instead of restoring", h)
		}
	}
	t.Logf("joined at snapshot %d, now at %d", restored, joiner.Height())

	// Same AppHash as every validator at the restored height and at a
	// height it executed itself.
	common := joiner.Height()
	if err := net.WaitForHeight(ctx, common+1); err != nil {
		t.Fatal(err)
	}
	for _, h := range []int64{restored, common} {
		hashes, err := net.AppHashes(h)
		if err != nil {
			t.Fatal(err)
		}
		v, err := st.At(h)
		if err != nil {
			t.Fatal(err)
		}
		for i, vh := range hashes {
			if !bytes.Equal(v.AppHash(), vh) {
				t.Fatalf("height %d: joiner AppHash %X, validator %d %X", h, v.AppHash(), i, vh)
			}
		}
	}

	// The joiner serves the records with proofs equal to a validator's,
	// verified against the AppHash in header common+1.
	cj, err := client.New(joiner.RPCURL())
	if err != nil {
		t.Fatal(err)
	}
	next := common + 1
	header, err := c0.RPC().Commit(ctx, &next)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"P-0", "P-1", "G-1", "P-404"} {
		storeName := ledger.StorePayments
		if strings.HasPrefix(id, "G-") {
			storeName = ledger.StoreGrants
		}
		key := ledger.RecordKey(id)
		got, err := cj.Query(ctx, "/store/"+storeName+"/key", key, common, true)
		if err != nil {
			t.Fatal(err)
		}
		want, err := c0.Query(ctx, "/store/"+storeName+"/key", key, common, true)
		if err != nil {
			t.Fatal(err)
		}
		if got.Code != 0 || got.Height != common || (id != "P-404") != (got.Value != nil) {
			t.Fatalf("joiner query %s: code %d height %d value %q", id, got.Code, got.Height, got.Value)
		}
		if !bytes.Equal(got.Value, want.Value) || !sameOps(got, want) {
			t.Fatalf("joiner and validator answer %s differently", id)
		}
		if _, err := verify.StoreValue(header.SignedHeader.AppHash, storeName, key, got.Value, got.ProofOps.Ops); err != nil {
			t.Fatalf("proof of %s from the joiner: %v", id, err)
		}
	}
	if rec, _, err := cj.Record(ctx, "payment", "P-1", 0); err != nil || !strings.Contains(string(rec), `"P-1"`) {
		t.Fatalf("record from the joiner: %s %v", rec, err)
	}
}

func sameOps(a, b *abci.ResponseQuery) bool {
	if a.ProofOps == nil || b.ProofOps == nil {
		return a.ProofOps == b.ProofOps
	}
	x, err1 := a.ProofOps.Marshal()
	y, err2 := b.ProofOps.Marshal()
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// waitForSnapshot waits until every validator has a snapshot of the same
// height ≥ min, with identical hash and chunk hashes, and returns the height.
func waitForSnapshot(ctx context.Context, t *testing.T, net *node.Network, min int64) int64 {
	t.Helper()
	for {
		byHeight := map[uint64][]*abci.Snapshot{}
		for _, nd := range net.Nodes {
			res, err := nd.App().ListSnapshots(ctx, &abci.RequestListSnapshots{})
			if err != nil {
				t.Fatal(err)
			}
			for _, sn := range res.Snapshots {
				if int64(sn.Height) >= min {
					byHeight[sn.Height] = append(byHeight[sn.Height], sn)
				}
			}
		}
		for h, sns := range byHeight {
			if len(sns) != len(net.Nodes) {
				continue
			}
			for _, sn := range sns[1:] {
				if !bytes.Equal(sn.Hash, sns[0].Hash) || !bytes.Equal(sn.Metadata, sns[0].Metadata) || sn.Chunks != sns[0].Chunks {
					t.Fatalf("validators' snapshots of height %d differ", h)
				}
			}
			if sns[0].Chunks < 2 {
				t.Fatalf("snapshot %d has %d chunk(s); the test wants several", h, sns[0].Chunks)
			}
			return int64(h)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no snapshot past height %d on every validator", min)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// startJoiner creates the home of a new agency's node with JoinHome (what
// `ledgerd init --join URL --join URL --state-sync` does: genesis fetched
// from the validators, state sync trusting the first one's latest header),
// loads it back as ledgerd would, and starts the node, not yet a validator.
func startJoiner(ctx context.Context, t *testing.T, net *node.Network) (*node.Node, *node.Joined) {
	t.Helper()
	home := filepath.Join(t.TempDir(), "joiner")
	ports, err := node.FreePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	j, err := node.JoinHome(ctx, node.JoinOptions{
		Home: home, AgencyID: "joiner", Peers: []string{net.Testnet.Agencies[1].RPC, net.Testnet.Agencies[2].RPC},
		Keyring: keystore.BackendTest, StateSync: true, Fast: true,
		P2PListen: fmt.Sprintf("127.0.0.1:%d", ports[0]), RPCListen: fmt.Sprintf("127.0.0.1:%d", ports[1]),
		MetricsListen: fmt.Sprintf("127.0.0.1:%d", ports[2]),
	})
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := node.LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.StateSync.Enable || len(loaded.StateSync.RPCServers) != 2 || loaded.StateSync.TrustHeight != j.TrustHeight || loaded.App.SnapshotInterval != 1000 {
		t.Fatalf("config did not round-trip: %+v %+v", loaded.StateSync, loaded.App)
	}
	loaded.P2P.PexReactor = false
	loaded.StateSync.DiscoveryTime = 5 * time.Second // CometBFT's minimum
	loaded.StateSync.ChunkRequestTimeout = 5 * time.Second
	var logger cmtlog.Logger = cmtlog.NewNopLogger()
	if os.Getenv("CIVIC_TEST_LOG") != "" {
		logger = cmtlog.NewTMLogger(cmtlog.NewSyncWriter(os.Stderr)).With("node", "joiner")
	}
	nd, err := node.New(loaded, logger, node.Options{NoMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := nd.Start(); err != nil {
		_ = nd.Stop()
		t.Fatal(err)
	}
	return nd, j
}

// TestSnapshotConfig: the snapshot settings round-trip through app.toml,
// default to a snapshot every 1000 blocks with two kept, and are validated.
func TestSnapshotConfig(t *testing.T) {
	home := t.TempDir()
	cfg := node.DefaultConfig(home)
	cfg.App.SnapshotInterval, cfg.App.SnapshotKeepRecent, cfg.App.SnapshotRestoreMaxBytes = 50, 4, 1<<30
	if err := node.WriteConfig(cfg); err != nil {
		t.Fatal(err)
	}
	loaded, err := node.LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.App.SnapshotInterval != 50 || loaded.App.SnapshotKeepRecent != 4 || loaded.App.SnapshotRestoreMaxBytes != 1<<30 {
		t.Fatalf("round trip: %+v", loaded.App)
	}
	if d := node.DefaultAppConfig(); d.SnapshotInterval != 1000 || d.SnapshotKeepRecent != 2 {
		t.Fatalf("defaults: %+v", d)
	}
	for _, bad := range []string{"snapshot_interval = -1", "snapshot_keep_recent = -2", "snapshot_restore_max_bytes = -1"} {
		toml := "state_cache_size = 500000\n" + bad + "\n"
		if err := os.WriteFile(node.AppConfigFile(home), []byte(toml), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := node.LoadConfig(home); err == nil || !strings.Contains(err.Error(), strings.Fields(bad)[0]) {
			t.Fatalf("%s: %v", bad, err)
		}
	}
}
