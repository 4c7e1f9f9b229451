package main

import (
	"strings"
	"testing"
)

// TestTrustAfterRestart: a journalist trusted a chain, and the agencies
// restarted it from a new genesis file under the same chain id (as every demo
// run does). verify says that this is what happened and how to reset trust;
// trust init from the new file says the same; trust reset removes the chain's
// trust state and nothing else, and trust init then works.
func TestTrustAfterRestart(t *testing.T) {
	const chainID = "civic-restart-test"
	home := t.TempDir()
	first := testNet(t, chainID)
	other := testNet(t, "civic-restart-other")
	as := func(rpc string, args ...string) []string {
		return append([]string{"--home", home, "--node", rpc}, args...)
	}
	ok := func(args ...string) string { t.Helper(); return mustRun(t, args...) }
	ok(as(first.Testnet.Agencies[0].RPC, "trust", "init", "--genesis", first.Testnet.Genesis)...)
	ok(as(other.Testnet.Agencies[0].RPC, "trust", "init", "--genesis", other.Testnet.Genesis)...)
	ok(as(first.Testnet.Agencies[0].RPC, "verify", "agency", "agency-1")...)
	first.Stop()

	second := testNet(t, chainID)
	rpc := second.Testnet.Agencies[0].RPC
	_, errOut := wantCode(t, exitFailed, []string{"does not serve the trusted chain", "restarted from a new genesis file", "if the agencies published that new genesis file",
		"ledger trust reset --chain-id " + chainID, "ledger trust init --genesis"}, as(rpc, "verify", "agency", "agency-1")...)
	t.Logf("verify against the restarted chain:\n%s", errOut)
	out, _ := wantCode(t, exitFailed, []string{"civic-restart-test", "restarted"}, as(rpc, "-o", "json", "verify", "agency", "agency-1")...)
	if !strings.Contains(out, `"restarted": true`) && !strings.Contains(out, `"restarted":true`) {
		t.Errorf("verify -o json does not report the restart:\n%s", out)
	}
	wantCode(t, exitFailed, []string{"already trusted from", "ledger trust reset --chain-id " + chainID}, as(rpc, "trust", "init", "--genesis", second.Testnet.Genesis)...)

	wantCode(t, exitUsage, []string{"--chain-id"}, as(rpc, "trust", "reset")...)
	wantCode(t, exitUsage, []string{"no trust root"}, as(rpc, "trust", "reset", "--chain-id", "civic-never-trusted")...)
	out = ok(as(rpc, "trust", "reset", "--chain-id", chainID)...)
	for _, want := range []string{"removed the trust state of chain " + chainID, "ledger trust init --genesis"} {
		if !strings.Contains(out, want) {
			t.Errorf("trust reset output lacks %q:\n%s", want, out)
		}
	}
	// The other chain's trust state is untouched.
	ok(as(other.Testnet.Agencies[0].RPC, "verify", "agency", "agency-1")...)
	ok(as(rpc, "trust", "init", "--genesis", second.Testnet.Genesis)...)
	if out := ok(as(rpc, "verify", "agency", "agency-1")...); !strings.Contains(out, "VERIFIED") {
		t.Errorf("verify after reset:\n%s", out)
	}
}
