package node

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"

	"github.com/civicledger/civicledger/deploy"
	"github.com/civicledger/civicledger/genesis"
	"github.com/civicledger/civicledger/internal/keystore"
	"github.com/civicledger/civicledger/ledger"
)

// TestnetOptions describe an N-agency network on one host.
type TestnetOptions struct {
	Agencies int    // number of agencies (validators), ≥ 1
	Output   string // directory that receives agency-1 … agency-N
	ChainID  string
	// BasePort: agency i (from 0) uses P2P BasePort+100i, RPC +1, metrics
	// +4. Zero picks free loopback ports now.
	BasePort int
	// Fast shortens consensus timeouts (local demos and tests).
	Fast bool
	// Keyring stores the officer keys: BackendFile (age-encrypted, with
	// Passphrase) or BackendTest (plain). It must be set: GenerateTestnet
	// refuses to choose plain keys for the caller.
	Keyring    keystore.Backend
	Passphrase keystore.PassphraseFunc
	// ExtraOfficers adds, per agency, officers named "grants", "licensing",
	// "finance" and "finance2" beside "admin" (the demo uses them).
	ExtraOfficers bool
	GenesisTime   time.Time
	// AuditorPsql, when set, also writes the home of a non-validator
	// auditor full node ("auditor") whose events go to this PostgreSQL
	// database (CometBFT's psql sink; see AddAuditorNode). With BasePort it
	// uses the ports of agency N+1.
	AuditorPsql string
	// VotingPeriod and NoticePeriod, when non-zero, replace the default
	// governance periods (in blocks) in the genesis parameters.
	VotingPeriod, NoticePeriod int64
}

// AgencyHome describes one generated agency.
type AgencyHome struct {
	ID         string                       `json:"id"`
	Home       string                       `json:"home"`
	RPC        string                       `json:"rpc"` // http://127.0.0.1:port
	P2P        string                       `json:"p2p"`
	Metrics    string                       `json:"metrics"`            // http://127.0.0.1:port/metrics
	Officers   map[string]ed25519.PublicKey `json:"officers,omitempty"` // officer name → key (base64)
	NodeID     string                       `json:"node_id"`
	ValidatorK ed25519.PublicKey            `json:"validator_key,omitempty"` // base64
}

// Testnet is a generated network, as written to OUTPUT/testnet.json.
type Testnet struct {
	ChainID  string       `json:"chain_id"`
	Agencies []AgencyHome `json:"agencies"`
	Genesis  string       `json:"genesis"`           // path of agency-1's genesis.json (identical in every home)
	Auditor  *AgencyHome  `json:"auditor,omitempty"` // the auditor full node, if any (not a validator)
}

// officerRoles are the officers GenerateTestnet creates in each agency.
var officerRoles = []struct {
	name  string
	roles []ledger.Role
}{
	{"admin", []ledger.Role{ledger.RoleAdmin}},
	{"grants", []ledger.Role{ledger.RoleGrants}},
	{"licensing", []ledger.Role{ledger.RoleLicensing}},
	{"finance", []ledger.Role{ledger.RoleFinance}},
	{"finance2", []ledger.Role{ledger.RoleFinance}},
}

