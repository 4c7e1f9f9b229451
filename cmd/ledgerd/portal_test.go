package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/civicledger/civicledger/node"
)

// TestPortalCommand serves the portal as a process over a node that does
// not answer: it prints its address, answers with the 503 page, and stops
// cleanly on SIGTERM.
func TestPortalCommand(t *testing.T) {
	if def := newPortalCmd().Flags().Lookup(flagListen).DefValue; def != "127.0.0.1:8080" {
		t.Errorf("default --listen %s, want loopback", def)
	}
	for _, args := range [][]string{
		{"portal", "--timeout", "0"},
		{"portal", "--node", "ftp://example"},
		{"portal", "--genesis", "/nonexistent/genesis.json"},
		{"portal", "--wasm", t.TempDir()}, // the verifier needs the genesis file
	} {
		if _, err := run(t, args...); exitCodeOf(err) != 2 {
			t.Errorf("%v: %v (exit %d), want a usage error", args, err, exitCodeOf(err))
		}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ledgerdBin, "portal", "--listen", "127.0.0.1:0", "--node", "http://"+closed, "--timeout", "3s")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("no address printed: %v", err)
	}
	m := regexp.MustCompile(`portal serving (http://127\.0\.0\.1:\d+)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("first line: %q", line)
	}
	res, err := http.Get(m[1] + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "Ledger temporarily unavailable") {
		t.Errorf("GET / over an unreachable node: %d\n%s", res.StatusCode, body)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("portal after SIGTERM: %v", err)
	}
}

// TestPortalInAppTOML starts a node whose app.toml enables [portal]: the
// node's own process serves the portal over its RPC, publishing the home's
// genesis file byte for byte.
func TestPortalInAppTOML(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "net")
	if out, err := run(t, "testnet", "--agencies", "1", "--output", dir, "--base-port", "0", "--fast", "--officers", "--keyring-backend", "test", "--chain-id", "civic-portal-toml"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	home := filepath.Join(dir, "agency-1")
	ports, err := node.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	appTOML := node.AppConfigFile(home)
	b, err := os.ReadFile(appTOML)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "enabled = false", "enabled = true", 1)
	s = strings.Replace(s, `listen = "`+node.DefaultPortalListen+`"`, fmt.Sprintf("listen = %q", url[len("http://"):]), 1)
	if s == string(b) || !strings.Contains(s, "[portal]") {
		t.Fatalf("app.toml has no [portal] section to enable:\n%s", b)
	}
	if err := os.WriteFile(appTOML, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := node.LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.App.Portal.Enabled || cfg.App.Portal.Listen != url[len("http://"):] {
		t.Fatalf("[portal] read as %+v", cfg.App.Portal)
	}

	startProcesses(t, dir)
	deadline := time.Now().Add(60 * time.Second)
	var body string
	for {
		res, err := http.Get(url + "/")
		if err == nil {
			bb, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				body = string(bb)
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the node's portal at %s did not answer 200 within 60s (last error %v)", url, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if !strings.Contains(body, "civic-portal-toml") {
		t.Errorf("home page does not name the chain:\n%.2000s", body)
	}
	res, err := http.Get(url + "/genesis.json")
	if err != nil {
		t.Fatal(err)
	}
	served, _ := io.ReadAll(res.Body)
	res.Body.Close()
	want, err := os.ReadFile(cfg.GenesisFile())
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || !bytes.Equal(served, want) {
		t.Errorf("/genesis.json: %d, %d bytes; want the home's genesis file (%d bytes)", res.StatusCode, len(served), len(want))
	}
}

// TestPortalConfigValidation: an enabled [portal] needs an address.
func TestPortalConfigValidation(t *testing.T) {
	c := node.DefaultAppConfig()
	c.Portal.Enabled, c.Portal.Listen = true, " "
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "[portal] listen") {
		t.Fatalf("enabled portal without listen: %v", err)
	}
	c.Portal.Listen, c.Portal.Witnesses = node.DefaultPortalListen, []string{"http://a\x07b"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "control character") {
		t.Fatalf("a witness with a control character: %v", err)
	}
}
