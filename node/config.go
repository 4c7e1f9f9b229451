package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/spf13/viper"

	"github.com/civicledger/civicledger/ledger/store"
)

// AppConfig is the app's own section of the home, in config/app.toml.
type AppConfig struct {
	// StateCacheSize is the IAVL node cache per store, in nodes
	// (DefaultStateCacheSize).
	StateCacheSize int `mapstructure:"state_cache_size"`
	// AuditorNode marks a non-validator full node run for auditors; only
	// such a node may use the psql event sink (see psql.go).
	AuditorNode bool `mapstructure:"auditor_node"`
	// SnapshotInterval: a state-sync snapshot is taken every this many
	// blocks (0: never), kept in <home>/data/snapshots and offered to nodes
	// that join by state sync.
	SnapshotInterval int64 `mapstructure:"snapshot_interval"`
	// SnapshotKeepRecent is the number of most recent snapshots kept (0:
	// all).
	SnapshotKeepRecent int `mapstructure:"snapshot_keep_recent"`
	// SnapshotRestoreMaxBytes caps the size a state-sync snapshot offered
	// to this node may declare (0: no cap but half the free disk space).
	SnapshotRestoreMaxBytes int64 `mapstructure:"snapshot_restore_max_bytes"`
	// SnapshotChunkSize is the snapshot chunk size in bytes (0: 4 MiB). Not
	// in app.toml: every node must cut identical chunks; tests set it to get
	// many chunks from a small state.
	SnapshotChunkSize int `mapstructure:"-"`
	// MinFreeDiskMB: the node refuses to start, and a running node stops,
	// when the file system of its data directory has less than this many
	// MiB free (0: no check).
	MinFreeDiskMB int64 `mapstructure:"min_free_disk_mb"`
	// Portal is the [portal] section: the public web portal served by this
	// node's process, reading its own RPC.
	Portal PortalConfig `mapstructure:"portal"`
}

// PortalConfig is app.toml's [portal] section. Run the portal on a full node
// for readers, not on a validator: its reads load the node (docs/portal.md).
type PortalConfig struct {
	// Enabled starts the portal with the node.
	Enabled bool `mapstructure:"enabled"`
	// Listen is the portal's address (loopback by default: put a reverse
	// proxy in front of it).
	Listen string `mapstructure:"listen"`
	// Witnesses are other agencies' RPC addresses, named on the
	// how-to-verify page and used to cross-check bundles.
	Witnesses []string `mapstructure:"witnesses"`
	// WasmDir holds the in-browser verifier (verify.wasm and wasm_exec.js,
	// built by `make wasm`); empty: no in-browser verification.
	WasmDir string `mapstructure:"wasm_dir"`
}

// DefaultPortalListen is the portal's default address.
const DefaultPortalListen = "127.0.0.1:8080"

// DefaultMinFreeDiskMB is the free space below which a node stops.
const DefaultMinFreeDiskMB = 256

// DefaultStateCacheSize is the default IAVL node cache per store, in nodes.
// It is small on purpose: at a million records in state, a node with
// 30,000 committed 3,591 tx/s (median of three rounds) at 1.1 GB of RSS,
// with 100,000 3,502 at 1.7 GB, and with 500,000, the default before,
// 2,886 at 4.2 GB, in one side-by-side run. The garbage collector marks
// every cached node in each cycle; a smaller cache costs a few more reads
// of goleveldb, whose own block cache and the page cache serve them.
const DefaultStateCacheSize = store.DefaultCacheSize

// DefaultAppConfig returns the app settings of a new home: a snapshot every
// 1000 blocks, the two most recent kept (a few minutes of blocks under load,
// hours when idle; cheap for the ledger's small records).
func DefaultAppConfig() AppConfig {
	return AppConfig{StateCacheSize: DefaultStateCacheSize, SnapshotInterval: 1000, SnapshotKeepRecent: 2, MinFreeDiskMB: DefaultMinFreeDiskMB,
		Portal: PortalConfig{Listen: DefaultPortalListen}}
}