// GenerateTestnet writes N agency homes with distinct loopback ports,
// persistent peers, one shared genesis, each agency's validator key and its
// officer keys (in HOME/keys, usable with `ledger --home HOME`).
func GenerateTestnet(o TestnetOptions) (*Testnet, error) {
	if o.Agencies < 1 || o.Agencies > 50 {
		return nil, fmt.Errorf("--agencies must be between 1 and 50")
	}
	if o.ChainID == "" {
		o.ChainID = "civic-testnet"
	}
	switch o.Keyring {
	case keystore.BackendFile, keystore.BackendTest:
	case "":
		return nil, fmt.Errorf("testnet: choose the officer keyring: keystore.BackendFile (age-encrypted) or keystore.BackendTest (plain, for tests and demos)")
	default:
		return nil, fmt.Errorf("testnet: unknown keyring backend %q (want %q or %q)", o.Keyring, keystore.BackendFile, keystore.BackendTest)
	}
	if o.GenesisTime.IsZero() {
		o.GenesisTime = time.Now()
	}
	if entries, err := os.ReadDir(o.Output); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("output directory %s is not empty", o.Output)
	}
	tn := &Testnet{ChainID: o.ChainID}
	var cfgs []*Config
	var gs ledger.GenesisState
	gs.Params = ledger.DefaultParams()
	setGovPeriods(&gs.Params, o.VotingPeriod, o.NoticePeriod)
	for i := 0; i < o.Agencies; i++ {
		id := fmt.Sprintf("agency-%d", i+1)
		home := filepath.Join(o.Output, id)
		cfg := DefaultConfig(home)
		cfg.Moniker = id
		if o.Fast {
			FastConsensus(cfg.Config)
		}
		base := 0
		if o.BasePort > 0 {
			base = o.BasePort + 100*i
		}
		if err := listenLoopback(cfg, base); err != nil {
			return nil, err
		}
		nk, pv, err := newNodeKeys(cfg)
		if err != nil {
			return nil, err
		}
		ks, err := keystore.Open(filepath.Join(home, "keys"), o.Keyring, o.Passphrase)
		if err != nil {
			return nil, err
		}
		ah := AgencyHome{
			ID: id, Home: home, NodeID: string(nk.ID()),
			RPC:      "http://" + hostPort(cfg.RPC.ListenAddress),
			P2P:      hostPort(cfg.P2P.ListenAddress),
			Metrics:  "http://" + cfg.Instrumentation.PrometheusListenAddr + "/metrics",
			Officers: map[string]ed25519.PublicKey{},
		}
		ah.ValidatorK = ed25519.PublicKey(pv.Key.PubKey.Bytes())
		ag := ledger.Agency{
			ID: id, Name: fmt.Sprintf("Agency %d", i+1), Jurisdiction: "Testland",
			ValidatorKey: pv.Key.PubKey.Bytes(), Power: 10,
		}
		roles := officerRoles[:1]
		if o.ExtraOfficers {
			roles = officerRoles
		}
		for _, or := range roles {
			info, err := ks.Add(or.name, id)
			if err != nil {
				return nil, err
			}
			pub, err := info.PublicKey()
			if err != nil {
				return nil, err
			}
			ah.Officers[or.name] = pub
			ag.Officers = append(ag.Officers, ledger.Officer{Key: pub, Name: fmt.Sprintf("%s %s officer", id, or.name), Roles: or.roles})
		}
		gs.Agencies = append(gs.Agencies, ag)
		tn.Agencies = append(tn.Agencies, ah)
		cfgs = append(cfgs, cfg)
	}
	doc, err := genesis.Build(o.ChainID, o.GenesisTime, &gs)
	if err != nil {
		return nil, err
	}
	for i, cfg := range cfgs {
		var peers []string
		for j, other := range tn.Agencies {
			if j != i {
				peers = append(peers, other.NodeID+"@"+other.P2P)
			}
		}
		cfg.P2P.PersistentPeers = strings.Join(peers, ",")
		if err := doc.SaveAs(cfg.GenesisFile()); err != nil {
			return nil, err
		}
		if err := WriteConfig(cfg); err != nil {
			return nil, err
		}
	}
	tn.Genesis = cfgs[0].GenesisFile()
	if err := saveManifest(o.Output, tn); err != nil {
		return nil, err
	}
	if o.AuditorPsql != "" {
		ao := AuditorOptions{PsqlConn: o.AuditorPsql, Fast: o.Fast}
		if o.BasePort > 0 {
			ao.BasePort = o.BasePort + 100*o.Agencies
		}
		if _, err := AddAuditorNode(tn, ao); err != nil {
			return nil, fmt.Errorf("auditor node: %w", err)
		}
	}
	return tn, nil
}

// saveManifest writes testnet.json, and prometheus.yml with alerts.yml: a
// Prometheus configuration scraping this network's metrics ports (random
// ones with --base-port 0), with the production alerting rules.
func saveManifest(dir string, tn *Testnet) error {
	manifest, _ := json.MarshalIndent(tn, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "testnet.json"), manifest, 0o644); err != nil {
		return err
	}
	cfg, err := tn.PrometheusConfig()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, PrometheusConfigFile), cfg, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "alerts.yml"), deploy.AlertRules, 0o644)
}

// PrometheusConfigFile is the scrape configuration a generated network
// writes beside testnet.json.
const PrometheusConfigFile = "prometheus.yml"

