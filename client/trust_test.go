package client_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/civicledger/civicledger/client"
)

const trustChain = "civic-trust-test"

func hashOf(h int64) string { return fmt.Sprintf("%064X", h) }

func initTrust(t *testing.T, home string) {
	t.Helper()
	if _, err := client.InitTrustCheckpoint(home, trustChain, 1, hashOf(1)); err != nil {
		t.Fatal(err)
	}
}

// TestSaveTrustConcurrentNeverLowers runs the load-modify-save cycle of
// 'ledger verify' from many goroutines at once: every save succeeds, the
// file always parses, and the last verified height ends at the highest one
// saved (a stale save never moves it back).
func TestSaveTrustConcurrentNeverLowers(t *testing.T) {
	home := t.TempDir()
	initTrust(t, home)
	const workers, rounds = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				ts, err := client.LoadTrust(home, trustChain)
				if err != nil {
					errs <- err
					return
				}
				// Heights interleave across workers: many saves are stale.
				h := int64(2 + r*workers + w)
				ts.LastVerified = client.Checkpoint{Height: h, Hash: hashOf(h)}
				if err := client.SaveTrust(home, ts); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	ts, err := client.LoadTrust(home, trustChain)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(2 + (rounds-1)*workers + workers - 1); ts.LastVerified.Height != want {
		t.Fatalf("last verified %d, want %d", ts.LastVerified.Height, want)
	}
	leftovers, _ := filepath.Glob(filepath.Join(client.TrustDir(home), "*.tmp"))
	if len(leftovers) != 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}
}

func TestUpdateLastVerified(t *testing.T) {
	home := t.TempDir()
	initTrust(t, home)
	ts, err := client.UpdateLastVerified(home, trustChain, client.Checkpoint{Height: 10, Hash: hashOf(10)})
	if err != nil || ts.LastVerified.Height != 10 {
		t.Fatalf("update to 10: %+v %v", ts, err)
	}
	ts, err = client.UpdateLastVerified(home, trustChain, client.Checkpoint{Height: 5, Hash: hashOf(5)})
	if err != nil || ts.LastVerified.Height != 10 {
		t.Fatalf("update to 5 must keep 10: %+v %v", ts, err)
	}
	if _, err := client.UpdateLastVerified(home, trustChain, client.Checkpoint{Height: 10, Hash: hashOf(11)}); !errors.Is(err, client.ErrConflictWithPast) {
		t.Fatalf("another hash at the stored height: %v, want ErrConflictWithPast", err)
	}
	// A stale SaveTrust (same root, lower height) keeps the stored height.
	stale := &client.TrustState{ChainID: trustChain, Root: client.Checkpoint{Height: 1, Hash: hashOf(1)}, LastVerified: client.Checkpoint{Height: 3, Hash: hashOf(3)}}
	if err := client.SaveTrust(home, stale); err != nil {
		t.Fatal(err)
	}
	if stale.LastVerified.Height != 10 {
		t.Fatalf("stale save reports last verified %d, want 10", stale.LastVerified.Height)
	}
	if ts, _ := client.LoadTrust(home, trustChain); ts.LastVerified.Height != 10 {
		t.Fatalf("stored last verified %d after a stale save, want 10", ts.LastVerified.Height)
	}
	if _, err := client.UpdateLastVerified(home, "other-chain", client.Checkpoint{Height: 2, Hash: hashOf(2)}); !errors.Is(err, client.ErrNoTrust) {
		t.Fatalf("untrusted chain: %v, want ErrNoTrust", err)
	}
}

