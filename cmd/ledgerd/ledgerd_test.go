package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/internal/keystore"
	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/node"
)

var ledgerdBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ledgerd-bin")
	if err != nil {
		panic(err)
	}
	ledgerdBin = filepath.Join(dir, "ledgerd")
	out, err := exec.Command("go", "build", "-o", ledgerdBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build ledgerd: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(t.Context())
	return out.String(), err
}

func TestVersion(t *testing.T) {
	out, err := run(t, "version")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ledgerd", "cometbft", "0.38.26", "go"} {
		if !strings.Contains(out, want) {
			t.Errorf("version output lacks %q:\n%s", want, out)
		}
	}
}

func TestInitRefusesToOverwrite(t *testing.T) {
	home := filepath.Join(t.TempDir(), "h")
	out, err := run(t, "init", "--home", home, "--keyring-backend", "test", "--agency", "ministry-of-works", "--chain-id", "civic-x")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, f := range []string{"config/config.toml", "config/app.toml", "config/genesis.json", "config/priv_validator_key.json", "config/node_key.json", "keys/admin.json"} {
		if _, err := os.Stat(filepath.Join(home, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
	if _, err := node.LoadConfig(home); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "init", "--home", home, "--keyring-backend", "test"); err == nil {
		t.Fatal("second init over the same home must fail")
	}
	if _, err := run(t, "init", "--home", t.TempDir(), "--agency", "bad id!", "--keyring-backend", "test"); err == nil {
		t.Fatal("invalid agency id accepted")
	}
}

func TestTestnetFlags(t *testing.T) {
	_, err := run(t, "testnet", "--agencies", "0", "--output", t.TempDir())
	if exitCodeOf(err) != 2 {
		t.Fatalf("--agencies 0: %v", err)
	}
	_, err = run(t, "testnet", "--bogus")
	if exitCodeOf(err) != 2 {
		t.Fatalf("unknown flag: %v", err)
	}
}

func exitCodeOf(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exitError); ok {
		return ee.Code
	}
	return 1
}

// TestDemoExit runs the README's main job end to end as a user would.
func TestDemoExit(t *testing.T) {
	home := filepath.Join(t.TempDir(), "demo")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ledgerdBin, "demo", "--exit", "--home", home)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo --exit: %v\n%s", err, out)
	}
	s := string(out)
	for _, want := range []string{"14 of 14 steps succeeded", "G-2026-001", "The network stops now (--exit)", "network stopped"} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q:\n%s", want, s)
		}
	}
	// No commands to try against a network that is stopping.
	if strings.Contains(s, "Try it yourself") || strings.Contains(s, "go run ./cmd/ledger --node") {
		t.Errorf("demo --exit prints commands for the stopped network:\n%s", s)
	}
	if _, err := os.Stat(filepath.Join(home, node.PrometheusConfigFile)); err != nil {
		t.Errorf("the demo wrote no scrape configuration for its ports: %v", err)
	}
	if strings.Contains(s, "FAIL") {
		t.Errorf("a demo step failed:\n%s", s)
	}
}

