package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDiskFull runs agency-4's data directory on a 64 MiB tmpfs (mounted
// by the test, which needs root) with min_free_disk_mb = 16, under load.
// When the file system fills (a file written beside the node's data, first
// to 8 MiB free, then to the last byte), the node must stop by itself with
// a clear log line and exit non-zero, and refuse to start while space is
// short; once the file is removed it starts, catches up, and agrees with
// the others on every AppHash and block, and holds every tx the load
// generator was told is committed.
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

	// Twice: a gradual fill that leaves leaveMB, below the node's minimum
	// (the node stops before any write of its own fails), then a sudden one
	// to the last byte (writes of the node fail before its next check; it
	// must still stop, and lose nothing).
	var target int64
	for _, fill := range []struct {
		name  string
		leave int64 // MiB left free; 0: until the file system refuses
	}{{"gradual", leaveMB}, {"sudden", 0}} {
		logPath := filepath.Join(tn.Agencies[3].Home, "node.log")
		from := fileSize(logPath)
		filler := filepath.Join(dataDir, "filler")
		f, err := os.Create(filler)
		if err != nil {
			t.Fatal(err)
		}
		chunk := make([]byte, 1<<20)
		if fill.leave == 0 {
			chunk = chunk[:64<<10]
		}
		for diskFreeMB(t, dataDir) > fill.leave || fill.leave == 0 {
			if _, err := f.Write(chunk); err != nil {
				if fill.leave == 0 && errors.Is(err, syscall.ENOSPC) {
					break
				}
				t.Fatalf("filling %s: %v", dataDir, err)
			}
		}
		_ = f.Close()
		filledAt := liveMaxHeight(t, ctx, clients[:3])
		t.Logf("%s fill: tmpfs filled at height %d, %d MiB free", fill.name, filledAt, diskFreeMB(t, dataDir))

		cmd := procs.cmds[3]
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s fill: agency-4 still running 30s after its data directory's file system went below min_free_disk_mb", fill.name)
		}
		if ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus); cmd.ProcessState.Success() || ws.Signaled() {
			t.Fatalf("%s fill: agency-4 with a full disk: %v, want a non-zero exit", fill.name, cmd.ProcessState)
		}
		logb, _ := os.ReadFile(logPath)
		line := liveLastLine(logb[from:], "DISK ALMOST FULL")
		if line == "" || !strings.Contains(line, "min_free_disk_mb = 16") {
			t.Fatalf("%s fill: agency-4's log has no clear disk-full line; last lines:\n%s", fill.name, logb[max(from, int64(len(logb))-2000):])
		}
		t.Logf("%s fill: agency-4 stopped: %s", fill.name, line)

		// While the space is short, it refuses to start.
		from = fileSize(logPath)
		procs.start(3)
		if err := procs.cmds[3].Wait(); err == nil {
			t.Fatalf("%s fill: agency-4 started with its disk still full", fill.name)
		}
		if out, _ := os.ReadFile(logPath); !bytes.Contains(out[from:], []byte("data directory almost full")) {
			t.Fatalf("%s fill: agency-4 refused to start without saying why:\n%s", fill.name, out[from:])
		}

		// The other three go on; free the space and restart agency-4.
		liveWaitHeights(t, ctx, clients[:3], filledAt+3, 30*time.Second, "the 3 other nodes, with agency-4 stopped")
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		liveRestart(t, ctx, procs, tn, 3)
		target = liveMaxHeight(t, ctx, clients[:3])
		liveWaitHeights(t, ctx, clients[3:], target, 60*time.Second, fill.name+" fill: agency-4 catching up after space was freed")
		crashAgree(t, ctx, clients, 1, liveMinHeight(t, ctx, clients)-1)
	}
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