// PrometheusConfig is a Prometheus configuration for the network, laid out
// as deploy/prometheus/prometheus.yml: job civicledger, one target per node
// labelled node=<agency id> (the auditor node too), rule file alerts.yml.
func (tn *Testnet) PrometheusConfig() ([]byte, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "# Prometheus configuration for the Civic Ledger network %s, written with\n", tn.ChainID)
	b.WriteString("# testnet.json for its nodes' metrics ports. Run from this directory:\n")
	b.WriteString("#   prometheus --config.file=prometheus.yml\n")
	b.WriteString("# alerts.yml is a copy of deploy/prometheus/alerts.yml.\n")
	b.WriteString("global:\n  scrape_interval: 5s\n  scrape_timeout: 4s\n  evaluation_interval: 5s\n")
	fmt.Fprintf(&b, "  external_labels:\n    network: %q\n", tn.ChainID)
	b.WriteString("\nrule_files:\n  - alerts.yml\n\nscrape_configs:\n  - job_name: civicledger\n    metrics_path: /metrics\n    scheme: http\n    static_configs:\n")
	nodes := tn.Agencies
	if tn.Auditor != nil {
		nodes = append(slices.Clone(nodes), *tn.Auditor)
	}
	for _, a := range nodes {
		u, err := url.Parse(a.Metrics)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("%s: metrics URL %q: want http://host:port/metrics", a.ID, a.Metrics)
		}
		fmt.Fprintf(&b, "      - targets: [%q]\n        labels:\n          node: %q\n", u.Host, a.ID)
	}
	return []byte(b.String()), nil
}

// InitOptions describe a single-agency home (ledgerd init).
type InitOptions struct {
	Home        string
	ChainID     string
	AgencyID    string
	AgencyName  string
	Keyring     keystore.Backend
	Passphrase  keystore.PassphraseFunc
	GenesisTime time.Time
	// VotingPeriod and NoticePeriod, when non-zero, replace the default
	// governance periods (in blocks) in the genesis parameters.
	VotingPeriod, NoticePeriod int64
}

func setGovPeriods(p *ledger.Params, voting, notice int64) {
	if voting != 0 {
		p.VotingPeriod = voting
	}
	if notice != 0 {
		p.NoticePeriod = notice
	}
}

// InitHome creates a single-agency home: config, node and validator keys, an
// admin officer key and a genesis in which this agency is the only validator.
func InitHome(o InitOptions) (*AgencyHome, error) {
	if o.ChainID == "" {
		o.ChainID = "civic-local"
	}
	if o.AgencyID == "" {
		o.AgencyID = "agency-1"
	}
	if o.AgencyName == "" {
		o.AgencyName = o.AgencyID
	}
	if !ledger.ValidID(o.AgencyID) {
		return nil, fmt.Errorf("--agency %q must match [A-Za-z0-9._:-]{1,64}", o.AgencyID)
	}
	if o.GenesisTime.IsZero() {
		o.GenesisTime = time.Now()
	}
	cfg := DefaultConfig(o.Home)
	cfg.Moniker = o.AgencyID
	if _, err := os.Stat(cfg.GenesisFile()); err == nil {
		return nil, fmt.Errorf("%s already exists: refusing to overwrite a home", cfg.GenesisFile())
	}
	cmtcfg.EnsureRoot(o.Home)
	if err := os.MkdirAll(filepath.Join(o.Home, "data"), 0o700); err != nil {
		return nil, err
	}
	nk, err := p2p.LoadOrGenNodeKey(cfg.NodeKeyFile())
	if err != nil {
		return nil, err
	}
	pv := privval.LoadOrGenFilePV(cfg.PrivValidatorKeyFile(), cfg.PrivValidatorStateFile())
	pub, err := newAdminKey(o.Home, o.AgencyID, o.Keyring, o.Passphrase)
	if err != nil {
		return nil, err
	}
	gs := ledger.GenesisState{Params: ledger.DefaultParams(), Agencies: []ledger.Agency{{
		ID: o.AgencyID, Name: o.AgencyName, ValidatorKey: pv.Key.PubKey.Bytes(), Power: 10,
		Officers: []ledger.Officer{{Key: pub, Name: o.AgencyID + " admin officer", Roles: []ledger.Role{ledger.RoleAdmin}}},
	}}}
	setGovPeriods(&gs.Params, o.VotingPeriod, o.NoticePeriod)
	doc, err := genesis.Build(o.ChainID, o.GenesisTime, &gs)
	if err != nil {
		return nil, err
	}
	if err := doc.SaveAs(cfg.GenesisFile()); err != nil {
		return nil, err
	}
	if err := WriteConfig(cfg); err != nil {
		return nil, err
	}
	return &AgencyHome{
		ID: o.AgencyID, Home: o.Home, NodeID: string(nk.ID()),
		RPC: "http://" + hostPort(cfg.RPC.ListenAddress), P2P: hostPort(cfg.P2P.ListenAddress),
		Metrics:  "http://" + cfg.Instrumentation.PrometheusListenAddr + "/metrics",
		Officers: map[string]ed25519.PublicKey{"admin": pub},
	}, nil
}

