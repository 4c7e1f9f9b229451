package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
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
