package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/internal/keystore"
	"github.com/civicledger/civicledger/node"
)

// verifyOut is the JSON report of a verify command.
type verifyOut struct {
	Command            string                `json:"command"`
	ChainID            string                `json:"chain_id"`
	IndependentWitness bool                  `json:"independent_witness"`
	Witnesses          []client.WitnessCheck `json:"witnesses"`
	Height             int64                 `json:"height"`
	Present            *bool                 `json:"present"`
	Record             map[string]any        `json:"record"`
	Summary            map[string]any        `json:"summary"`
	Header             *client.HeaderInfo    `json:"header"`
	Signers            []client.CommitSigner `json:"signers"`
	SignedPower        int64                 `json:"signed_power"`
	TotalPower         int64                 `json:"total_power"`
	Tx                 *client.TxReport      `json:"tx"`
	Warnings           []string              `json:"warnings"`
	Steps              []client.Step         `json:"steps"`
	Result             string                `json:"result"`
	Error              string                `json:"error"`
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestVerify records grants, licences and payments on a real two-agency
// network and verifies them, their totals and their transactions with the
// verify commands, from a trust root set up with the trust commands.
func TestVerify(t *testing.T) {
	net := testNet(t, "civic-verify-test")
	a := net.Testnet.Agencies
	ok := func(args ...string) string { t.Helper(); return mustCLI(t, net, 0, args...) }

	ok(awardArgs("G-V-1", "1000.00 EUR")...)
	payHash, _, _ := txLines(t, ok(paymentArgs("P-V-1", "250.00 EUR", "--grant", "G-V-1")...))
	fourEyesHash, _, _ := txLines(t, ok(paymentArgs("P-V-2", "15000.00 EUR", "--cosign", "finance2")...))
	_, last, _ := txLines(t, ok("tx", "licence", "issue", "--from", "licensing", "--id", "L-V-1", "--holder-name", "Harbour Cafe",
		"--holder-scheme", "GB-COH", "--holder-id", "0002", "--type", "premises", "--scope", "Sale of alcohol",
		"--valid-from", "2026-01-01", "--valid-until", "2030-12-31", "--decision-date", "2025-12-15",
		"--conditions-hash", testDocHash))
	// Most checks read the state after the last of these transactions, whose
	// next header exists already: verifying the latest state waits for the
	// next block (up to 2 s on this network).
	at := []string{"--height", strconv.FormatInt(last, 10)}

	// The verifier's own home: it trusts nothing yet.
	home := t.TempDir()
	as := func(args ...string) []string { return append([]string{"--home", home, "--node", a[0].RPC}, args...) }
	witness := []string{"--witness", a[1].RPC}
	verified := func(want string, args ...string) string {
		t.Helper()
		out, errOut, code := run(t, as(args...)...)
		if code != 0 || lastLine(out) != want {
			t.Fatalf("ledger %s: exit %d, last line %q, want %q\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, lastLine(out), want, out, errOut)
		}
		return out
	}

	t.Run("no trust root", func(t *testing.T) {
		wantCode(t, 2, []string{"no trust root", "ledger trust init"}, as("verify", "grant", "G-V-1")...)
		out, _ := wantCode(t, 2, nil, as("-o", "json", "verify", "grant", "G-V-1")...)
		if r := decodeJSON[verifyOut](t, out); r.Result != resultNotVerified || len(r.Steps) == 0 || r.Steps[0].OK {
			t.Errorf("report without trust root: %+v", r)
		}
		wantCode(t, 2, []string{"no trust root"}, as("trust", "show")...)
	})

	out, errOut, code := run(t, as("trust", "init", "--genesis", net.Testnet.Genesis)...)
	if code != 0 {
		t.Fatalf("trust init: exit %d\n%s\n%s", code, out, errOut)
	}
	contains(t, "trust init", out, "chain id:", "civic-verify-test", "genesis sha256:", "trusted root:", "height 1 hash ")

	t.Run("grant", func(t *testing.T) {
		out := verified(resultVerified, append([]string{"verify", "grant", "G-V-1"}, witness...)...)
		contains(t, "verify grant", out, "id:", "G-V-1", "awarded:", "1000.00 EUR", "state height:", "app hash:", "header:",
			"signed by:", "agency-1 (", "agency-2 (", "power 10 (50.0%)", "signed power:", "20 of 20 (100.0%",
			"witnesses:", a[1].RPC+" agrees", "trust root:", "genesis sha256")
		if strings.Contains(out, "WARNING") {
			t.Errorf("warning with an independent witness:\n%s", out)
		}
	})

	t.Run("absent", func(t *testing.T) {
		out := verified(resultAbsent, append(append([]string{"verify", "grant", "G-NONE"}, at...), witness...)...)
		contains(t, "verify absent grant", out, "ABSENT at state height", "signed by:")
		verified(resultAbsent, append([]string{"verify", "payment", "P-NONE"}, at...)...)
	})

	t.Run("payment licence agency", func(t *testing.T) {
		out := verified(resultVerified, append(append([]string{"verify", "payment", "P-V-2"}, at...), witness...)...)
		contains(t, "verify payment", out, "15000.00 EUR", "approved_by:", "agency-1 finance officer (", "agency-1 finance2 officer (")
		out = verified(resultVerified, append([]string{"verify", "licence", "L-V-1"}, at...)...)
		contains(t, "verify licence", out, "L-V-1", "Harbour Cafe", "premises")
		out = verified(resultVerified, append([]string{"verify", "agency", "agency-2"}, at...)...)
		contains(t, "verify agency", out, "agency-2", "Agency 2", "agency-2 admin officer")
	})

	t.Run("no witness warning", func(t *testing.T) {
		out, errOut, code := run(t, as(append([]string{"verify", "grant", "G-V-1"}, at...)...)...)
		if code != 0 || lastLine(out) != resultVerified {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		contains(t, "stdout", out, "witnesses:", "NONE: WARNING")
		contains(t, "stderr", errOut, "warning: no independent witness")
		// The primary, named as a witness, is not an independent one.
		out, errOut, code = run(t, as(append([]string{"verify", "grant", "G-V-1", "--witness", a[0].RPC}, at...)...)...)
		if code != 0 || lastLine(out) != resultVerified {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		contains(t, "stdout", out, a[0].RPC+" WARNING: is the primary node itself")
		contains(t, "stderr", errOut, "warning: witness "+a[0].RPC+": is the primary node itself")
	})

	var h int64
	t.Run("json", func(t *testing.T) {
		out, errOut, code := run(t, as(append([]string{"-o", "json", "verify", "grant", "G-V-1"}, witness...)...)...)
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		r := decodeJSON[verifyOut](t, out)
		if r.Result != resultVerified || r.Present == nil || !*r.Present || r.Record["id"] != "G-V-1" || r.Height <= 0 ||
			r.Header == nil || r.Header.Height != r.Height+1 || len(r.Header.AppHash) != 64 || !r.IndependentWitness ||
			r.ChainID != "civic-verify-test" || r.SignedPower != 20 || r.TotalPower != 20 || len(r.Signers) != 2 {
			t.Fatalf("report %+v", r)
		}
		names := map[string]bool{}
		for _, s := range r.Signers {
			names[s.Name] = true
		}
		if !names["agency-1"] || !names["agency-2"] {
			t.Errorf("signers %+v", r.Signers)
		}
		if len(r.Witnesses) != 1 || !r.Witnesses[0].OK {
			t.Errorf("witnesses %+v", r.Witnesses)
		}
		steps := map[string]bool{}
		for _, s := range r.Steps {
			if !s.OK || s.Detail == "" {
				t.Errorf("step %+v", s)
			}
			steps[s.Name] = true
		}
		for _, n := range []string{client.StepTrustRoot, client.StepQuery, client.StepHeader, client.StepHistory,
			client.StepStoreProof, client.StepAgencies, client.StepCommit, client.StepWitnesses, "record"} {
			if !steps[n] {
				t.Errorf("no step %q in %+v", n, r.Steps)
			}
		}
		h = r.Height
	})

	t.Run("height", func(t *testing.T) {
		if h == 0 {
			t.Skip("needs the json subtest")
		}
		out, errOut, code := run(t, as("-o", "json", "verify", "grant", "G-V-1", "--height", strconv.FormatInt(h, 10))...)
		if r := decodeJSON[verifyOut](t, out); code != 0 || r.Result != resultVerified || r.Height != h || r.Header.Height != h+1 {
			t.Fatalf("at height %d: exit %d, report %+v\n%s", h, code, r, errOut)
		}
	})

	t.Run("tx", func(t *testing.T) {
		out := verified(resultVerified, append([]string{"verify", "tx", payHash}, witness...)...)
		contains(t, "verify tx", out, "tx:", payHash, "type:", "payment/record", "agency:", "agency-1",
			"signed by:", "agency-1 finance officer (roles finance", "result:", "code 0 (ok)", "header:", "next header:",
			"officers as of:", a[1].RPC+" agrees")
		out = verified(resultVerified, "verify", "tx", strings.ToLower(fourEyesHash))
		contains(t, "verify four-eyes tx", out, "agency-1 finance officer", "agency-1 finance2 officer")

		out, _, code := run(t, as("-o", "json", "verify", "tx", payHash)...)
		r := decodeJSON[verifyOut](t, out)
		if code != 0 || r.Result != resultVerified || r.Tx == nil || r.Tx.Type != "payment/record" || len(r.Tx.Signers) != 1 ||
			r.Tx.Signers[0].Name != "agency-1 finance officer" || r.Tx.Next.Height != r.Tx.Height+1 || r.Tx.AgencyHeight != r.Tx.Height-1 {
			t.Fatalf("tx report (exit %d) %+v %+v", code, r, r.Tx)
		}
		steps := map[string]bool{}
		for _, s := range r.Steps {
			if !s.OK {
				t.Errorf("step %+v", s)
			}
			steps[s.Name] = true
		}
		for _, n := range []string{client.StepQuery, client.StepHeader, client.StepInclusion, client.StepResult, client.StepAgency, client.StepSignatures} {
			if !steps[n] {
				t.Errorf("no step %q in %+v", n, r.Steps)
			}
		}
		// A hash the node does not know cannot be verified (nor proved absent).
		wantCode(t, 2, []string{"transaction not found"}, as("verify", "tx", strings.Repeat("AB", 32))...)
	})

	t.Run("total", func(t *testing.T) {
		out := verified(resultVerified, append(append([]string{"verify", "total", "agency-1", "EUR"}, at...), witness...)...)
		contains(t, "verify total", out, "awarded:", "1000.00 EUR (grants: 1)", "paid:", "15250.00 EUR (payments: 2; against grants: 250.00 EUR)",
			"reversed:", "0.00 EUR (reversals: 0)", "signed by:")
		verified(resultAbsent, append([]string{"verify", "total", "agency-2", "EUR"}, at...)...)
		out = verified(resultVerified, append([]string{"verify", "total", "--grant", "G-V-1"}, at...)...)
		contains(t, "verify grant total", out, "awarded:", "1000.00 EUR", "disbursed:", "250.00 EUR (payments: 1)", "remaining:", "750.00 EUR")
		out, _, _ = run(t, as(append([]string{"-o", "json", "verify", "total", "--grant", "G-V-1"}, at...)...)...)
		if r := decodeJSON[verifyOut](t, out); r.Summary["remaining"] != "750.00" || r.Summary["disbursed"] != "250.00" {
			t.Errorf("grant total summary %+v", r.Summary)
		}
		verified(resultAbsent, append([]string{"verify", "total", "--grant", "G-NONE"}, at...)...)
	})

	t.Run("usage", func(t *testing.T) {
		for _, args := range [][]string{
			{"verify", "grant"},
			{"verify", "grant", "a/b"},
			{"verify", "grant", "G-V-1", "--height", "-1"},
			{"verify", "grant", "G-V-1", "--witness", ""},
			{"verify", "tx", "abc"},
			{"verify", "tx", payHash, "--height", "3"},
			{"verify", "total", "agency-1"},
			{"verify", "total", "agency-1", "eur"},
			{"verify", "total", "agency-1", "EUR", "--grant", "G-V-1"},
			{"verify", "total", "--grant", "a b"},
			{"verify", "receipt", "X"},
			{"trust", "init"},
			{"trust", "init", "--genesis", net.Testnet.Genesis, "--height", "1"},
			{"trust", "init", "--height", "1"},
			{"trust", "init", "--height", "1", "--hash", "xyz"},
			{"trust", "init", "--height", "0", "--hash", strings.Repeat("ab", 32)},
			{"trust", "init", "--genesis", filepath.Join(home, "missing.json")},
		} {
			wantCode(t, 2, nil, as(args...)...)
		}
	})

	t.Run("unreachable node", func(t *testing.T) {
		dead := deadNode(t)
		wantCode(t, 2, []string{"could not verify", "connection refused"}, "--home", home, "--node", dead, "verify", "grant", "G-V-1")
		wantCode(t, 2, nil, "--home", home, "--node", dead, "verify", "tx", payHash)
		wantCode(t, 2, nil, "--home", home, "--node", dead, "trust", "show")
		wantCode(t, 2, []string{"connection refused"}, "--home", t.TempDir(), "--node", dead, "trust", "init", "--genesis", net.Testnet.Genesis)
		wantCode(t, 2, []string{"connection refused"}, "--home", t.TempDir(), "--node", dead, "trust", "init", "--height", "1", "--hash", strings.Repeat("ab", 32))
		// A witness that does not answer leaves the header unchecked: exit 2,
		// not 1 (the light client cannot cross-reference it).
		start := time.Now()
		wantCode(t, 2, []string{"could not verify"}, as(append([]string{"verify", "grant", "G-V-1", "--witness", dead}, at...)...)...)
		t.Logf("dead witness: %v", time.Since(start))
		// The JSON report names the dead witness as failed, and its step
		// as the failed one: never a passed cross-check.
		out, _ := wantCode(t, 2, nil, as(append([]string{"-o", "json", "verify", "grant", "G-V-1", "--witness", dead}, at...)...)...)
		r := decodeJSON[verifyOut](t, out)
		if !r.IndependentWitness || len(r.Witnesses) != 1 || r.Witnesses[0].OK || r.Witnesses[0].URL != dead {
			t.Errorf("dead witness reported as %+v (independent %v)", r.Witnesses, r.IndependentWitness)
		}
		last := r.Steps[len(r.Steps)-1]
		if last.Name != client.StepWitnesses || last.OK || !strings.Contains(last.Detail, dead) {
			t.Errorf("last step %+v", last)
		}
		for _, st := range r.Steps {
			if st.Name == client.StepWitnesses && st.OK {
				t.Errorf("a passed witness step: %+v", st)
			}
		}
		// One dead witness beside a live one fails the cross-check too.
		out, _ = wantCode(t, 2, nil, as(append([]string{"-o", "json", "verify", "grant", "G-V-1", "--witness", a[1].RPC, "--witness", dead}, at...)...)...)
		if r := decodeJSON[verifyOut](t, out); len(r.Witnesses) != 2 || r.Witnesses[0].OK == r.Witnesses[1].OK || r.Result != resultNotVerified {
			t.Errorf("live and dead witnesses: %+v %s", r.Witnesses, r.Result)
		}
	})

	t.Run("trust", func(t *testing.T) { testTrust(t, net, home) })
}

// TestVerifyFork starts two networks from one genesis and the same
// validator keys (every validator signs both chains), lets them diverge, and
// verifies with a witness of the other chain: a FORK naming the agencies
// whose validators signed both, exit status 1.
func TestVerifyFork(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	dir, err := os.MkdirTemp("", "ledger-fork-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	tn, err := node.GenerateTestnet(node.TestnetOptions{Agencies: 2, Output: filepath.Join(dir, "a"), ChainID: "civic-fork-cli",
		Fast: true, Keyring: keystore.BackendTest, ExtraOfficers: true})
	if err != nil {
		t.Fatal(err)
	}
	tnB, err := node.CloneTestnet(filepath.Join(dir, "a"), filepath.Join(dir, "b"))
	if err != nil {
		t.Fatal(err)
	}
	var nets []*node.Network
	for _, tn := range []*node.Testnet{tn, tnB} {
		n, err := node.StartTestnet(ctx, tn, node.NetworkOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.Stop)
		nets = append(nets, n)
	}
	// Different records make the chains' AppHashes, hence headers, differ.
	var hashA string
	for i, n := range nets {
		h, _, _ := txLines(t, mustCLI(t, n, 0, awardArgs([]string{"G-A", "G-B"}[i], "10.00 EUR")...))
		if i == 0 {
			hashA = h
		}
	}
	home := t.TempDir()
	primary, witness := tn.Agencies[0].RPC, tnB.Agencies[1].RPC
	if out, errOut, code := run(t, "--home", home, "--node", primary, "trust", "init", "--genesis", tn.Genesis); code != 0 {
		t.Fatalf("trust init: exit %d\n%s\n%s", code, out, errOut)
	}
	// The report names each validator that signed both by its agency.
	_, errOut := wantCode(t, 1, []string{"verification FAILED", "FORK at height", "validators that signed both", primary, witness,
		"agency-1 (", "agency-2 ("},
		"--home", home, "--node", primary, "verify", "grant", "G-A", "--witness", witness)
	t.Logf("%s", errOut)
	out, _ := wantCode(t, 1, []string{"FORK"}, "--home", home, "--node", primary, "-o", "json", "verify", "tx", hashA, "--witness", witness)
	r := decodeJSON[verifyOut](t, out)
	if r.Result != resultFailed || !strings.Contains(r.Error, "FORK") || len(r.Steps) == 0 || r.Steps[len(r.Steps)-1].OK ||
		r.Steps[len(r.Steps)-1].Name != client.StepWitnesses {
		t.Errorf("fork report %+v", r)
	}
	// Without the other chain's witness, the primary's own chain verifies.
	if out, errOut, code := run(t, "--home", home, "--node", primary, "verify", "grant", "G-A", "--witness", tn.Agencies[1].RPC); code != 0 || lastLine(out) != resultVerified {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
}
