package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/proxy"

	"github.com/civicledger/civicledger/internal/keystore"
)

// Network is a set of real nodes running in this process on loopback ports,
// for tests: a raft-style MakeCluster over real CometBFT consensus.
type Network struct {
	Testnet     *Testnet
	Nodes       []*Node // nil for a stopped node
	logger      cmtlog.Logger
	newApp      func(int, *Config) (abci.Application, error)
	appConnSync bool
}

// NetworkOptions tune StartNetwork.
type NetworkOptions struct {
	Agencies      int
	ChainID       string
	ExtraOfficers bool
	// Logger receives every node's CometBFT log (nil: discarded). Set
	// CIVIC_TEST_LOG=1 to log to stderr.
	Logger cmtlog.Logger
	// Tweak may change each node's config before it starts.
	Tweak func(i int, c *Config)
	// VotingPeriod and NoticePeriod override the genesis governance
	// periods when non-zero (see TestnetOptions).
	VotingPeriod, NoticePeriod int64
	// App, when set, gives node i another ABCI application than the
	// ledger (see Options.App), built after Tweak; the caller closes it
	// after Stop.
	App func(i int, c *Config) (abci.Application, error)
	// AppConnSync: see Options.AppConnSync.
	AppConnSync bool
}

// StartNetwork generates a testnet with fast consensus in dir and starts
// every node in-process (metrics off: CometBFT's registry is global). It
// returns once every node has committed height 1.
func StartNetwork(ctx context.Context, dir string, o NetworkOptions) (*Network, error) {
	tn, err := GenerateTestnet(TestnetOptions{
		Agencies: o.Agencies, Output: dir, ChainID: o.ChainID, Fast: true,
		Keyring: keystore.BackendTest, ExtraOfficers: o.ExtraOfficers,
		VotingPeriod: o.VotingPeriod, NoticePeriod: o.NoticePeriod,
	})
	if err != nil {
		return nil, err
	}
	return StartTestnet(ctx, tn, o)
}

// StartTestnet starts every node of an already generated testnet in-process
// (o.Agencies, o.ChainID and o.ExtraOfficers are ignored).
func StartTestnet(ctx context.Context, tn *Testnet, o NetworkOptions) (*Network, error) {
	logger := o.Logger
	if logger == nil {
		logger = cmtlog.NewNopLogger()
		if os.Getenv("CIVIC_TEST_LOG") != "" {
			logger = cmtlog.NewTMLogger(cmtlog.NewSyncWriter(os.Stderr))
		}
	}
	net := &Network{Testnet: tn, Nodes: make([]*Node, len(tn.Agencies)), logger: logger, newApp: o.App, appConnSync: o.AppConnSync}
	for i := range tn.Agencies {
		if err := net.StartNode(i, o.Tweak); err != nil {
			net.Stop()
			return nil, err
		}
	}
	if err := net.WaitForHeight(ctx, 1); err != nil {
		net.Stop()
		return nil, err
	}
	return net, nil
}

// StartNode (re)starts node i from its home.
func (n *Network) StartNode(i int, tweak func(int, *Config)) error {
	if n.Nodes[i] != nil {
		return fmt.Errorf("node %d is running", i)
	}
	cfg, err := LoadConfig(n.Testnet.Agencies[i].Home)
	if err != nil {
		return err
	}
	// Persistent peers are enough on loopback; without PEX no address book
	// is written behind the node's back after Stop.
	cfg.P2P.PexReactor = false
	if tweak != nil {
		tweak(i, cfg)
	}
	opts := Options{NoMetrics: true, AppConnSync: n.appConnSync}
	if n.newApp != nil {
		if opts.App, err = n.newApp(i, cfg); err != nil {
			return err
		}
	}
	nd, err := New(cfg, n.logger.With("agency", n.Testnet.Agencies[i].ID), opts)
	if err != nil {
		return err
	}
	if err := nd.Start(); err != nil {
		_ = nd.Stop()
		return err
	}
	n.Nodes[i] = nd
	return nil
}

