package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/civicledger/civicledger/node"
)

// testNet starts a real in-process network of two agencies, each with every
// officer role (keys in <agency home>/keys, test backend), stopped when the
// test ends. Each test that needs a node has its own, so that tests are
// independent (and -count > 1 works); subtests share their test's network.
func testNet(t *testing.T, chainID string) *node.Network {
	t.Helper()
	return testNetWith(t, node.NetworkOptions{Agencies: 2, ExtraOfficers: true, ChainID: chainID})
}

// testNetWith is testNet with other network options.
func testNetWith(t *testing.T, o node.NetworkOptions) *node.Network {
	t.Helper()
	// Not t.TempDir: CometBFT's address book is saved by a goroutine that
	// Stop does not wait for, so the directory may not be empty at once.
	dir, err := os.MkdirTemp("", "ledger-cli-test-")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	net, err := node.StartNetwork(ctx, filepath.Join(dir, "net"), o)
	if err != nil {
		os.RemoveAll(dir)
		t.Fatalf("start network: %v", err)
	}
	t.Cleanup(func() {
		net.Stop()
		for i := 0; ; i++ {
			err := os.RemoveAll(dir)
			if err == nil {
				return
			}
			if i == 20 {
				t.Logf("cleanup: %v", err)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	return net
}

// run executes the ledger command with args like main does (the returned
// error is printed on stderr as "error: ...") and returns stdout, stderr and
// the exit status.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetArgs(args)
	code = execute(root, &out, &errb, func() error { return root.ExecuteContext(t.Context()) })
	return out.String(), errb.String(), code
}

// mustRun runs the ledger command and fails the test unless it exits 0;
// it returns stdout.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := run(t, args...)
	if code != 0 {
		t.Fatalf("ledger %s: exit %d\n%s\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// agencyArgs are the global flags to act as agency i's officers through its
// own node.
func agencyArgs(net *node.Network, i int) []string {
	a := net.Testnet.Agencies[i]
	return []string{"--home", a.Home, "--keyring-backend", "test", "--node", a.RPC}
}

// cli runs a command as agency i.
func cli(t *testing.T, net *node.Network, i int, args ...string) (string, string, int) {
	t.Helper()
	return run(t, append(agencyArgs(net, i), args...)...)
}

// mustCLI runs a command as agency i and fails the test unless it exits 0.
func mustCLI(t *testing.T, net *node.Network, i int, args ...string) string {
	t.Helper()
	out, errOut, code := cli(t, net, i, args...)
	if code != 0 {
		t.Fatalf("ledger %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// wantCode runs a command and checks its exit status and that stderr
// mentions every string in want.
func wantCode(t *testing.T, code int, want []string, args ...string) (string, string) {
	t.Helper()
	out, errOut, got := run(t, args...)
	if got != code {
		t.Fatalf("ledger %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), got, code, out, errOut)
	}
	for _, w := range want {
		if !strings.Contains(errOut, w) {
			t.Errorf("ledger %s: stderr lacks %q:\n%s", strings.Join(args, " "), w, errOut)
		}
	}
	return out, errOut
}

func decodeJSON[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, s)
	}
	return v
}

// txLines parses the text output of a tx command.
func txLines(t *testing.T, out string) (hash string, height int64, code string) {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(l, ": ")
		switch k {
		case "hash":
			hash = v
		case "height":
			f, _, _ := strings.Cut(v, " ")
			height, _ = strconv.ParseInt(f, 10, 64)
		case "code":
			code = v
		}
	}
	if len(hash) != 64 {
		t.Fatalf("tx output has no hash line:\n%s", out)
	}
	return hash, height, code
}

// countingNode is an HTTP server that counts requests: a command that must
// not contact the node is pointed at it.
func countingNode(t *testing.T) (url string, hits *atomic.Int64) {
	t.Helper()
	hits = new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "no", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, hits
}

// deadNode returns the URL of a loopback port nobody listens on.
func deadNode(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

const testDocHash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

// awardArgs are the arguments of a valid "tx grant award" signed by the
// "grants" officer, minus globals; extra flags are appended (a later flag
// overrides an earlier one). Unless extra names a --document, the decision
// document is given as --document-hash.
func awardArgs(id, amount string, extra ...string) []string {
	a := []string{"tx", "grant", "award", "--from", "grants", "--id", id,
		"--recipient-name", "Acme Ltd", "--recipient-scheme", "GB-COH", "--recipient-id", "0001",
		"--programme", "Digital", "--purpose", "Broadband rollout", "--amount", amount,
		"--period-start", "2026-01-01", "--period-end", "2026-12-31", "--decision-date", "2026-01-01"}
	if !slices.Contains(extra, "--document") {
		a = append(a, "--document-hash", testDocHash)
	}
	return append(a, extra...)
}

// TestUsageErrors checks that bad invocations exit 2 without contacting the
// node, and that an unreachable node gives 3.
func TestUsageErrors(t *testing.T) {
	home := t.TempDir()
	nodeURL, hits := countingNode(t)
	g := []string{"--home", home, "--keyring-backend", "test", "--node", nodeURL}
	if _, errOut, code := run(t, append(g, "keys", "add", "alice", "--agency", "agency-1")...); code != 0 {
		t.Fatalf("keys add: %d %s", code, errOut)
	}
	if _, errOut, code := run(t, append(g, "keys", "add", "noagency")...); code != 0 {
		t.Fatalf("keys add: %d %s", code, errOut)
	}
	with := func(args ...string) []string { return append(append([]string{}, g...), args...) }
	setRoles := []string{"tx", "agency", "officer", "set-roles", "--from", "alice", "--key", strings.Repeat("ab", 32)}

	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"bad amount", with(awardArgs("G-1", "12.345 EUR")...), []string{"EUR allows at most 2 decimal places"}},
		{"bad amount with --currency", with(awardArgs("G-1", "12.345", "--currency", "EUR")...), []string{"at most 2 decimal places"}},
		{"currency disagrees", with(awardArgs("G-1", "12.34 EUR", "--currency", "USD")...), []string{"--currency is USD"}},
		{"no currency", with(awardArgs("G-1", "12.34")...), []string{"names no currency"}},
		{"lower-case currency", with(awardArgs("G-1", "12.34 eur")...), []string{`"EUR"`}},
		{"zero amount", with(awardArgs("G-1", "0 EUR")...), []string{"greater than zero"}},
		{"yen decimals", with(awardArgs("G-1", "100.5 JPY")...), []string{"no minor unit"}},
		{"thousands separator", with(awardArgs("G-1", "1,000.00 EUR")...), []string{"without thousands separators", `"1000.00 EUR"`}},
		{"currency first, thousands separator", with(awardArgs("G-1", "EUR 250,000.00")...), []string{"without thousands separators", `"250000.00 EUR"`}},
		{"two currencies", with(awardArgs("G-1", "EUR USD")...), []string{"invalid character"}},
		{"missing --from", with("tx", "payment", "reverse", "--id", "P-1", "--reason", "x"), []string{"--from"}},
		{"missing payload flags", with("tx", "payment", "reverse", "--from", "alice"), []string{"--id, --reason"}},
		{"unknown key", with("tx", "payment", "reverse", "--from", "bob", "--id", "P-1", "--reason", "x"), []string{"key not found"}},
		{"unknown cosigner", with("tx", "payment", "reverse", "--from", "alice", "--cosign", "bob", "--id", "P-1", "--reason", "x"), []string{"--cosign", "key not found"}},
		{"self cosign", with("tx", "payment", "reverse", "--from", "alice", "--cosign", "alice", "--id", "P-1", "--reason", "x"), []string{"signs once"}},
		{"key without agency", with("tx", "payment", "reverse", "--from", "noagency", "--id", "P-1", "--reason", "x"), []string{"--agency"}},
		{"bad date", with("tx", "licence", "renew", "--from", "alice", "--id", "L-1", "--valid-until", "2026-02-30", "--document-hash", testDocHash), []string{"payload.valid_until", "YYYY-MM-DD"}},
		{"bad id", with("tx", "payment", "reverse", "--from", "alice", "--id", "P 1", "--reason", "x"), []string{"payload.id"}},
		{"no document", with("tx", "grant", "close", "--from", "alice", "--id", "G-1", "--reason", "done"), []string{"--document-hash or --document"}},
		{"both documents", with("tx", "grant", "close", "--from", "alice", "--id", "G-1", "--reason", "done", "--document-hash", testDocHash, "--document", "x"), []string{"not both"}},
		{"bad document hash", with("tx", "grant", "close", "--from", "alice", "--id", "G-1", "--reason", "done", "--document-hash", "abc"), []string{"64 hex digits"}},
		{"missing document file", with("tx", "grant", "close", "--from", "alice", "--id", "G-1", "--reason", "done", "--document", filepath.Join(home, "nope.pdf")), []string{"--document"}},
		{"bad role", with(append(setRoles, "--roles", "admin,mayor")...), []string{`unknown role "mayor"`}},
		{"bad pubkey", with("tx", "agency", "officer", "remove", "--from", "alice", "--key", "not-a-key"), []string{"--key"}},
		{"key and key-name", with("tx", "agency", "officer", "remove", "--from", "alice", "--key", strings.Repeat("ab", 32), "--key-name", "alice"), []string{"not both"}},
		{"unknown flag", with("tx", "payment", "reverse", "--frm", "alice"), []string{"unknown flag"}},
		{"bad flag value", with("tx", "payment", "reverse", "--from", "alice", "--expires-in", "soon"), []string{"expires-in"}},
		{"negative expiry", with("tx", "payment", "reverse", "--from", "alice", "--id", "P-1", "--reason", "x", "--expires-in", "-1"), []string{"--expires-in"}},
		{"unknown tx command", with("tx", "grant", "give"), []string{`unknown command "give"`}},
		{"amend nothing", with("tx", "grant", "amend", "--from", "alice", "--id", "G-1", "--reason", "x", "--document-hash", testDocHash), []string{"--amount and/or --period-end"}},
		{"amend bad amount", with("tx", "grant", "amend", "--from", "alice", "--id", "G-1", "--reason", "x", "--amount", "1.001 EUR", "--document-hash", testDocHash), []string{"decimal places"}},
		{"positional arg", with("query", "grant"), []string{"usage: ledger query grant ID"}},
		{"extra arg", with("query", "params", "x"), []string{"usage"}},
		{"limit too big", with("query", "grants", "--limit", "501"), []string{"--limit"}},
		{"limit zero", with("query", "payments", "--limit", "0"), []string{"--limit"}},
		{"bad status", with("query", "licences", "--status", "awarded"), []string{"issued, renewed"}},
		{"grant filter on grants", with("query", "grants", "--grant", "G-1"), []string{"unknown flag: --grant"}},
		{"grant with status", with("query", "payments", "--grant", "G-1", "--status", "recorded"), []string{"--grant cannot be combined"}},
		{"bad totals currency", with("query", "totals", "agency-1", "eur"), []string{"unknown currency"}},
		{"bad history kind", with("query", "history", "officer", "x"), []string{"unknown record kind"}},
		{"bad record id", with("query", "payment", "a/b"), []string{"must match"}},
		{"negative height", with("query", "grant", "G-1", "--height", "-1"), []string{"--height"}},
		{"bad output", with("-o", "yaml", "query", "params"), []string{"--output"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantCode(t, 2, c.want, c.args...)
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("usage errors contacted the node %d times", n)
	}

	// An unreachable node: exit 3, for transactions and queries alike.
	dead := []string{"--home", home, "--keyring-backend", "test", "--node", deadNode(t)}
	wantCode(t, 3, []string{"connection refused"}, append(dead, awardArgs("G-1", "1250.50 EUR", "--from", "alice")...)...)
	wantCode(t, 3, []string{"connection refused"}, append(dead, "query", "grant", "G-1")...)
	wantCode(t, 3, nil, append(dead, "query", "grants")...)
	wantCode(t, 3, nil, append(dead, "query", "history", "grant", "G-1")...)
	wantCode(t, 3, nil, append(dead, "tx", "grant", "amend", "--from", "alice", "--id", "G-1", "--reason", "x", "--amount", "1", "--document-hash", testDocHash)...)
	// A node that answers, but not with JSON-RPC, cannot be used either.
	wantCode(t, 3, nil, with("query", "params")...)
}
