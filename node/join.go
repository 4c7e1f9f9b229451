package node

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	cmtjson "github.com/cometbft/cometbft/libs/json"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/civicledger/civicledger/genesis"
	"github.com/civicledger/civicledger/internal/keystore"
	"github.com/civicledger/civicledger/ledger"
)

// JoinOptions describe the home of a new agency's node that joins a running
// chain: `ledgerd init --join URL`.
type JoinOptions struct {
	Home     string
	AgencyID string
	// Peers are RPC URLs of running nodes of the chain (other agencies').
	// The genesis is fetched from the first and must be identical on all;
	// each becomes a persistent peer.
	Peers      []string
	Keyring    keystore.Backend
	Passphrase keystore.PassphraseFunc
	// StateSync configures CometBFT state sync from the peers' snapshots,
	// trusting the header at the lowest latest height among the peers,
	// which every peer must serve with the same hash (a peer that serves
	// another header is named and the join refused; with one peer the
	// operator confirms the hash out of band); otherwise the node replays
	// every block.
	StateSync bool
	// Listen addresses (host:port); empty keeps DefaultConfig's (all on
	// loopback: 127.0.0.1:26656, :26657 and :26660).
	P2PListen, RPCListen, MetricsListen string
	// Fast shortens consensus timeouts (local networks and tests).
	Fast bool
}

// Joined describes a home made by JoinHome.
type Joined struct {
	Home         *AgencyHome
	ChainID      string
	GenesisHash  []byte
	ValidatorKey []byte // the consensus key to propose in agency-add
	AdminKey     []byte // the first admin officer's key to propose in agency-add
	TrustHeight  int64  // state sync trust root (0 without state sync)
	TrustHash    []byte
}

// JoinHome creates the home of a node that joins a running chain: it fetches
// the genesis from the peers, creates the node key, a fresh validator key and
// an admin officer key (which the other agencies admit with an agency-add
// proposal), and writes a config with the peers as persistent peers and,
// if asked, state sync from their snapshots. The node follows the chain as a
// full node until governance adds its validator key.
func JoinHome(ctx context.Context, o JoinOptions) (*Joined, error) {
	if len(o.Peers) == 0 {
		return nil, errors.New("--join: give the RPC URL of at least one running node")
	}
	if !ledger.ValidID(o.AgencyID) {
		return nil, fmt.Errorf("--agency %q must match [A-Za-z0-9._:-]{1,64}", o.AgencyID)
	}
	cfg := DefaultConfig(o.Home)
	if _, err := os.Stat(cfg.GenesisFile()); err == nil {
		return nil, fmt.Errorf("%s already exists: refusing to overwrite a home", cfg.GenesisFile())
	}
	var genesisJSON []byte
	var doc *cmttypes.GenesisDoc
	var peers, rpcServers []string
	var trustHeight int64
	var trustHash []byte
	var clients []*rpchttp.HTTP
	for i, u := range o.Peers {
		c, err := rpchttp.New(u, "/websocket")
		if err != nil {
			return nil, fmt.Errorf("--join %s: %w", u, err)
		}
		g, err := c.Genesis(ctx)
		if err != nil {
			return nil, fmt.Errorf("--join %s: fetch genesis: %w", u, err)
		}
		bz, err := cmtjson.Marshal(g.Genesis)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			genesisJSON, doc = bz, g.Genesis
		} else if !bytes.Equal(bz, genesisJSON) {
			return nil, fmt.Errorf("--join %s serves another genesis than %s: refusing to join", u, o.Peers[0])
		}
		st, err := c.Status(ctx)
		if err != nil {
			return nil, fmt.Errorf("--join %s: status: %w", u, err)
		}
		if st.NodeInfo.Network != doc.ChainID {
			return nil, fmt.Errorf("--join %s is on chain %q, its genesis says %q", u, st.NodeInfo.Network, doc.ChainID)
		}
		addr, err := peerAddress(u, string(st.NodeInfo.ID()), st.NodeInfo.ListenAddr)
		if err != nil {
			return nil, err
		}
		peers = append(peers, addr)
		rpcServers = append(rpcServers, u)
		if h := st.SyncInfo.LatestBlockHeight; i == 0 || h < trustHeight {
			trustHeight = h
		}
		clients = append(clients, c)
	}
	if err := doc.ValidateAndComplete(); err != nil {
		return nil, fmt.Errorf("genesis from %s: %w", o.Peers[0], err)
	}

	cfg.Moniker = o.AgencyID
	if o.Fast {
		FastConsensus(cfg.Config)
	}
	if o.P2PListen != "" {
		cfg.P2P.ListenAddress = "tcp://" + o.P2PListen
	}
	if o.RPCListen != "" {
		cfg.RPC.ListenAddress = "tcp://" + o.RPCListen
	}
	if o.MetricsListen != "" {
		cfg.Instrumentation.PrometheusListenAddr = o.MetricsListen
	}
	cfg.P2P.PersistentPeers = strings.Join(peers, ",")
	if isLoopback(o.Peers[0]) {
		cfg.P2P.AllowDuplicateIP = true
		cfg.P2P.AddrBookStrict = false
	}
	if o.StateSync {
		if trustHeight < 2 {
			return nil, fmt.Errorf("--state-sync: the chain is at height %d; nothing to sync yet (join without --state-sync)", trustHeight)
		}
		var err error
		if trustHash, err = agreedHeader(ctx, o.Peers, clients, trustHeight); err != nil {
			return nil, err
		}
		if err := checkSnapshots(ctx, o.Peers); err != nil {
			return nil, err
		}
		cfg.StateSync.Enable = true
		if len(rpcServers) == 1 {
			// CometBFT wants a primary and a witness; with one peer given,
			// the light client checks it against itself only.
			rpcServers = append(rpcServers, rpcServers[0])
		}
		cfg.StateSync.RPCServers = rpcServers
		cfg.StateSync.TrustHeight = trustHeight
		cfg.StateSync.TrustHash = fmt.Sprintf("%X", trustHash)
		cfg.StateSync.TrustPeriod = 168 * time.Hour
	}
	nk, pv, err := newNodeKeys(cfg)
	if err != nil {
		return nil, err
	}
	// Written as every agency's genesis file is (genesis.Build, SaveAs), so
	// that its sha256 is the published one.
	if err := doc.SaveAs(cfg.GenesisFile()); err != nil {
		return nil, err
	}
	pub, err := newAdminKey(o.Home, o.AgencyID, o.Keyring, o.Passphrase)
	if err != nil {
		return nil, err
	}
	if err := WriteConfig(cfg); err != nil {
		return nil, err
	}
	gh, err := genesis.FileHash(cfg.GenesisFile())
	if err != nil {
		return nil, err
	}
	j := &Joined{
		Home: &AgencyHome{
			ID: o.AgencyID, Home: o.Home, NodeID: string(nk.ID()),
			RPC: "http://" + hostPort(cfg.RPC.ListenAddress), P2P: hostPort(cfg.P2P.ListenAddress),
			Metrics:    "http://" + cfg.Instrumentation.PrometheusListenAddr + "/metrics",
			Officers:   map[string]ed25519.PublicKey{"admin": pub},
			ValidatorK: ed25519.PublicKey(pv.Key.PubKey.Bytes()),
		},
		ChainID: doc.ChainID, GenesisHash: gh[:],
		ValidatorKey: pv.Key.PubKey.Bytes(), AdminKey: pub,
	}
	if o.StateSync {
		j.TrustHeight, j.TrustHash = trustHeight, trustHash
	}
	return j, nil
}

