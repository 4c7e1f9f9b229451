package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/internal/crashpoint"
	"github.com/civicledger/civicledger/node"
)

// Crash recovery at the commit path's weak points, with every validator a
// real `ledgerd start` process built with the crashpoints tag (see package
// internal/crashpoint).

// crashRoundsEnv sets the number of rounds of TestCrashPoints (make
// crash-long: 50).
const crashRoundsEnv = "CIVICLEDGER_CRASH_ROUNDS"

// crashSeedEnv replays the random choices of an earlier run.
const crashSeedEnv = "CIVICLEDGER_CRASH_SEED"

// crashSnapshotInterval is the test network's snapshot interval, in blocks,
// so that the snapshot-create point is reached within seconds.
const crashSnapshotInterval = 4

// TestCrashPoints runs 4 validators under load and, for each round, picks a
// node, a crash point and a hit count at random; kills the node with
// SIGKILL; restarts it armed with the crash point, so that it kills itself
// there; restarts it again unarmed; and checks that it catches up, that
// every node computed the same state (AppHash) and holds the same block at
// every height, and that every tx the load generator was told is committed
// is on the restarted node at the same height with the same code. At the
// end, every tx is checked on every node and every height on all four.
func TestCrashPoints(t *testing.T) {
	rounds := len(crashpoint.All)
	if v := os.Getenv(crashRoundsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive number of rounds", crashRoundsEnv, v)
		}
		rounds = n
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(crashSeedEnv); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: want a number", crashSeedEnv, v)
		}
		seed = n
	}
	t.Logf("%d rounds, seed %d (%s=%d replays the choices)", rounds, seed, crashSeedEnv, seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	ctx, cancel := context.WithTimeout(t.Context(), time.Duration(60+40*rounds)*time.Second)
	defer cancel()
	bin := buildCrashpointsBinary(t)
	procs, tn, clients := liveNetWith(t, ctx, "civic-crash", bin, func(dir string) {
		for i := 1; i <= 4; i++ {
			setAppToml(t, filepath.Join(dir, fmt.Sprintf("agency-%d", i)), "snapshot_interval", strconv.Itoa(crashSnapshotInterval))
		}
	})
	load := startCrashLoad(t, ctx, tn, clients)
	defer load.stop()

	// Every point once in each run of len(All) rounds, in random order.
	var order []string
	checked := int64(1) // heights below were checked on every node
	for r := 1; r <= rounds; r++ {
		if len(order) == 0 {
			order = append(order, crashpoint.All...)
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		point := order[0]
		order = order[1:]
		victim := rng.IntN(len(clients))
		hits := 1 + rng.IntN(3)
		if point == crashpoint.SnapshotCreate {
			hits = 1
		}
		others := append(append([]*client.Client(nil), clients[:victim]...), clients[victim+1:]...)
		t.Logf("round %d: agency-%d, %s, hit %d", r, victim+1, point, hits)
		before := load.committed()
		load.waitMore(t, ctx, before, 2, 45*time.Second, fmt.Sprintf("round %d, before the crash", r))
		startH := liveMaxHeight(t, ctx, clients)
		began := time.Now()

		// kill -9, then restart armed: the node kills itself at the point.
		liveKill(t, procs, victim)
		crashArmed(t, ctx, procs, tn, victim, point, hits)
		crashedAt := liveMaxHeight(t, ctx, others)
		var partial []string
		if point == crashpoint.SnapshotCreate {
			if partial = crashTempSnapshots(t, tn.Agencies[victim]); len(partial) == 0 {
				t.Fatalf("round %d: agency-%d killed itself at %s but left no partial snapshot", r, victim+1, point)
			}
		}

		// Restart unarmed: it must recover and catch up with a moving chain.
		liveRestart(t, ctx, procs, tn, victim)
		target := liveMaxHeight(t, ctx, others)
		liveWaitHeights(t, ctx, clients[victim:victim+1], target, 60*time.Second,
			fmt.Sprintf("round %d: agency-%d catching up after crashing at %s", r, victim+1, point))
		if point == crashpoint.SnapshotCreate {
			crashNoTempSnapshots(t, tn.Agencies[victim], partial)
		}
		common := liveMinHeight(t, ctx, clients)
		crashAgree(t, ctx, clients, max(checked-2, 1), common-1)
		checked = common - 1
		load.check(t, ctx, clients[victim], victim, startH-5)
		t.Logf("round %d: agency-%d crashed at %s (hit %d) near height %d; recovered and caught up to %d in %s; %d txs committed so far",
			r, victim+1, point, hits, crashedAt, target, time.Since(began).Round(10*time.Millisecond), load.committed())
	}

	txs, failures := load.stop()
	end := liveMaxHeight(t, ctx, clients)
	liveWaitHeights(t, ctx, clients, end, 30*time.Second, "every node reaching the final height")
	crashAgree(t, ctx, clients, 1, end-1)
	for i, c := range clients {
		load.check(t, ctx, c, i, 0)
	}
	if len(txs) < 2*rounds {
		t.Fatalf("only %d txs committed in %d rounds", len(txs), rounds)
	}
	t.Logf("%d rounds: %d txs committed, each found on all 4 nodes with its code; %d submissions got no answer (their node was down); all 4 nodes agree on every AppHash and block hash up to %d",
		rounds, len(txs), failures, end-1)
}

// buildCrashpointsBinary builds ledgerd with the crashpoints tag.
func buildCrashpointsBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ledgerd-crashpoints")
	out, err := exec.Command("go", "build", "-tags", "crashpoints", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build -tags crashpoints: %v\n%s", err, out)
	}
	return bin
}