// TestKill9AndRestart runs four validators as separate processes, kills one
// with SIGKILL while transactions flow, restarts it from its home, and checks
// that it catches up with the same AppHash and every record.
func TestKill9AndRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "net")
	if out, err := run(t, "testnet", "--agencies", "4", "--output", dir, "--base-port", "0", "--fast", "--officers", "--keyring-backend", "test", "--chain-id", "civic-kill"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	procs, tn := startProcesses(t, dir)
	start := procs.start
	clients := make([]*client.Client, 4)
	for i, a := range tn.Agencies {
		clients[i], _ = client.New(a.RPC)
		if err := clients[i].WaitForHeight(ctx, 2); err != nil {
			t.Fatalf("%s: %v", a.ID, err)
		}
	}
	ks, err := keystore.Open(filepath.Join(tn.Agencies[0].Home, "keys"), keystore.BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	grants, err := ks.PrivKey("grants")
	if err != nil {
		t.Fatal(err)
	}
	award := func(c *client.Client, id string) int64 {
		p := &ledger.GrantAward{ID: id, Recipient: ledger.Party{Name: "Acme", Scheme: "GB-COH", ID: "1"}, Programme: "P", Purpose: "Purpose",
			Amount: "1000", Currency: "EUR", PeriodStart: "2026-01-01", PeriodEnd: "2026-12-31", DecisionDate: "2026-01-01",
			DocumentHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}
		raw, err := c.BuildTx(ctx, client.Signer{Agency: "agency-1", Keys: []ed25519.PrivateKey{grants}}, p, client.BuildOptions{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Submit(ctx, raw, true)
		if err != nil || !res.OK() {
			t.Fatalf("award %s: %v %+v", id, err, res)
		}
		return res.Height
	}
	for i := 0; i < 3; i++ {
		award(clients[0], fmt.Sprintf("G-pre-%d", i))
	}
	// SIGKILL agency-4 mid-stream.
	if err := procs.cmds[3].Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = procs.cmds[3].Wait()
	var last int64
	for i := 0; i < 5; i++ {
		last = award(clients[i%3], fmt.Sprintf("G-post-%d", i))
	}
	start(3)
	if err := clients[3].WaitForHeight(ctx, last+1); err != nil {
		t.Fatalf("killed node did not catch up: %v", err)
	}
	// Each node's own state (not the agreed headers, which every node stores
	// alike) must give the same AppHash at every height since the kill.
	for h := int64(2); h <= last; h++ {
		var first []byte
		for i, c := range clients {
			got, err := c.StateAppHash(ctx, h)
			if err != nil {
				t.Fatalf("agency-%d at %d: %v", i+1, h, err)
			}
			if i == 0 {
				first = got
			} else if !bytes.Equal(first, got) {
				t.Fatalf("height %d: agency-1 state AppHash %X, agency-%d %X", h, first, i+1, got)
			}
		}
	}
	for _, id := range []string{"G-pre-0", "G-pre-2", "G-post-0", "G-post-4"} {
		if _, _, err := clients[3].Record(ctx, "grant", id, 0); err != nil {
			t.Fatalf("restarted node: %v", err)
		}
	}
}

// processes runs each agency home of a generated testnet as a separate
// `ledgerd start` process, logging to HOME/node.log; all are stopped with
// SIGTERM when the test ends.
type processes struct {
	t    *testing.T
	dir  string
	bin  string // the ledgerd binary
	cmds []*exec.Cmd
}

// startProcesses starts every agency of the testnet in dir and returns the
// processes and the testnet manifest.
func startProcesses(t *testing.T, dir string) (*processes, *node.Testnet) {
	t.Helper()
	return startProcessesBin(t, dir, ledgerdBin)
}

// startProcessesBin is startProcesses with another ledgerd binary.
func startProcessesBin(t *testing.T, dir, bin string) (*processes, *node.Testnet) {
	t.Helper()
	var tn node.Testnet
	manifest, err := os.ReadFile(filepath.Join(dir, "testnet.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(manifest, &tn); err != nil {
		t.Fatal(err)
	}
	p := &processes{t: t, dir: dir, bin: bin, cmds: make([]*exec.Cmd, len(tn.Agencies))}
	for i := range p.cmds {
		p.start(i)
	}
	t.Cleanup(func() {
		for _, c := range p.cmds {
			if c != nil && c.ProcessState == nil {
				_ = c.Process.Signal(syscall.SIGTERM)
				_ = c.Wait()
			}
		}
	})
	return p, &tn
}

// start (re)starts agency i's process.
func (p *processes) start(i int) {
	p.t.Helper()
	p.startEnv(i, nil)
}

// startEnv (re)starts agency i's process with extra environment variables
// ("NAME=value").
func (p *processes) startEnv(i int, env []string) {
	p.t.Helper()
	home := filepath.Join(p.dir, fmt.Sprintf("agency-%d", i+1))
	logf, err := os.OpenFile(filepath.Join(home, "node.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	cmd := exec.Command(p.bin, "start", "--home", home)
	cmd.Stdout, cmd.Stderr = logf, logf
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.cmds[i] = cmd
}

// TestInitJoinHelpDefaults: the listen-address defaults that `init --help`
// states are the ones a joined home gets (node.DefaultConfig), all loopback.
func TestInitJoinHelpDefaults(t *testing.T) {
	d := node.DefaultConfig(t.TempDir())
	if d.P2P.ListenAddress != "tcp://127.0.0.1:26656" || d.RPC.ListenAddress != "tcp://127.0.0.1:26657" || d.Instrumentation.PrometheusListenAddr != "127.0.0.1:26660" {
		t.Fatalf("default listen addresses changed: %s %s %s", d.P2P.ListenAddress, d.RPC.ListenAddress, d.Instrumentation.PrometheusListenAddr)
	}
	out, err := run(t, "init", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"(default 127.0.0.1:26656", "(default 127.0.0.1:26657)", "(default 127.0.0.1:26660)"} {
		if !strings.Contains(out, want) {
			t.Errorf("init --help lacks %q:\n%s", want, out)
		}
	}
	for _, wrong := range []string{"0.0.0.0:26656", "(default :26660)"} {
		if strings.Contains(out, wrong) {
			t.Errorf("init --help still says %q", wrong)
		}
	}
}
