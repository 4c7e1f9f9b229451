package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/node"
)

// trustOut is the JSON of "ledger trust show|init".
type trustOut struct {
	client.TrustState
	File string `json:"file"`
	Note string `json:"note"`
}

// testTrust runs the trust commands against net, whose chain home already
// trusts from its genesis file (and has verified headers since).
func testTrust(t *testing.T, net *node.Network, home string) {
	rpc := net.Testnet.Agencies[0].RPC
	with := func(home string, args ...string) []string {
		return append([]string{"--home", home, "--node", rpc}, args...)
	}
	ok := func(args ...string) string { t.Helper(); return mustRun(t, args...) }

	show := decodeJSON[trustOut](t, ok(with(home, "-o", "json", "trust", "show")...))
	if show.ChainID != net.Testnet.ChainID || show.Root.Height != 1 || len(show.GenesisSHA256) != 64 ||
		show.LastVerified.Height <= 1 || show.File != filepath.Join(home, "trust", show.ChainID+".json") {
		t.Fatalf("trust show %+v", show)
	}
	contains(t, "trust show", ok(with(home, "trust", "show")...), "chain id:", "genesis sha256:", show.GenesisSHA256,
		"trusted root:", "last verified:", "height "+strconv.FormatInt(show.LastVerified.Height, 10))

	t.Run("same genesis again", func(t *testing.T) {
		out := ok(with(home, "trust", "init", "--genesis", net.Testnet.Genesis)...)
		contains(t, "trust init again", out, "already trusted from this genesis file")
		if again := decodeJSON[trustOut](t, ok(with(home, "-o", "json", "trust", "show")...)); again.LastVerified.Height < show.LastVerified.Height {
			t.Errorf("re-init reset the last verified header: %+v", again)
		}
	})

	t.Run("different genesis", func(t *testing.T) {
		// Same chain, other bytes: another genesis as far as trust goes.
		bz, err := os.ReadFile(net.Testnet.Genesis)
		if err != nil {
			t.Fatal(err)
		}
		other := filepath.Join(t.TempDir(), "genesis.json")
		if err := os.WriteFile(other, append(bz, '\n', ' '), 0o600); err != nil {
			t.Fatal(err)
		}
		wantCode(t, 1, []string{"already trusted from the genesis file with sha256 " + show.GenesisSHA256, "ledger trust reset --chain-id " + net.Testnet.ChainID},
			with(home, "trust", "init", "--genesis", other)...)
		wantCode(t, 1, []string{"already trusted"}, with(home, "trust", "init", "--height", "1", "--hash", show.Root.Hash)...)
	})

	t.Run("checkpoint with a wrong hash", func(t *testing.T) {
		// Accepted (it is the user's word), then refused by the first
		// verification: the chain does not have that header. Exit 1.
		h2 := t.TempDir()
		out := ok(with(h2, "trust", "init", "--height", "1", "--hash", strings.Repeat("ab", 32))...)
		contains(t, "checkpoint init", out, "genesis sha256:", "- (checkpoint root)", "height 1 hash "+strings.Repeat("AB", 32), "not checked yet")
		wantCode(t, 1, []string{"verification FAILED", "header verification failed", "does not serve the trusted chain", "a wrong checkpoint"}, with(h2, "verify", "grant", "G-V-1")...)
		out, _ = wantCode(t, 1, nil, with(h2, "-o", "json", "verify", "grant", "G-V-1")...)
		if r := decodeJSON[verifyOut](t, out); r.Result != resultFailed || len(r.Steps) != 1 || r.Steps[0].Name != client.StepTrustRoot || r.Steps[0].OK {
			t.Errorf("report %+v", r)
		}
		// The same checkpoint again is a no-op; another one is refused.
		contains(t, "checkpoint again", ok(with(h2, "trust", "init", "--height", "1", "--hash", strings.Repeat("AB", 32))...), "already trusted")
		wantCode(t, 1, []string{"already trusted from a checkpoint"}, with(h2, "trust", "init", "--height", "1", "--hash", strings.Repeat("cd", 32))...)
	})

	t.Run("checkpoint", func(t *testing.T) {
		// A header verified earlier, given out of band with the chain id.
		h3 := t.TempDir()
		lv := show.LastVerified
		ok("--home", h3, "--node", "http://127.0.0.1:1", "trust", "init", "--height", strconv.FormatInt(lv.Height, 10),
			"--hash", strings.ToLower(lv.Hash), "--chain-id", show.ChainID)
		out := ok(with(h3, "verify", "grant", "G-V-1")...)
		contains(t, "verify from a checkpoint", out, "trust root:", "checkpoint, header "+strconv.FormatInt(lv.Height, 10)+" "+lv.Hash)
		if lastLine(out) != resultVerified {
			t.Errorf("verify from a checkpoint:\n%s", out)
		}
	})
}