// setAppToml sets key = value in home's config/app.toml (a top-level key
// that is already there).
func setAppToml(t *testing.T, home, key, value string) {
	t.Helper()
	path := filepath.Join(home, "config", "app.toml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + ` = .*$`)
	if !re.Match(b) {
		t.Fatalf("%s has no %s", path, key)
	}
	if err := os.WriteFile(path, re.ReplaceAll(b, []byte(key+" = "+value)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// crashArmed starts agency i armed with the crash point and waits until the
// process has killed itself there.
func crashArmed(t *testing.T, ctx context.Context, procs *processes, tn *node.Testnet, i int, point string, hits int) {
	t.Helper()
	logPath := filepath.Join(tn.Agencies[i].Home, "node.log")
	for attempt := 1; ; attempt++ {
		var from int64
		if fi, err := os.Stat(logPath); err == nil {
			from = fi.Size()
		}
		procs.startEnv(i, []string{fmt.Sprintf("%s=%s:%d", crashpoint.EnvVar, point, hits)})
		cmd := procs.cmds[i]
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("agency-%d armed with %s:%d did not reach it within 60s; its node log shows the crash point %q %d times",
				i+1, point, hits, "crashpoint "+point+" reached", crashLogCount(logPath, from, "crashpoint "+point+" reached"))
		case <-ctx.Done():
			t.Fatalf("agency-%d armed with %s:%d: %v", i+1, point, hits, ctx.Err())
		}
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			if crashLogCount(logPath, from, "crashpoint "+point+" reached") != 1 {
				t.Fatalf("agency-%d died by SIGKILL but its log does not show the crash point %s", i+1, point)
			}
			return
		}
		b, _ := os.ReadFile(logPath)
		if int64(len(b)) > from && bytes.Contains(b[from:], []byte("bind: address already in use")) && attempt < 3 {
			t.Logf("agency-%d could not bind a port; starting it armed again", i+1)
			time.Sleep(500 * time.Millisecond)
			continue
		}
		t.Fatalf("agency-%d armed with %s:%d exited with %v instead of killing itself there", i+1, point, hits, cmd.ProcessState)
	}
}

func crashLogCount(path string, from int64, s string) int {
	b, _ := os.ReadFile(path)
	if int64(len(b)) < from {
		return 0
	}
	return bytes.Count(b[from:], []byte(s))
}

// crashTempSnapshots lists the partial snapshots (.tmp-*) in a node's
// snapshot directory.
func crashTempSnapshots(t *testing.T, a node.AgencyHome) []string {
	t.Helper()
	dir := filepath.Join(a.Home, "data", "snapshots")
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	var tmp []string
	for _, e := range es {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			tmp = append(tmp, e.Name())
		}
	}
	return tmp
}

// crashNoTempSnapshots checks that a restarted node removed the partial
// snapshots it was writing when it crashed. A partial snapshot of another
// name is the restarted node's own, in progress: a node catching up passes
// snapshot heights.
func crashNoTempSnapshots(t *testing.T, a node.AgencyHome, partial []string) {
	t.Helper()
	for _, name := range crashTempSnapshots(t, a) {
		if slices.Contains(partial, name) {
			t.Fatalf("%s: the partial snapshot %s is still there after the restart", a.ID, name)
		}
	}
}

// crashAgree checks liveAgree's state AppHashes and, at each height, that
// every node holds the same block.
func crashAgree(t *testing.T, ctx context.Context, cs []*client.Client, from, to int64) {
	t.Helper()
	if to < from {
		return
	}
	liveAgree(t, ctx, cs, from, to)
	for h := from; h <= to; h++ {
		var first []byte
		for i, c := range cs {
			blk, err := c.RPC().Block(ctx, &h)
			if err != nil {
				t.Fatalf("node %d: block %d: %v", i+1, h, err)
			}
			if i == 0 {
				first = blk.BlockID.Hash
			} else if !bytes.Equal(first, blk.BlockID.Hash) {
				t.Fatalf("height %d: node 1 has block %X, node %d block %X", h, first, i+1, blk.BlockID.Hash)
			}
		}
	}
}

// crashTx is a tx the load generator was told is committed, with its code.
type crashTx struct {
	liveTx
	Code uint32
}

// crashLoad is the crash test's load generator: one worker per agency
// submits a grant award and a payment against it, waiting for each to be
// committed, through each node in turn. A submission whose node is down
// (or goes down before answering) is counted and left: only what a node
// told the client is in the log, independent of the nodes' own stores.
type crashLoad struct {
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	txs     []crashTx
	noReply int
}

func startCrashLoad(t *testing.T, ctx context.Context, tn *node.Testnet, nodes []*client.Client) *crashLoad {
	t.Helper()
	lctx, cancel := context.WithCancel(ctx)
	l := &crashLoad{cancel: cancel}
	for w := range tn.Agencies {
		o := liveSigner(t, tn, w)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for seq := 0; lctx.Err() == nil; seq++ {
				c := nodes[(w+seq)%len(nodes)]
				gid := fmt.Sprintf("C-G-a%d-%05d", w+1, seq)
				res, err := o.submitResult(lctx, c, o.grants, liveGrant(gid), "grant", gid, true)
				if l.add(res, err, "grant", gid) {
					pid := fmt.Sprintf("C-P-a%d-%05d", w+1, seq)
					c = nodes[(w+seq+1)%len(nodes)]
					res, err = o.submitResult(lctx, c, o.finance, livePayment(pid, gid), "payment", pid, true)
					l.add(res, err, "payment", pid)
				}
				select {
				case <-lctx.Done():
				case <-time.After(100 * time.Millisecond):
				}
			}
		}()
	}
	return l
}