// StopNode stops node i (its home stays).
func (n *Network) StopNode(i int) error {
	if n.Nodes[i] == nil {
		return nil
	}
	err := n.Nodes[i].Stop()
	n.Nodes[i] = nil
	return err
}

// Stop stops every node.
func (n *Network) Stop() {
	for i := range n.Nodes {
		_ = n.StopNode(i)
	}
}

// Height returns the last height node i's app has committed (0 if
// stopped). CometBFT saves a block before the app applies it, so the block
// store's height can be one ahead of the state.
func (n *Network) Height(i int) int64 {
	nd := n.Nodes[i]
	if nd == nil {
		return 0
	}
	if nd.store == nil { // another app (NetworkOptions.App): ask it
		res, err := nd.cmt.ProxyApp().Query().Info(context.Background(), proxy.RequestInfo)
		if err != nil {
			return 0
		}
		return res.LastBlockHeight
	}
	return nd.store.Version()
}

// WaitForHeight waits until every running node has committed height h.
func (n *Network) WaitForHeight(ctx context.Context, h int64) error {
	for {
		done := true
		for i, nd := range n.Nodes {
			if nd != nil && n.Height(i) < h {
				done = false
			}
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for height %d: %w", h, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// AppHashes returns, for each running node, the AppHash its state store
// holds at version h (nil for stopped nodes).
func (n *Network) AppHashes(h int64) ([][]byte, error) {
	out := make([][]byte, len(n.Nodes))
	for i, nd := range n.Nodes {
		if nd == nil {
			continue
		}
		if nd.store == nil {
			return nil, fmt.Errorf("node %d does not run the ledger", i)
		}
		v, err := nd.store.At(h)
		if err != nil {
			return nil, fmt.Errorf("node %d at %d: %w", i, h, err)
		}
		out[i] = v.AppHash()
	}
	return out, nil
}

// KeyDir is where agency i's officer keys are (test backend).
func (n *Network) KeyDir(i int) string { return filepath.Join(n.Testnet.Agencies[i].Home, "keys") }

// ErrNoNode is returned when no node is running.
var ErrNoNode = errors.New("no running node")

// CloneTestnet copies a generated (not yet started, or stopped) testnet from
// src to dst with fresh loopback ports, so that two networks can start from
// the same genesis and the same validator keys and then diverge: a real
// fork, for testing that verifiers detect one.
func CloneTestnet(src, dst string) (*Testnet, error) {
	bz, err := os.ReadFile(filepath.Join(src, "testnet.json"))
	if err != nil {
		return nil, err
	}
	var tn Testnet
	if err := json.Unmarshal(bz, &tn); err != nil {
		return nil, err
	}
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		return nil, err
	}
	cfgs := make([]*Config, len(tn.Agencies))
	for i := range tn.Agencies {
		a := &tn.Agencies[i]
		rel, err := filepath.Rel(src, a.Home)
		if err != nil {
			return nil, err
		}
		a.Home = filepath.Join(dst, rel)
		cfg, err := LoadConfig(a.Home)
		if err != nil {
			return nil, err
		}
		ports, err := FreePorts(3)
		if err != nil {
			return nil, err
		}
		cfg.P2P.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", ports[0])
		cfg.RPC.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", ports[1])
		cfg.Instrumentation.PrometheusListenAddr = fmt.Sprintf("127.0.0.1:%d", ports[2])
		a.P2P = hostPort(cfg.P2P.ListenAddress)
		a.RPC = "http://" + hostPort(cfg.RPC.ListenAddress)
		a.Metrics = "http://" + cfg.Instrumentation.PrometheusListenAddr + "/metrics"
		cfgs[i] = cfg
	}
	for i, cfg := range cfgs {
		var peers []string
		for j, other := range tn.Agencies {
			if j != i {
				peers = append(peers, other.NodeID+"@"+other.P2P)
			}
		}
		cfg.P2P.PersistentPeers = strings.Join(peers, ",")
		if err := WriteConfig(cfg); err != nil {
			return nil, err
		}
	}
	tn.Genesis = cfgs[0].GenesisFile()
	if err := saveManifest(dst, &tn); err != nil {
		return nil, err
	}
	return &tn, nil
}
