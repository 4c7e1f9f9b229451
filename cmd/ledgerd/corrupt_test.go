package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/civicledger/civicledger/client"
)

// TestStartRefusesCorruptState flips one byte in a sorted table (.ldb) of a
// stopped validator's state database: `ledgerd start` must exit non-zero at
// once, with a log line naming the database and the table file, and never
// answer RPC with that state. With the byte restored the node starts and
// resumes.
func TestStartRefusesCorruptState(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "net")
	if out, err := run(t, "testnet", "--agencies", "1", "--output", dir, "--base-port", "0", "--fast", "--officers", "--keyring-backend", "test", "--chain-id", "civic-corrupt"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	procs, tn := startProcesses(t, dir)
	t.Cleanup(func() { liveLogTails(t, tn) })
	c, err := client.New(tn.Agencies[0].RPC)
	if err != nil {
		t.Fatal(err)
	}
	stop := func() {
		t.Helper()
		cmd := procs.cmds[0]
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}
	waitHeight := func(h int64, what string) {
		t.Helper()
		wctx, wcancel := context.WithTimeout(ctx, 45*time.Second)
		defer wcancel()
		if err := c.WaitForHeight(wctx, h); err != nil {
			t.Fatalf("%s: expected height %d within 45s: %v", what, h, err)
		}
	}
	// Two runs: goleveldb moves the first run's journal into a table when
	// the database is opened again.
	waitHeight(3, "first start")
	stop()
	procs.start(0)
	waitHeight(5, "second start")
	stop()

	dbDir := filepath.Join(tn.Agencies[0].Home, "data", "application.db")
	tables, _ := filepath.Glob(filepath.Join(dbDir, "*.ldb"))
	if len(tables) == 0 {
		t.Fatalf("%s holds no .ldb table after two runs", dbDir)
	}
	slices.SortFunc(tables, func(a, b string) int { return int(fileSize(a) - fileSize(b)) })
	table := tables[len(tables)-1]
	orig, err := os.ReadFile(table)
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(orig)
	bad[len(bad)/3] ^= 0x01 // inside a data block
	if err := os.WriteFile(table, bad, 0o644); err != nil {
		t.Fatal(err)
	}

	logPath := filepath.Join(tn.Agencies[0].Home, "node.log")
	from := fileSize(logPath)
	procs.start(0)
	cmd := procs.cmds[0]
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatal("ledgerd started on a state database with a flipped byte and was still running after 60s")
	}
	if cmd.ProcessState.Success() {
		t.Fatal("ledgerd exited 0 on a corrupted state database")
	}
	if ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus); ws.Signaled() {
		t.Fatalf("ledgerd died by %v instead of exiting with an error", ws.Signal())
	}
	logb, _ := os.ReadFile(logPath)
	out := logb[from:]
	for _, want := range []string{"state database is corrupted", "application.db", filepath.Base(table), "checksum mismatch"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Fatalf("ledgerd's output on a corrupted state database does not say %q:\n%s", want, out)
		}
	}
	if bytes.Contains(out, []byte("ledgerd started")) {
		t.Fatalf("ledgerd reported it started on a corrupted state database:\n%s", out)
	}
	t.Logf("ledgerd refused to start: %s (%s)", liveLastLine(out, "state database is corrupted"), cmd.ProcessState)

	// The same home, the byte restored: the node starts and goes on.
	if err := os.WriteFile(table, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	procs.start(0)
	waitHeight(7, "start with the table restored")
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
