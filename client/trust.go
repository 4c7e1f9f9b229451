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
	"strings"

	lighthttp "github.com/cometbft/cometbft/light/provider/http"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/civicledger/civicledger/internal/atomicfile"
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

// ValidChainID reports whether a chain id may name files under a client
// home: 1 to 50 of [A-Za-z0-9._-], and not "." or "..". Chain ids come from
// nodes and bundles, so every path built from one is checked first.
func ValidChainID(chainID string) error {
	if !chainIDRe.MatchString(chainID) || strings.Trim(chainID, ".") == "" {
		return fmt.Errorf("chain id %q is not a safe file name (1 to 50 of A-Z a-z 0-9 . _ -)", chainID)
	}
	return nil
}

// TrustDir is where trust states live under a client home.
func TrustDir(home string) string { return filepath.Join(home, "trust") }

func trustPath(home, chainID string) (string, error) {
	if err := ValidChainID(chainID); err != nil {
		return "", err
	}
	return filepath.Join(TrustDir(home), chainID+".json"), nil
}

// GenesisPath is where the trusted genesis of a chain is kept. It refuses a
// chain id that is not a safe file name.
func GenesisPath(home, chainID string) (string, error) {
	if err := ValidChainID(chainID); err != nil {
		return "", err
	}
	return filepath.Join(TrustDir(home), chainID+".genesis.json"), nil
}

// ErrNoTrust is returned when no trust root was set up for a chain
// (InitTrustFromGenesis or InitTrustCheckpoint set one up).
var ErrNoTrust = errors.New("no trust root for this chain")

// LoadTrust reads the trust state of a chain.
func LoadTrust(home, chainID string) (*TrustState, error) {
	p, err := trustPath(home, chainID)
	if err != nil {
		return nil, err
	}
	return readTrust(p, chainID)
}