// agreedHeader fetches the header at height h from every peer and returns
// its hash if all serve the same one. State sync trusts that header: a peer
// that serves another is on a fork or lying, and the join is refused naming
// it.
func agreedHeader(ctx context.Context, urls []string, peers []*rpchttp.HTTP, h int64) ([]byte, error) {
	var first []byte
	for i, c := range peers {
		res, err := c.Header(ctx, &h)
		if err != nil {
			return nil, fmt.Errorf("--state-sync: --join %s: header %d: %w", urls[i], h, err)
		}
		if res.Header == nil || res.Header.Height != h {
			return nil, fmt.Errorf("--state-sync: --join %s did not serve header %d", urls[i], h)
		}
		hash := res.Header.Hash()
		if i == 0 {
			first = hash
			continue
		}
		if !bytes.Equal(hash, first) {
			return nil, fmt.Errorf("--state-sync: --join %s serves header %d with hash %X, but %s serves %X: the peers disagree on the state sync trust root (a fork or a lying node); refusing to join", urls[i], h, hash, urls[0], first)
		}
	}
	return first, nil
}

// checkSnapshots makes sure at least one peer serves a state-sync snapshot
// (a node with no snapshot to restore would wait for one forever).
func checkSnapshots(ctx context.Context, peers []string) error {
	for _, u := range peers {
		c, err := rpchttp.New(u, "/websocket")
		if err != nil {
			continue
		}
		res, err := c.ABCIQuery(ctx, ledger.QuerySnapshots, nil)
		if err != nil || res.Response.Code != 0 {
			continue
		}
		var list []struct {
			Height uint64 `json:"height"`
		}
		if json.Unmarshal(res.Response.Value, &list) == nil && len(list) > 0 {
			return nil
		}
	}
	return fmt.Errorf("--state-sync: none of the nodes given serves a snapshot yet (one is taken every snapshot_interval blocks, 1000 by default); join without --state-sync to replay the blocks")
}

// peerAddress builds "id@host:port" for a peer from its RPC URL and the P2P
// listen address it reports: an unspecified host (0.0.0.0) is replaced by
// the RPC URL's host.
func peerAddress(rpcURL, id, listen string) (string, error) {
	u, err := url.Parse(rpcURL)
	if err != nil {
		return "", fmt.Errorf("--join %q: %w", rpcURL, err)
	}
	hp := listen
	if i := strings.Index(hp, "://"); i >= 0 {
		hp = hp[i+3:]
	}
	host, port, ok := strings.Cut(hp, ":")
	if !ok || port == "" {
		return "", fmt.Errorf("--join %s: node reports P2P address %q without a port", rpcURL, listen)
	}
	if host == "" || host == "0.0.0.0" || host == "::" || host == "[::]" {
		host = u.Hostname()
	}
	return fmt.Sprintf("%s@%s:%s", id, host, port), nil
}

func isLoopback(rpcURL string) bool {
	u, err := url.Parse(rpcURL)
	if err != nil {
		return false
	}
	h := u.Hostname()
	return h == "localhost" || strings.HasPrefix(h, "127.") || h == "::1"
}