// TestUpdateLastVerifiedAcrossProcesses runs UpdateLastVerified from
// several processes at once (this test binary re-run as a helper) while
// this process reads the file: every read parses and never sees the
// height go back, and the end state is the highest height written.
func TestUpdateLastVerifiedAcrossProcesses(t *testing.T) {
	if home := os.Getenv("CIVIC_TRUST_HELPER_HOME"); home != "" {
		trustHelper(t, home)
		return
	}
	home := t.TempDir()
	initTrust(t, home)
	const procs, rounds = 4, 60
	cmds := make([]*exec.Cmd, procs)
	for i := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestUpdateLastVerifiedAcrossProcesses$", "-test.count=1")
		cmd.Env = append(os.Environ(), "CIVIC_TRUST_HELPER_HOME="+home, "CIVIC_TRUST_HELPER_ID="+strconv.Itoa(i), "CIVIC_TRUST_HELPER_PROCS="+strconv.Itoa(procs), "CIVIC_TRUST_HELPER_ROUNDS="+strconv.Itoa(rounds))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	done := make(chan struct{})
	readErr := make(chan error, 1)
	go func() {
		defer close(readErr)
		p := filepath.Join(client.TrustDir(home), trustChain+".json")
		var last int64
		for {
			select {
			case <-done:
				return
			default:
			}
			bz, err := os.ReadFile(p)
			if err != nil {
				readErr <- err
				return
			}
			var ts client.TrustState
			if err := json.Unmarshal(bz, &ts); err != nil {
				readErr <- fmt.Errorf("torn trust file %q: %w", bz, err)
				return
			}
			if ts.LastVerified.Height < last {
				readErr <- fmt.Errorf("last verified went back from %d to %d", last, ts.LastVerified.Height)
				return
			}
			last = ts.LastVerified.Height
		}
	}()
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper %d: %v", i, err)
		}
	}
	close(done)
	if err := <-readErr; err != nil {
		t.Fatal(err)
	}
	ts, err := client.LoadTrust(home, trustChain)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(2 + (rounds-1)*procs + procs - 1); ts.LastVerified.Height != want || ts.LastVerified.Hash != hashOf(want) {
		t.Fatalf("last verified %+v, want height %d", ts.LastVerified, want)
	}
}

func trustHelper(t *testing.T, home string) {
	id, _ := strconv.Atoi(os.Getenv("CIVIC_TRUST_HELPER_ID"))
	procs, _ := strconv.Atoi(os.Getenv("CIVIC_TRUST_HELPER_PROCS"))
	rounds, _ := strconv.Atoi(os.Getenv("CIVIC_TRUST_HELPER_ROUNDS"))
	for r := range rounds {
		h := int64(2 + r*procs + id)
		ts, err := client.UpdateLastVerified(home, trustChain, client.Checkpoint{Height: h, Hash: hashOf(h)})
		if err != nil {
			t.Fatal(err)
		}
		if ts.LastVerified.Height < h {
			t.Fatalf("stored %d after saving %d", ts.LastVerified.Height, h)
		}
	}
}

// TestChainIDIsCheckedBeforePaths: chain ids come from nodes and bundles;
// one that is not a plain file name never reaches a path.
func TestChainIDIsCheckedBeforePaths(t *testing.T) {
	home := t.TempDir()
	for _, id := range []string{"../escape", "a/b", "..", ".", "", strings.Repeat("x", 51), "a\x00b"} {
		if p, err := client.GenesisPath(home, id); err == nil {
			t.Errorf("GenesisPath(%q) = %s, want an error", id, p)
		}
		if _, err := client.LoadTrust(home, id); err == nil || errors.Is(err, client.ErrNoTrust) {
			t.Errorf("LoadTrust(%q): %v, want a chain id error", id, err)
		}
		if _, err := client.InitTrustCheckpoint(home, id, 1, hashOf(1)); err == nil {
			t.Errorf("InitTrustCheckpoint(%q) succeeded", id)
		}
		if _, err := client.UpdateLastVerified(home, id, client.Checkpoint{Height: 2, Hash: hashOf(2)}); err == nil {
			t.Errorf("UpdateLastVerified(%q) succeeded", id)
		}
	}
	entries, _ := os.ReadDir(home)
	if len(entries) > 1 {
		t.Fatalf("files created outside the trust dir: %v", entries)
	}
	if p, err := client.GenesisPath(home, "civic-1.main_net"); err != nil || p != filepath.Join(client.TrustDir(home), "civic-1.main_net.genesis.json") {
		t.Fatalf("GenesisPath of a valid id: %s %v", p, err)
	}
}