func readTrust(p, chainID string) (*TrustState, error) {
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

// sameRoot reports whether two trust states start from the same root.
func sameRoot(a, b *TrustState) bool {
	return a.GenesisSHA256 == b.GenesisSHA256 && a.Root.Height == b.Root.Height && strings.EqualFold(a.Root.Hash, b.Root.Hash)
}

// SaveTrust writes the trust state of ts.ChainID. It holds the chain's trust
// lock, and it never moves the last verified header back: when the stored
// state has the same root and a higher last verified height (another run
// verified further meanwhile), the stored last verified checkpoint is kept
// and copied into ts. A stored state at the same height with another hash
// is a conflict and is refused. A different root replaces the stored state
// (callers decide whether that is allowed). The file is replaced atomically
// (a unique temporary file, fsynced, renamed, directory fsynced), so a
// reader sees the old or the new state, never a torn one.
func SaveTrust(home string, ts *TrustState) error {
	p, err := trustPath(home, ts.ChainID)
	if err != nil {
		return err
	}
	unlock, err := lockTrust(home, ts.ChainID)
	if err != nil {
		return err
	}
	defer unlock()
	cur, err := readTrust(p, ts.ChainID)
	switch {
	case err == nil:
		if sameRoot(cur, ts) {
			if err := checkSameHeight(cur.LastVerified, ts.LastVerified); err != nil {
				return err
			}
			if cur.LastVerified.Height > ts.LastVerified.Height {
				ts.LastVerified = cur.LastVerified
			}
		}
	case !errors.Is(err, ErrNoTrust):
		return err
	}
	return writeTrust(p, ts)
}

// UpdateLastVerified records cp as the last verified header of a chain,
// unless the stored one is higher: it takes the chain's trust lock, reloads
// the stored state, and saves cp only if cp.Height is above the stored last
// verified height. A checkpoint at the stored height with another hash is
// refused with ErrConflictWithPast. It returns the state as stored after the
// call (whose LastVerified may be higher than cp). Concurrent verifications,
// in one process or several, can therefore never lower last_verified or
// lose each other's progress.
func UpdateLastVerified(home, chainID string, cp Checkpoint) (*TrustState, error) {
	p, err := trustPath(home, chainID)
	if err != nil {
		return nil, err
	}
	if cp.Height < 1 {
		return nil, fmt.Errorf("checkpoint height %d is not positive", cp.Height)
	}
	unlock, err := lockTrust(home, chainID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	ts, err := readTrust(p, chainID)
	if err != nil {
		return nil, err
	}
	if err := checkSameHeight(ts.LastVerified, cp); err != nil {
		return nil, err
	}
	if cp.Height <= ts.LastVerified.Height {
		return ts, nil
	}
	ts.LastVerified = Checkpoint{Height: cp.Height, Hash: strings.ToUpper(cp.Hash)}
	return ts, writeTrust(p, ts)
}

func checkSameHeight(stored, cp Checkpoint) error {
	if stored.Height == cp.Height && !strings.EqualFold(stored.Hash, cp.Hash) {
		return fmt.Errorf("header %d is %s but %s was verified before: %w", cp.Height, cp.Hash, stored.Hash, ErrConflictWithPast)
	}
	return nil
}

func writeTrust(p string, ts *TrustState) error {
	bz, err := json.MarshalIndent(ts, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(p, bz)
}

// writeFileAtomic replaces p with data (mode 0600), whole or not at all,
// creating p's directory if need be.
func writeFileAtomic(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(p, data, 0o600, true)
}

// lockTrust takes the advisory lock of a chain's trust state
// (<home>/trust/<chain-id>.lock), waiting for other holders, and returns
// the function that releases it.
func lockTrust(home, chainID string) (func(), error) {
	if err := ValidChainID(chainID); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(TrustDir(home), 0o700); err != nil {
		return nil, err
	}
	return lockFile(filepath.Join(TrustDir(home), chainID+".lock"))
}

// LoadGenesisFile reads a genesis file and returns it with the SHA-256 of
// its bytes (the trust root agencies publish).
func LoadGenesisFile(path string) (*cmttypes.GenesisDoc, string, error) {
	bz, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	doc, err := verify.ParseGenesis(bz)
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
	// Refuse a conflicting root before writing the genesis file; storeRoot
	// checks again under the lock.
	if old, err := CheckNewRoot(home, &TrustState{ChainID: doc.ChainID, GenesisSHA256: sum}); err != nil || old != nil {
		return old, err
	}
	bz, err := os.ReadFile(genesisPath)
	if err != nil {
		return nil, err
	}
	gp, err := GenesisPath(home, doc.ChainID)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(gp, bz); err != nil {
		return nil, err
	}
	cp := Checkpoint{Height: lb.Height, Hash: fmt.Sprintf("%X", lb.Hash())}
	return storeRoot(home, &TrustState{ChainID: doc.ChainID, GenesisSHA256: sum, Root: cp, LastVerified: cp})
}

// ErrBadCheckpoint is returned for a checkpoint that cannot name a header:
// a height below 1, or a hash that is not 32 bytes in hex.
var ErrBadCheckpoint = errors.New("bad checkpoint")

// InitTrustCheckpoint trusts a header the user obtained out of band, under
// the trust-root policy of CheckNewRoot: a chain trusted from another root
// is refused (*RootConflictError), one trusted from this very checkpoint
// keeps its stored state.
func InitTrustCheckpoint(home, chainID string, height int64, hash string) (*TrustState, error) {
	b, err := hex.DecodeString(hash)
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("%w: the header hash must be 32 bytes in hex (64 digits)", ErrBadCheckpoint)
	}
	if height < 1 {
		return nil, fmt.Errorf("%w: the height must be positive", ErrBadCheckpoint)
	}
	if err := ValidChainID(chainID); err != nil {
		return nil, err
	}
	cp := Checkpoint{Height: height, Hash: fmt.Sprintf("%X", b)}
	return storeRoot(home, &TrustState{ChainID: chainID, Root: cp, LastVerified: cp})
}

// ErrRootConflict is matched by a *RootConflictError.
var ErrRootConflict = errors.New("the chain is already trusted from another root")

// RootConflictError refuses a new trust root for a chain trusted from
// another one. Only ResetTrust removes a stored root: neither a genesis file
// nor a checkpoint replaces it, as that would discard what was verified
// from it (a node could otherwise talk a client into trusting another chain).
type RootConflictError struct {
	ChainID string
	Stored  *TrustState // the stored state, whose root stays
}

func (e *RootConflictError) Error() string {
	return fmt.Sprintf("chain %s: %v", e.ChainID, ErrRootConflict)
}

// Is matches ErrRootConflict.
func (e *RootConflictError) Is(target error) bool { return target == ErrRootConflict }

// CheckNewRoot is the trust-root replacement policy for root, a state a
// user asks to trust for root.ChainID: by a genesis file (root.GenesisSHA256
// set: the file's sha256 names the root, whatever its first header) or by a
// checkpoint (Root's height and hash). It returns nil, nil when the chain is
// not trusted yet (the root may be stored); the stored state, nil when the
// chain is already trusted from this very root (keep it: its last verified
// header stays); a *RootConflictError when it is trusted from another root,
// genesis or checkpoint alike; any error reading the stored state as it is.
func CheckNewRoot(home string, root *TrustState) (*TrustState, error) {
	old, err := LoadTrust(home, root.ChainID)
	switch {
	case errors.Is(err, ErrNoTrust):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return rootPolicy(old, root)
}

// rootPolicy decides between a stored state and a new root (CheckNewRoot).
func rootPolicy(old, root *TrustState) (*TrustState, error) {
	same := old.GenesisSHA256 == root.GenesisSHA256
	if root.GenesisSHA256 == "" {
		same = same && old.Root.Height == root.Root.Height && strings.EqualFold(old.Root.Hash, root.Root.Hash)
	}
	if same {
		return old, nil
	}
	return nil, &RootConflictError{ChainID: root.ChainID, Stored: old}
}

// storeRoot saves ts as a chain's new trust root under the chain's trust
// lock, applying rootPolicy to the state stored at that moment: the stored
// state is returned unchanged when it has the same root, and a conflicting
// root is refused.
func storeRoot(home string, ts *TrustState) (*TrustState, error) {
	p, err := trustPath(home, ts.ChainID)
	if err != nil {
		return nil, err
	}
	unlock, err := lockTrust(home, ts.ChainID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	old, err := readTrust(p, ts.ChainID)
	switch {
	case err == nil:
		return rootPolicy(old, ts)
	case !errors.Is(err, ErrNoTrust):
		return nil, err
	}
	if err := writeTrust(p, ts); err != nil {
		return nil, err
	}
	return ts, nil
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

// ResetTrust removes the trust state of a chain (its root, the last header
// verified, the trusted genesis file) and returns it as it was, so that the
// chain can be trusted anew, from another genesis file after the agencies
// restarted it. Other chains' trust states are untouched. It fails with
// ErrNoTrust if the chain is not trusted.
func ResetTrust(home, chainID string) (*TrustState, error) {
	p, err := trustPath(home, chainID)
	if err != nil {
		return nil, err
	}
	unlock, err := lockTrust(home, chainID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	old, err := readTrust(p, chainID)
	if err != nil {
		return nil, err
	}
	gp, err := GenesisPath(home, chainID)
	if err != nil {
		return nil, err
	}
	// The state first: without it the chain is untrusted, whatever is left.
	if err := os.Remove(p); err != nil {
		return nil, err
	}
	if err := os.Remove(gp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return old, atomicfile.SyncDir(TrustDir(home))
}