// newAdminKey creates the key "admin" of an agency's first admin officer in
// HOME/keys.
func newAdminKey(home, agency string, backend keystore.Backend, pass keystore.PassphraseFunc) (ed25519.PublicKey, error) {
	ks, err := keystore.Open(filepath.Join(home, "keys"), backend, pass)
	if err != nil {
		return nil, err
	}
	info, err := ks.Add("admin", agency)
	if err != nil {
		return nil, err
	}
	return info.PublicKey()
}

// listenLoopback sets a local node's P2P, RPC and metrics listeners on
// loopback: at base, base+1 and base+4 (CometBFT's layout), or on free ports
// when base is 0; peers on loopback may share an IP and need no strict
// address book.
func listenLoopback(cfg *Config, base int) error {
	p2pPort, rpcPort, metricsPort := base, base+1, base+4
	if base == 0 {
		ports, err := FreePorts(3)
		if err != nil {
			return err
		}
		p2pPort, rpcPort, metricsPort = ports[0], ports[1], ports[2]
	}
	cfg.P2P.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", p2pPort)
	cfg.RPC.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", rpcPort)
	cfg.Instrumentation.PrometheusListenAddr = fmt.Sprintf("127.0.0.1:%d", metricsPort)
	cfg.P2P.AllowDuplicateIP = true
	cfg.P2P.AddrBookStrict = false
	return nil
}

// FreePorts returns n distinct free TCP ports on 127.0.0.1.
//
// The ports are taken below the kernel's ephemeral range (where a port
// chosen by listening on :0 would come from): a port handed out now is only
// bound when the node starts, and in between any outgoing connection of any
// process may take an ephemeral port as its local end, so that the node
// could not listen on it. Below the range only listeners compete.
func FreePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	lo, hi := 10000, ephemeralLow()
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		addr := "127.0.0.1:0" // fallback: let the kernel choose
		if hi-lo > 1000 && tries < 1000 {
			addr = fmt.Sprintf("127.0.0.1:%d", lo+rand.IntN(hi-lo))
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			if addr == "127.0.0.1:0" {
				return nil, err
			}
			continue // taken: try another
		}
		port := l.Addr().(*net.TCPAddr).Port
		if addr != "127.0.0.1:0" && !reservePort(port) {
			_ = l.Close()
			continue // handed out to another process that has not bound it yet
		}
		ls = append(ls, l)
		ports = append(ports, port)
	}
	return ports, nil
}

// portReservation is how long a port FreePorts handed out stays reserved
// for its process: long enough to generate homes and start the nodes that
// bind it (after which the kernel keeps others off it).
const portReservation = 10 * time.Minute

// reservePort records port as handed out, in a directory shared by every
// process of this machine's user (a file per port, created exclusively),
// and reports false if another process reserved it within portReservation.
// Without it two test processes starting networks at once could pick the
// same free port, and the second node to bind it fails ("address already
// in use"). Where the directory cannot be used, every port counts as free.
func reservePort(port int) bool {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("civicledger-ports-%d", os.Getuid()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return true
	}
	p := filepath.Join(dir, strconv.Itoa(port))
	if st, err := os.Stat(p); err == nil {
		if time.Since(st.ModTime()) < portReservation {
			return false
		}
		_ = os.Remove(p) // a stale reservation
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return errors.Is(err, os.ErrPermission) // unusable directory: do not block
	}
	_ = f.Close()
	return true
}

// ephemeralLow is the first port of the kernel's ephemeral range (Linux:
// /proc/sys/net/ipv4/ip_local_port_range; 32768 if unknown).
func ephemeralLow() int {
	bz, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	var low int
	if _, err := fmt.Sscan(string(bz), &low); err != nil || low <= 0 {
		return 32768
	}
	return low
}

// newNodeKeys creates a home's directories, its P2P node key and a fresh
// consensus (validator) key.
func newNodeKeys(cfg *Config) (*p2p.NodeKey, *privval.FilePV, error) {
	cmtcfg.EnsureRoot(cfg.RootDir)
	if err := os.MkdirAll(filepath.Join(cfg.RootDir, "data"), 0o700); err != nil {
		return nil, nil, err
	}
	nk, err := p2p.LoadOrGenNodeKey(cfg.NodeKeyFile())
	if err != nil {
		return nil, nil, err
	}
	pv := privval.GenFilePV(cfg.PrivValidatorKeyFile(), cfg.PrivValidatorStateFile())
	pv.Save()
	return nk, pv, nil
}
