package main

import (
	"bufio"
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/civicledger/civicledger/client"
)

// TestDemoSurvivesANodeStop stops one demo node with SIGTERM, as a user
// trying the network's fault tolerance would: the demo says so and keeps the
// other three running (the chain goes on), and Ctrl-C still stops it all.
func TestDemoSurvivesANodeStop(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ledgerdBin, "demo", "--home", filepath.Join(t.TempDir(), "demo"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var seen strings.Builder
	until := func(what string, match func(string) bool) string {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("demo output ended before %s:\n%s", what, seen.String())
				}
				seen.WriteString(l + "\n")
				if match(l) {
					return l
				}
			case <-ctx.Done():
				t.Fatalf("no %s:\n%s", what, seen.String())
			}
		}
	}
	started := regexp.MustCompile(`started (agency-\d+)\s+validator: pid (\d+)\s+rpc (\S+)`)
	pids, rpcs := map[string]int{}, map[string]string{}
	for len(pids) < 4 {
		m := started.FindStringSubmatch(until("the nodes' pids", started.MatchString))
		pids[m[1]], _ = strconv.Atoi(m[2])
		rpcs[m[1]] = m[3]
	}
	until("the walkthrough's end", func(l string) bool { return strings.Contains(l, "The network keeps running") })
	// A running network comes with commands to try, Prometheus's included.
	for _, want := range []string{"Try it yourself", "query proposals --status notice", "prometheus --config.file=prometheus.yml"} {
		if !strings.Contains(seen.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, seen.String())
		}
	}

	if err := syscall.Kill(pids["agency-4"], syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	l := until("a report of agency-4's exit", func(l string) bool { return strings.Contains(l, "agency-4 exited") })
	if !strings.Contains(l, "3 of 4 nodes keep running") || !strings.Contains(l, "the chain goes on") || !strings.Contains(l, "ledgerd start --home") {
		t.Errorf("exit report: %s", l)
	}
	// The demo and the other nodes go on: blocks keep coming.
	c, err := client.New(rpcs["agency-1"])
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatalf("agency-1 after agency-4 stopped: %v", err)
	}
	if err := c.WaitForHeight(ctx, st.SyncInfo.LatestBlockHeight+2); err != nil {
		t.Fatalf("the chain stopped with agency-4: %v", err)
	}
	if cmd.ProcessState != nil {
		t.Fatal("the demo exited")
	}
	// Ctrl-C stops the rest.
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	until("the network's stop", func(l string) bool { return strings.Contains(l, "network stopped") })
	for range lines {
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("demo after Ctrl-C: %v\n%s", err, seen.String())
	}
}