// Validate checks the app settings.
func (c AppConfig) Validate() error {
	if c.StateCacheSize < 1000 {
		return errors.New("app.toml: state_cache_size must be at least 1000")
	}
	if c.SnapshotInterval < 0 {
		return errors.New("app.toml: snapshot_interval must be 0 (no snapshots) or a number of blocks")
	}
	if c.SnapshotKeepRecent < 0 {
		return errors.New("app.toml: snapshot_keep_recent must be 0 (keep all) or more")
	}
	if c.MinFreeDiskMB < 0 {
		return errors.New("app.toml: min_free_disk_mb must be 0 (no check) or a number of MiB")
	}
	if c.SnapshotRestoreMaxBytes < 0 {
		return errors.New("app.toml: snapshot_restore_max_bytes must be 0 (half the free disk) or a number of bytes")
	}
	if c.Portal.Enabled && strings.TrimSpace(c.Portal.Listen) == "" {
		return errors.New("app.toml: [portal] listen must be an address such as 127.0.0.1:8080 when enabled = true")
	}
	for _, f := range append([]string{c.Portal.Listen, c.Portal.WasmDir}, c.Portal.Witnesses...) {
		if !printableText(f) {
			return fmt.Errorf("app.toml: [portal] value %q holds a control character or invalid UTF-8", f)
		}
	}
	if c.SnapshotChunkSize < 0 || c.SnapshotChunkSize > 4<<20 {
		return errors.New("snapshot chunk size must be between 1 byte and 4 MiB")
	}
	return nil
}

// Config is a node's full configuration: CometBFT's plus the app's.
type Config struct {
	*cmtcfg.Config
	App AppConfig
}

// DefaultConfig is the configuration of a new validator home: loopback RPC,
// kv tx indexing, Prometheus metrics on, archive node, a 30 s heartbeat.
func DefaultConfig(home string) *Config {
	c := cmtcfg.DefaultConfig()
	c.SetRoot(home)
	c.TxIndex.Indexer = "kv"
	c.Instrumentation.Prometheus = true
	c.Instrumentation.Namespace = "cometbft"
	c.RPC.ListenAddress = "tcp://127.0.0.1:26657"
	c.P2P.ListenAddress = "tcp://127.0.0.1:26656"
	c.Instrumentation.PrometheusListenAddr = "127.0.0.1:26660"
	c.Consensus.CreateEmptyBlocks = true
	c.Consensus.CreateEmptyBlocksInterval = 30 * time.Second
	c.Consensus.TimeoutCommit = time.Second
	c.Storage.DiscardABCIResponses = false
	c.Mempool.MaxTxBytes = 64 * 1024
	return &Config{Config: c, App: DefaultAppConfig()}
}

// FastConsensus shortens consensus timeouts for local networks (demo and
// tests on loopback): blocks every few hundred milliseconds.
func FastConsensus(c *cmtcfg.Config) {
	cc := c.Consensus
	cc.TimeoutPropose = 400 * time.Millisecond
	cc.TimeoutProposeDelta = 100 * time.Millisecond
	cc.TimeoutPrevote = 200 * time.Millisecond
	cc.TimeoutPrevoteDelta = 100 * time.Millisecond
	cc.TimeoutPrecommit = 200 * time.Millisecond
	cc.TimeoutPrecommitDelta = 100 * time.Millisecond
	cc.TimeoutCommit = 150 * time.Millisecond
	cc.CreateEmptyBlocksInterval = 2 * time.Second
	c.P2P.FlushThrottleTimeout = 10 * time.Millisecond
	c.P2P.AllowDuplicateIP = true
	c.P2P.AddrBookStrict = false
	c.P2P.HandshakeTimeout = 5 * time.Second
	c.P2P.DialTimeout = 2 * time.Second
}

// Validate checks both sections.
func (c *Config) Validate() error {
	if err := c.Config.ValidateBasic(); err != nil {
		return fmt.Errorf("config.toml: %w", err)
	}
	if c.TxIndex.Indexer == "psql" {
		if err := validateAuditorPsql(c); err != nil {
			return err
		}
	}
	return c.App.Validate()
}

// AppConfigFile is the path of app.toml in a home.
func AppConfigFile(home string) string { return filepath.Join(home, "config", "app.toml") }

