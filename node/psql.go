package node

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	cmtjson "github.com/cometbft/cometbft/libs/json"
	"github.com/cometbft/cometbft/privval"
	cmttypes "github.com/cometbft/cometbft/types"
)

// The auditor node. CometBFT's PostgreSQL event sink (tx_index.indexer =
// "psql", tx_index.psql-conn) writes every block's and transaction's events
// into SQL tables that auditors can query freely, but it disables the tx,
// tx_search and block_search RPC routes that verification (ledger verify tx,
// query --history) needs. So it belongs on a dedicated non-validator full
// node, marked with auditor_node = true in app.toml; validators refuse it.

// AuditorName is the directory (and moniker) of the auditor node's home in a
// generated testnet.
const AuditorName = "auditor"

const auditorAppTOML = `
# This home is a dedicated auditor full node (not a validator): it may use
# CometBFT's PostgreSQL event sink (tx_index.indexer = "psql"), which disables
# the tx, tx_search and block_search RPC routes.
auditor_node = true
`

// validateAuditorPsql checks a configuration that uses the psql event sink:
// only an auditor node may, it needs a connection string, and its validator
// key must not be one of the genesis validators.
func validateAuditorPsql(c *Config) error {
	if !c.App.AuditorNode {
		return errors.New("config.toml: tx_index.indexer = \"psql\" disables tx and tx_search, which verification needs; use it only on a dedicated auditor node (app.toml auditor_node = true, never a validator)")
	}
	if strings.TrimSpace(c.TxIndex.PsqlConn) == "" {
		return errors.New("config.toml: tx_index.indexer = \"psql\" needs tx_index.psql-conn (e.g. postgres://user@host:5432/db?sslmode=disable)")
	}
	isVal, err := isGenesisValidator(c)
	if err != nil {
		return err
	}
	if isVal {
		return errors.New("app.toml: auditor_node = true, but this node's validator key is a validator of the chain: validators must not use the psql event sink")
	}
	return nil
}

// isGenesisValidator reports whether the home's validator key is in the
// genesis validator set (false if either file is missing).
func isGenesisValidator(c *Config) (bool, error) {
	if _, err := os.Stat(c.PrivValidatorKeyFile()); err != nil {
		return false, nil
	}
	if _, err := os.Stat(c.GenesisFile()); err != nil {
		return false, nil
	}
	doc, err := cmttypes.GenesisDocFromFile(c.GenesisFile())
	if err != nil {
		return false, fmt.Errorf("genesis: %w", err)
	}
	if c.PrivValidatorListenAddr != "" {
		return true, nil // a remote signer: the key file says nothing; assume a validator
	}
	// Read the key file directly: privval's loader exits the process on a
	// malformed file.
	bz, err := os.ReadFile(c.PrivValidatorKeyFile())
	if err != nil {
		return false, err
	}
	var key privval.FilePVKey
	if err := cmtjson.Unmarshal(bz, &key); err != nil || key.PubKey == nil {
		return true, fmt.Errorf("validator key file %s is unreadable: refusing the psql sink", c.PrivValidatorKeyFile())
	}
	addr := key.PubKey.Address()
	for _, v := range doc.Validators {
		if bytes.Equal(v.PubKey.Address(), addr) {
			return true, nil
		}
	}
	return false, nil
}

// AuditorOptions describe an auditor full node added to a testnet.
type AuditorOptions struct {
	// PsqlConn is the PostgreSQL connection string of the event sink
	// (the database must already hold CometBFT's schema: docs/psql-schema.sql).
	PsqlConn string
	// Home is the auditor's home; empty: "auditor" beside the agency homes.
	Home string
	// BasePort: P2P on BasePort, RPC +1, metrics +4; zero picks free ports.
	BasePort int
	Fast     bool // short consensus timeouts (local networks)
}

// AddAuditorNode writes the home of a non-validator full node that follows
// the testnet (persistent peers: every agency), with the chain's genesis,
// its own node and (non-validator) consensus keys, the psql event sink and
// auditor_node = true. It is recorded in tn.Auditor and testnet.json.
func AddAuditorNode(tn *Testnet, o AuditorOptions) (*AgencyHome, error) {
	if strings.TrimSpace(o.PsqlConn) == "" {
		return nil, errors.New("the auditor node needs a PostgreSQL connection string")
	}
	if len(tn.Agencies) == 0 {
		return nil, errors.New("the testnet has no agencies")
	}
	out := filepath.Dir(tn.Agencies[0].Home)
	home := o.Home
	if home == "" {
		home = filepath.Join(out, AuditorName)
	}
	cfg := DefaultConfig(home)
	cfg.Moniker = AuditorName
	if o.Fast {
		FastConsensus(cfg.Config)
	}
	if _, err := os.Stat(cfg.GenesisFile()); err == nil {
		return nil, fmt.Errorf("%s already exists: refusing to overwrite a home", cfg.GenesisFile())
	}
	if err := listenLoopback(cfg, max(o.BasePort, 0)); err != nil {
		return nil, err
	}
	var peers []string
	for _, a := range tn.Agencies {
		peers = append(peers, a.NodeID+"@"+a.P2P)
	}
	cfg.P2P.PersistentPeers = strings.Join(peers, ",")
	cfg.TxIndex.Indexer = "psql"
	cfg.TxIndex.PsqlConn = o.PsqlConn
	cfg.App.AuditorNode = true

	// Its consensus key is in no validator set: CometBFT needs one to
	// start, and it never signs anything.
	nk, pv, err := newNodeKeys(cfg)
	if err != nil {
		return nil, err
	}
	gen, err := os.ReadFile(tn.Genesis)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(cfg.GenesisFile(), gen, 0o644); err != nil {
		return nil, err
	}
	if err := WriteConfig(cfg); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ah := &AgencyHome{
		ID: AuditorName, Home: home, NodeID: string(nk.ID()),
		RPC:        "http://" + hostPort(cfg.RPC.ListenAddress),
		P2P:        hostPort(cfg.P2P.ListenAddress),
		Metrics:    "http://" + cfg.Instrumentation.PrometheusListenAddr + "/metrics",
		ValidatorK: ed25519.PublicKey(pv.Key.PubKey.Bytes()),
	}
	tn.Auditor = ah
	if err := saveManifest(out, tn); err != nil {
		return nil, err
	}
	return ah, nil
}

// StartAuditor starts the testnet's auditor node in this process (metrics
// off). The caller stops it; Network.Stop does not.
func (n *Network) StartAuditor() (*Node, error) {
	if n.Testnet.Auditor == nil {
		return nil, errors.New("the testnet has no auditor node (AddAuditorNode)")
	}
	cfg, err := LoadConfig(n.Testnet.Auditor.Home)
	if err != nil {
		return nil, err
	}
	cfg.P2P.PexReactor = false
	nd, err := New(cfg, n.logger.With("node", AuditorName), Options{NoMetrics: true})
	if err != nil {
		return nil, err
	}
	if err := nd.Start(); err != nil {
		_ = nd.Stop()
		return nil, err
	}
	return nd, nil
}

// Height returns the last height the node's app has committed.
func (n *Node) Height() int64 { return n.store.Version() }
