package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	lighthttp "github.com/cometbft/cometbft/light/provider/http"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/civicledger/civicledger/ledger/verify"
)

// TrustState is what a client trusts for one chain, kept in
// <home>/trust/<chain-id>.json: the root it started from (the genesis file,
// by hash, or a checkpoint the user chose) and the last header it verified.
// It refuses any chain whose headers conflict with what it verified before.
type TrustState struct {
	ChainID       string     `json:"chain_id"`
	GenesisSHA256 string     `json:"genesis_sha256,omitempty"` // hex; empty for a checkpoint root
	Root          Checkpoint `json:"root"`
	LastVerified  Checkpoint `json:"last_verified"`
}

// Checkpoint is a verified (height, header hash) pair.
type Checkpoint struct {
	Height int64  `json:"height"`
	Hash   string `json:"hash"` // upper-case hex header hash
}

var chainIDRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,50}$`)

// TrustDir is where trust states live under a client home.
func TrustDir(home string) string { return filepath.Join(home, "trust") }

func trustPath(home, chainID string) (string, error) {
	if !chainIDRe.MatchString(chainID) {
		return "", fmt.Errorf("chain id %q is not a safe file name", chainID)
	}
	return filepath.Join(TrustDir(home), chainID+".json"), nil
}

// GenesisPath is where the trusted genesis of a chain is kept.
func GenesisPath(home, chainID string) string {
	return filepath.Join(TrustDir(home), chainID+".genesis.json")
}

// ErrNoTrust is returned when no trust root was set up for a chain.
var ErrNoTrust = errors.New("no trust root for this chain: run 'ledger trust init --genesis FILE' (or --height H --hash HEX)")

// LoadTrust reads the trust state of a chain.
func LoadTrust(home, chainID string) (*TrustState, error) {
	p, err := trustPath(home, chainID)
	if err != nil {
		return nil, err
	}
	bz, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("chain %s: %w", chainID, ErrNoTrust)
	}
	if err != nil {
		return nil, err
	}
	var ts TrustState
	if err := json.Unmarshal(bz, &ts); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if ts.ChainID != chainID {
		return nil, fmt.Errorf("%s holds chain %q", p, ts.ChainID)
	}
	return &ts, nil
}

// SaveTrust writes the trust state atomically.
func SaveTrust(home string, ts *TrustState) error {
	p, err := trustPath(home, ts.ChainID)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	bz, err := json.MarshalIndent(ts, "", "  ")
	if err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, bz, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// LoadGenesisFile reads a genesis file and returns it with the SHA-256 of
// its bytes (the trust root agencies publish).
func LoadGenesisFile(path string) (*cmttypes.GenesisDoc, string, error) {
	bz, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	doc, err := cmttypes.GenesisDocFromJSON(bz)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	sum := sha256.Sum256(bz)
	return doc, hex.EncodeToString(sum[:]), nil
}

// InitTrustFromGenesis makes the genesis file the trust root of its chain:
// it fetches the chain's first light block from the node, checks it against
// the genesis validators alone (verify.FirstBlock) and stores its hash.
func InitTrustFromGenesis(ctx context.Context, home, genesisPath, node string) (*TrustState, error) {
	doc, sum, err := LoadGenesisFile(genesisPath)
	if err != nil {
		return nil, err
	}
	lb, err := fetchLightBlock(ctx, doc.ChainID, node, doc.InitialHeight)
	if err != nil {
		return nil, err
	}
	if err := verifyFirstBlock(doc, lb); err != nil {
		return nil, err
	}
	if old, err := LoadTrust(home, doc.ChainID); err == nil && old.GenesisSHA256 != "" && old.GenesisSHA256 != sum {
		return nil, fmt.Errorf("chain %s is already trusted from a different genesis (sha256 %s); remove %s to start over", doc.ChainID, old.GenesisSHA256, TrustDir(home))
	}
	bz, err := os.ReadFile(genesisPath)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(TrustDir(home), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(GenesisPath(home, doc.ChainID), bz, 0o600); err != nil {
		return nil, err
	}
	cp := Checkpoint{Height: lb.Height, Hash: fmt.Sprintf("%X", lb.Hash())}
	ts := &TrustState{ChainID: doc.ChainID, GenesisSHA256: sum, Root: cp, LastVerified: cp}
	return ts, SaveTrust(home, ts)
}

// InitTrustCheckpoint trusts a header the user obtained out of band.
func InitTrustCheckpoint(home, chainID string, height int64, hash string) (*TrustState, error) {
	b, err := hex.DecodeString(hash)
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("--hash must be a 32-byte header hash in hex")
	}
	if height < 1 {
		return nil, fmt.Errorf("--height must be positive")
	}
	cp := Checkpoint{Height: height, Hash: fmt.Sprintf("%X", b)}
	ts := &TrustState{ChainID: chainID, Root: cp, LastVerified: cp}
	return ts, SaveTrust(home, ts)
}

func fetchLightBlock(ctx context.Context, chainID, node string, h int64) (*cmttypes.LightBlock, error) {
	c, err := New(node)
	if err != nil {
		return nil, err
	}
	if err := c.WaitForHeight(ctx, h+1); err != nil {
		return nil, err
	}
	p, err := lighthttp.New(chainID, c.URL)
	if err != nil {
		return nil, err
	}
	lb, err := p.LightBlock(ctx, h)
	if err != nil {
		return nil, fmt.Errorf("fetch header %d from %s: %w", h, c.URL, err)
	}
	return lb, nil
}

func verifyFirstBlock(doc *cmttypes.GenesisDoc, lb *cmttypes.LightBlock) error {
	return verify.FirstBlock(doc, lb)
}
