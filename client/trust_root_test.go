package client_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/civicledger/civicledger/client"
)

// TestCheckpointCannotReplaceRoot: once a chain is trusted, another
// checkpoint (or a genesis file) is refused with a *RootConflictError and
// the stored state, its last verified header included, stays as it was;
// the same checkpoint again keeps the stored state. Only ResetTrust frees
// the chain for a new root.
func TestCheckpointCannotReplaceRoot(t *testing.T) {
	home := t.TempDir()
	initTrust(t, home)
	if _, err := client.UpdateLastVerified(home, trustChain, client.Checkpoint{Height: 7, Hash: hashOf(7)}); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(filepath.Join(client.TrustDir(home), trustChain+".json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		height int64
		hash   string
	}{
		{"another height", 5, hashOf(5)},
		{"another hash", 1, hashOf(99)},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := client.InitTrustCheckpoint(home, trustChain, c.height, c.hash)
			var rc *client.RootConflictError
			if !errors.As(err, &rc) || !errors.Is(err, client.ErrRootConflict) {
				t.Fatalf("InitTrustCheckpoint over another root: %v, want a *RootConflictError", err)
			}
			if rc.Stored == nil || rc.Stored.Root.Height != 1 || rc.Stored.LastVerified.Height != 7 {
				t.Fatalf("conflict names stored state %+v, want root 1, last verified 7", rc.Stored)
			}
			root := &client.TrustState{ChainID: trustChain, Root: client.Checkpoint{Height: c.height, Hash: c.hash}}
			if old, err := client.CheckNewRoot(home, root); old != nil || !errors.Is(err, client.ErrRootConflict) {
				t.Fatalf("CheckNewRoot: %+v, %v, want a conflict", old, err)
			}
		})
	}
	genesisRoot := &client.TrustState{ChainID: trustChain, GenesisSHA256: hashOf(42)}
	if _, err := client.CheckNewRoot(home, genesisRoot); !errors.Is(err, client.ErrRootConflict) {
		t.Fatalf("a genesis file over a checkpoint root: %v, want a conflict", err)
	}
	after, err := os.ReadFile(filepath.Join(client.TrustDir(home), trustChain+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if string(after) != string(before) {
		t.Fatalf("trust file changed:\n%s\nwant\n%s", after, before)
	}

	// The same checkpoint again keeps the stored state.
	ts, err := client.InitTrustCheckpoint(home, trustChain, 1, hashOf(1))
	if err != nil {
		t.Fatal(err)
	}
	if ts.LastVerified.Height != 7 {
		t.Fatalf("re-initialising from the same checkpoint: last verified %d, want 7 (kept)", ts.LastVerified.Height)
	}
	if old, err := client.CheckNewRoot(home, &client.TrustState{ChainID: trustChain, Root: client.Checkpoint{Height: 1, Hash: hashOf(1)}}); err != nil || old == nil {
		t.Fatalf("CheckNewRoot of the same root: %+v, %v, want the stored state", old, err)
	}

	// After a reset, a new root is taken.
	if _, err := client.ResetTrust(home, trustChain); err != nil {
		t.Fatal(err)
	}
	if old, err := client.CheckNewRoot(home, &client.TrustState{ChainID: trustChain, Root: client.Checkpoint{Height: 5, Hash: hashOf(5)}}); err != nil || old != nil {
		t.Fatalf("CheckNewRoot after reset: %+v, %v, want nil, nil", old, err)
	}
	if ts, err := client.InitTrustCheckpoint(home, trustChain, 5, hashOf(5)); err != nil || ts.Root.Height != 5 {
		t.Fatalf("InitTrustCheckpoint after reset: %+v, %v", ts, err)
	}
}

// TestBadCheckpoint: a checkpoint that cannot name a header is refused with
// ErrBadCheckpoint, in words that name no command-line flag.
func TestBadCheckpoint(t *testing.T) {
	home := t.TempDir()
	for _, c := range []struct {
		height int64
		hash   string
	}{{0, hashOf(1)}, {1, "xyz"}, {1, "ABCD"}} {
		_, err := client.InitTrustCheckpoint(home, trustChain, c.height, c.hash)
		if !errors.Is(err, client.ErrBadCheckpoint) {
			t.Errorf("InitTrustCheckpoint(%d, %q): %v, want ErrBadCheckpoint", c.height, c.hash, err)
		}
	}
}