// add logs a tx the client was told is committed; it reports whether it
// was, with code 0.
func (l *crashLoad) add(res *client.TxResult, err error, kind, id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil || res.Stage != "block" {
		l.noReply++
		return false
	}
	l.txs = append(l.txs, crashTx{liveTx: liveTx{Hash: res.Hash, Height: res.Height, Kind: kind, ID: id}, Code: res.Code})
	return res.Code == 0
}

func (l *crashLoad) committed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.txs)
}

// waitMore waits until n more txs than before are committed.
func (l *crashLoad) waitMore(t *testing.T, ctx context.Context, before, n int, timeout time.Duration, when string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for l.committed() < before+n {
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%s: expected %d more committed txs within %s, saw %d", when, n, timeout, l.committed()-before)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// check looks every logged tx committed above height from up on node c: it
// must be there, at the height and with the code the client was told.
func (l *crashLoad) check(t *testing.T, ctx context.Context, c *client.Client, i int, from int64) {
	t.Helper()
	l.mu.Lock()
	txs := append([]crashTx(nil), l.txs...)
	l.mu.Unlock()
	for _, tx := range txs {
		if tx.Height <= from {
			continue
		}
		hash, _ := hex.DecodeString(tx.Hash)
		res, err := liveLookupTx(ctx, c, hash)
		if err != nil {
			t.Fatalf("agency-%d: committed tx %s (%s %s, height %d, code %d) not found: %v", i+1, tx.Hash, tx.Kind, tx.ID, tx.Height, tx.Code, err)
		}
		if res.Height != tx.Height || res.TxResult.Code != tx.Code {
			t.Fatalf("agency-%d: tx %s (%s %s) at height %d code %d; the client was told height %d code %d",
				i+1, tx.Hash, tx.Kind, tx.ID, res.Height, res.TxResult.Code, tx.Height, tx.Code)
		}
	}
}

// stop ends the load and returns the logged txs and the number of
// submissions that got no answer.
func (l *crashLoad) stop() ([]crashTx, int) {
	l.cancel()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]crashTx(nil), l.txs...), l.noReply
}
