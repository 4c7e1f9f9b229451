package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestDiskFull runs agency-4's data directory on a 64 MiB tmpfs (mounted
// by the test, which needs root) with min_free_disk_mb = 16, under load.
// When the file system fills (a file written beside the node's data), the
// node must stop by itself with a clear log line and exit non-zero, and
// refuse to start while space is short; once the file is removed it starts,
// catches up, and agrees with the others on every AppHash and block, and
// holds every tx the load generator was told is committed.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("TestDiskFull mounts a tmpfs: it needs root (CI runs as root)")
	}
	const sizeMB, minFreeMB, leaveMB = 64, 16, 8
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	var dataDir string
	procs, tn, clients := liveNetWith(t, ctx, "civic-diskfull", ledgerdBin, func(dir string) {
		home := filepath.Join(dir, "agency-4")
		setAppToml(t, home, "min_free_disk_mb", strconv.Itoa(minFreeMB))
		dataDir = filepath.Join(home, "data")
		if err := os.Rename(dataDir, dataDir+".orig"); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(dataDir, 0o700); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm", sizeMB), "tmpfs", dataDir).CombinedOutput(); err != nil {
			t.Skipf("mount -t tmpfs refused (%v: %s): TestDiskFull needs a system that lets root mount a tmpfs", err, bytes.TrimSpace(out))
		}
		t.Cleanup(func() {
			if out, err := exec.Command("umount", dataDir).CombinedOutput(); err != nil {
				t.Errorf("umount %s: %v: %s", dataDir, err, out)
			}
		})
		if out, err := exec.Command("cp", "-a", dataDir+".orig/.", dataDir).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v: %s", err, out)
		}
	})
	load := startCrashLoad(t, ctx, tn, clients)
	defer load.stop()
	load.waitMore(t, ctx, 0, 6, 45*time.Second, "before the disk fills")

	// Fill the file system until leaveMB remain: below the node's minimum.
	filler := filepath.Join(dataDir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for free := diskFreeMB(t, dataDir); free > leaveMB; free = diskFreeMB(t, dataDir) {
		if _, err := f.Write(chunk); err != nil {
			t.Fatalf("filling %s: %v", dataDir, err)
		}
	}
	_ = f.Close()
	filledAt := liveMaxHeight(t, ctx, clients[:3])
	t.Logf("tmpfs filled at height %d: %d MiB free", filledAt, diskFreeMB(t, dataDir))

	logPath := filepath.Join(tn.Agencies[3].Home, "node.log")
	cmd := procs.cmds[3]
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("agency-4 still running 30s after its data directory's file system went below min_free_disk_mb")
	}
	if ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus); cmd.ProcessState.Success() || ws.Signaled() {
		t.Fatalf("agency-4 with a full disk: %v, want a non-zero exit", cmd.ProcessState)
	}
	logb, _ := os.ReadFile(logPath)
	line := liveLastLine(logb, "DISK ALMOST FULL")
	if line == "" || !bytes.Contains([]byte(line), []byte("min_free_disk_mb = 16")) {
		t.Fatalf("agency-4's log has no clear disk-full line; last lines:\n%s", logb[max(0, len(logb)-2000):])
	}
	t.Logf("agency-4 stopped: %s", line)

	// While the space is short, it refuses to start.
	from := fileSize(logPath)
	procs.start(3)
	if err := procs.cmds[3].Wait(); err == nil {
		t.Fatal("agency-4 started with its disk still full")
	}
	if out, _ := os.ReadFile(logPath); !bytes.Contains(out[from:], []byte("data directory almost full")) {
		t.Fatalf("agency-4 refused to start without saying why:\n%s", out[from:])
	}

	// The other three go on; free the space and restart agency-4.
	liveWaitHeights(t, ctx, clients[:3], filledAt+3, 30*time.Second, "the 3 other nodes, with agency-4 stopped")
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	liveRestart(t, ctx, procs, tn, 3)
	target := liveMaxHeight(t, ctx, clients[:3])
	liveWaitHeights(t, ctx, clients[3:], target, 60*time.Second, "agency-4 catching up after space was freed")
	load.waitMore(t, ctx, load.committed(), 4, 45*time.Second, "after agency-4 resumed")
	txs, noReply := load.stop()
	end := liveMaxHeight(t, ctx, clients)
	liveWaitHeights(t, ctx, clients, end, 30*time.Second, "every node reaching the final height")
	crashAgree(t, ctx, clients, 1, end-1)
	for i, c := range clients {
		load.check(t, ctx, c, i, 0)
	}
	t.Logf("agency-4 resumed and caught up to %d; %d txs committed (each on all 4 nodes with its code, %d submissions unanswered); all 4 agree on every AppHash and block up to %d",
		target, len(txs), noReply, end-1)
}

func diskFreeMB(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * int64(st.Bsize) >> 20
}