// WriteConfig writes config.toml and app.toml into the home.
func WriteConfig(c *Config) error {
	cmtcfg.EnsureRoot(c.RootDir)
	cmtcfg.WriteConfigFile(filepath.Join(c.RootDir, "config", "config.toml"), c.Config)
	app := fmt.Sprintf(`# Civic Ledger application settings.

# IAVL node cache per store (six stores), in nodes, a few hundred bytes each.
# Larger is not faster once the state is large: the Go garbage collector
# scans every cached node in each cycle, and that costs more than reading
# the nodes again from the database (at a million records, 500000 made the
# node slower and used 4.2 GB of RSS against 1.1 GB; see BENCHMARKS.md).
state_cache_size = %d

# State-sync snapshots, in data/snapshots, for new nodes that join by state
# sync instead of replaying every block: one every snapshot_interval blocks
# (0: none), the snapshot_keep_recent most recent kept (0: all).
snapshot_interval = %d
snapshot_keep_recent = %d

# Restoring: a snapshot offered to this node may declare up to
# snapshot_restore_max_bytes (chunks x 4 MiB; 0: any size that fits twice
# in the free disk space, for the spool and the imported state).
snapshot_restore_max_bytes = %d

# The node refuses to start, and a running node stops with an error line,
# when the file system of its data directory has less than min_free_disk_mb
# MiB free (0: no check): free space, then start it again.
min_free_disk_mb = %d
`, c.App.StateCacheSize, c.App.SnapshotInterval, c.App.SnapshotKeepRecent, c.App.SnapshotRestoreMaxBytes, c.App.MinFreeDiskMB)
	if c.App.AuditorNode {
		app += auditorAppTOML
	}
	app += portalTOML(c.App.Portal)
	return os.WriteFile(AppConfigFile(c.RootDir), []byte(app), 0o644)
}

// portalTOML is app.toml's [portal] section (last: TOML keys after a
// section header belong to it).
func portalTOML(p PortalConfig) string {
	q := make([]string, len(p.Witnesses))
	for i, w := range p.Witnesses {
		q[i] = strconv.Quote(w)
	}
	return fmt.Sprintf(`
# The public web portal (read-only, over this node's RPC): serve it from a
# full node for readers, not from a validator, behind a reverse proxy
# (docs/portal.md). The genesis file it publishes is this home's.
[portal]
enabled = %t
listen = %s
# Other agencies' RPC addresses, named on the how-to-verify page.
witnesses = [%s]
# The in-browser verifier built by 'make wasm' (empty: none).
wasm_dir = %s
`, p.Enabled, strconv.Quote(p.Listen), strings.Join(q, ", "), strconv.Quote(p.WasmDir))
}

// LoadConfig reads a home's config.toml and app.toml.
func LoadConfig(home string) (*Config, error) {
	c := DefaultConfig(home)
	path := filepath.Join(home, "config", "config.toml")
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no node home at %s (run ledgerd init or ledgerd testnet): %w", home, err)
	}
	v := viper.New()
	v.SetConfigFile(path)
	if err := v.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if err := v.Unmarshal(c.Config); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	c.SetRoot(home)
	if _, err := os.Stat(AppConfigFile(home)); err == nil {
		av := viper.New()
		av.SetConfigFile(AppConfigFile(home))
		if err := av.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("read app.toml: %w", err)
		}
		chunk := c.App.SnapshotChunkSize
		if err := av.Unmarshal(&c.App); err != nil {
			return nil, fmt.Errorf("parse app.toml: %w", err)
		}
		// Not an app.toml setting (see SnapshotChunkSize), though the
		// decoder maps a key named "-" to it (found by FuzzLoadConfig).
		c.App.SnapshotChunkSize = chunk
	}
	return c, c.Validate()
}

// hostPort strips a tcp:// scheme.
func hostPort(addr string) string {
	return strings.TrimPrefix(strings.TrimPrefix(addr, "tcp://"), "http://")
}

// printableText reports whether s is valid UTF-8 without control characters
// (so that it is written back to app.toml as a plain TOML string).
func printableText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return false
		}
	}
	return true
}
