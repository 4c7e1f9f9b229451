package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/internal/keystore"
	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/node"
)

// Liveness under faults, with every validator a real `ledgerd start`
// process: 4 agencies of equal power, so consensus needs 3 of them.

// TestLivenessKill9UnderLoad SIGKILLs agency-4's validator while officers of
// all four agencies submit signed transactions through the other three
// nodes, checks that the chain keeps committing without it, restarts it from
// its home and checks that it catches up, signs blocks again, computes the
// same state (AppHash) at every height, and holds every committed tx and
// record.
func TestLivenessKill9UnderLoad(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	procs, tn, clients := liveNet(t, ctx, "civic-live")
	up := clients[:3] // the nodes that stay up

	load := startLiveLoad(t, ctx, tn, up, "L")
	defer load.stop()
	load.waitCommitted(t, ctx, 6, 0, 30*time.Second, "before the kill")

	// kill -9 agency-4 mid-stream.
	liveKill(t, procs, 3)
	killH := liveMaxHeight(t, ctx, up)
	killCommitted := load.count(0)
	t.Logf("killed agency-4 at height %d with %d txs committed", killH, killCommitted)
	if st, err := liveStatus(ctx, clients[3]); err == nil {
		t.Fatalf("agency-4 still answers at height %d after SIGKILL", st.SyncInfo.LatestBlockHeight)
	}

	// The other three keep committing blocks and the load's transactions;
	// agency-4 stays down for a few seconds at least, so that it has some
	// way to catch up.
	const downBlocks, downTxs, downFor = 5, 8, 4 * time.Second
	killed := time.Now()
	liveWaitHeights(t, ctx, up, killH+downBlocks, 30*time.Second, "the 3 remaining nodes, with agency-4 down")
	load.waitCommitted(t, ctx, downTxs, killH, 30*time.Second, "while agency-4 is down")
	time.Sleep(time.Until(killed.Add(downFor)))
	downH := liveMaxHeight(t, ctx, up)
	t.Logf("while agency-4 was down: height %d → %d, %d txs committed above %d", killH, downH, load.count(killH), killH)

	// Restart it from the same home, with the load still running: it must
	// catch up with a moving chain, then take part in consensus again.
	restarted := time.Now()
	liveRestart(t, ctx, procs, tn, 3)
	target := liveMaxHeight(t, ctx, up)
	liveWaitHeights(t, ctx, clients[3:], target, 45*time.Second, "restarted agency-4 catching up")
	caughtUp := time.Since(restarted)
	signedAt := liveWaitSigned(t, ctx, clients[0], clients[3], tn.Agencies[3], target, 60*time.Second)
	t.Logf("restarted agency-4 reached height %d after %s and signed block %d after %s (chain at %d)",
		target, caughtUp.Round(10*time.Millisecond), signedAt, time.Since(restarted).Round(10*time.Millisecond), liveMaxHeight(t, ctx, up))
	txs, errs := load.stop()
	if len(errs) > 0 {
		t.Fatalf("load generator: %d of %d transactions failed (each should commit with code 0), first: %s",
			len(errs), len(errs)+len(txs), errs[0])
	}
	var lastTx int64
	kinds := map[string]int{}
	for _, tx := range txs {
		lastTx = max(lastTx, tx.Height)
		kinds[tx.Kind]++
	}
	if kinds["grant"] == 0 || kinds["payment"] == 0 {
		t.Fatalf("load committed %v, want both grants and payments", kinds)
	}

	// A common height every node has reached, after the last committed tx.
	common := max(liveMaxHeight(t, ctx, clients), lastTx+1)
	liveWaitHeights(t, ctx, clients, common, 30*time.Second, "every node reaching the common height")
	liveAgree(t, ctx, clients, 1, common-1)

	// No committed tx is lost: every node, the restarted one included, has
	// each at the same height with code 0, and agency-4 serves each record
	// exactly as agency-1 does at the common height.
	liveAllCommitted(t, ctx, clients, txs)
	for _, tx := range txs {
		want, _, err := clients[0].Record(ctx, ledger.Kind(tx.Kind), tx.ID, common-1)
		if err != nil {
			t.Fatalf("agency-1: %v", err)
		}
		got, _, err := clients[3].Record(ctx, ledger.Kind(tx.Kind), tx.ID, common-1)
		if err != nil {
			t.Fatalf("restarted agency-4: %v", err)
		}
		if !bytes.Equal(want, got) {
			t.Fatalf("%s %s at height %d: agency-1 serves %s, agency-4 %s", tx.Kind, tx.ID, common-1, want, got)
		}
	}
	t.Logf("%d txs (%d grants, %d payments) committed up to height %d; all 4 nodes agree up to %d",
		len(txs), kinds["grant"], kinds["payment"], lastTx, common)
}

// TestHaltWithTwoOfFourDown SIGKILLs two of four validators: the other two
// must stop committing (no block, and a transaction they accept into the
// mempool gets no height) without diverging; when one killed validator
// returns, the chain resumes and commits the pending transaction.
func TestHaltWithTwoOfFourDown(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	procs, tn, clients := liveNet(t, ctx, "civic-halt")
	survivors := clients[:2]

	var pre []liveTx
	for i := range 3 {
		s := liveSigner(t, tn, i)
		tx, err := s.award(ctx, clients[i], fmt.Sprintf("H-pre-%d", i), true)
		if err != nil {
			t.Fatalf("before the kill: %v", err)
		}
		pre = append(pre, tx)
	}

	liveKill(t, procs, 2)
	liveKill(t, procs, 3)
	// A block whose precommits were already sent may still commit: take the
	// halt height a moment after the kill and allow at most one more.
	time.Sleep(time.Second)
	haltH := liveMaxHeight(t, ctx, survivors)

	// A valid tx submitted during the halt is accepted into the mempool but
	// must not be committed.
	s := liveSigner(t, tn, 0)
	pending, err := s.award(ctx, clients[0], "H-during-halt", false)
	if err != nil {
		t.Fatalf("submit during the halt: %v (CheckTx should accept it into the mempool)", err)
	}
	pendingHash, _ := hex.DecodeString(pending.Hash)
	const haltFor = 8 * time.Second
	var maxSeen int64
	for deadline := time.Now().Add(haltFor); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		for i, c := range survivors {
			st, err := liveStatus(ctx, c)
			if err != nil {
				t.Fatalf("agency-%d stopped answering during the halt: %v", i+1, err)
			}
			h := st.SyncInfo.LatestBlockHeight
			maxSeen = max(maxSeen, h)
			if h > haltH+1 {
				t.Fatalf("agency-%d committed height %d with 2 of 4 validators down (halt height %d, at most %d allowed)", i+1, h, haltH, haltH+1)
			}
			if res, err := c.RPC().Tx(ctx, pendingHash, false); err == nil {
				t.Fatalf("agency-%d: tx %s submitted during the halt was committed at height %d", i+1, pending.Hash, res.Height)
			}
		}
	}
	// It is still waiting in the mempool.
	unconf, err := clients[0].RPC().UnconfirmedTxs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	inPool := false
	for _, tx := range unconf.Txs {
		if bytes.Equal(tx.Hash(), pendingHash) {
			inPool = true
		}
	}
	if !inPool {
		t.Fatalf("tx %s submitted during the halt is neither committed nor in agency-1's mempool (%d txs there)", pending.Hash, len(unconf.Txs))
	}
	// The two survivors have not diverged: same state at every height both have.
	both := liveMinHeight(t, ctx, survivors)
	liveAgree(t, ctx, survivors, 1, both)
	t.Logf("halted at height %d (highest seen %d) for %s; survivors agree up to %d", haltH, maxSeen, haltFor, both)

	// One validator returns: 3 of 4 again.
	liveRestart(t, ctx, procs, tn, 2)
	running := clients[:3]
	liveWaitHeights(t, ctx, running, maxSeen+2, 45*time.Second, "the chain resuming after agency-3's restart")
	var committedAt int64
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		res, err := clients[0].RPC().Tx(ctx, pendingHash, false)
		if err == nil {
			if res.TxResult.Code != 0 {
				t.Fatalf("tx submitted during the halt committed at height %d with code %d: %s", res.Height, res.TxResult.Code, res.TxResult.Log)
			}
			if res.Height <= maxSeen {
				t.Fatalf("tx submitted during the halt committed at height %d, not above the halt (highest %d)", res.Height, maxSeen)
			}
			committedAt = res.Height
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tx %s submitted during the halt not committed within 30 s of the chain resuming: %v", pending.Hash, err)
		}
	}
	common := max(liveMaxHeight(t, ctx, running), committedAt+1)
	liveWaitHeights(t, ctx, running, common, 30*time.Second, "the 3 running nodes reaching the common height")
	liveAgree(t, ctx, running, 1, common-1)
	for _, tx := range append(pre, liveTx{Hash: pending.Hash, Height: committedAt, Kind: "grant", ID: "H-during-halt"}) {
		hash, _ := hex.DecodeString(tx.Hash)
		for i, c := range running {
			res, err := liveLookupTx(ctx, c, hash)
			if err != nil || res.Height != tx.Height || res.TxResult.Code != 0 {
				t.Fatalf("agency-%d: tx %s (grant %s, committed at %d): %v %+v", i+1, tx.Hash, tx.ID, tx.Height, err, res)
			}
			if _, _, err := c.Record(ctx, "grant", tx.ID, common-1); err != nil {
				t.Fatalf("agency-%d: %v", i+1, err)
			}
		}
	}
	t.Logf("resumed: halt tx committed at %d; the 3 running nodes agree up to %d", committedAt, common)
}

// liveNet generates a 4-agency testnet with officers, starts every agency as
// a process (after editHome, if given, has changed each home) and waits
// until each has height 2. On failure it logs the tail of each node's log.
//
// The testnet's ports are picked free when it is generated but bound only
// when the processes start; in between, any outgoing loopback connection on
// the machine (other tests, or these nodes dialling each other) may take one
// as its ephemeral port. A node that cannot bind exits: then the whole
// network is stopped and generated again with fresh ports.
func liveNet(t *testing.T, ctx context.Context, chainID string, editHome ...func(home string)) (*processes, *node.Testnet, []*client.Client) {
	t.Helper()
	var prepare func(dir string)
	if len(editHome) > 0 {
		prepare = func(dir string) {
			for i := 1; i <= 4; i++ {
				for _, edit := range editHome {
					edit(filepath.Join(dir, fmt.Sprintf("agency-%d", i)))
				}
			}
		}
	}
	return liveNetWith(t, ctx, chainID, ledgerdBin, prepare)
}

// liveNetWith is liveNet with another ledgerd binary; prepare, if not nil,
// may edit the generated testnet in dir before the nodes start.
func liveNetWith(t *testing.T, ctx context.Context, chainID, bin string, prepare func(dir string)) (*processes, *node.Testnet, []*client.Client) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		dir := filepath.Join(t.TempDir(), "net")
		if out, err := run(t, "testnet", "--agencies", "4", "--output", dir, "--base-port", "0", "--fast", "--officers", "--keyring-backend", "test", "--chain-id", chainID); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if prepare != nil {
			prepare(dir)
		}
		procs, tn := startProcessesBin(t, dir, bin)
		clients := make([]*client.Client, len(tn.Agencies))
		for i, a := range tn.Agencies {
			var err error
			if clients[i], err = client.New(a.RPC); err != nil {
				t.Fatal(err)
			}
		}
		abandoned := false
		t.Cleanup(func() {
			if !abandoned {
				liveLogTails(t, tn)
			}
		})
		bindFailed := liveWaitStarted(t, ctx, tn, clients, make([]int64, len(clients)), 60*time.Second)
		if bindFailed == "" {
			liveWaitHeights(t, ctx, clients, 2, 60*time.Second, "the network starting")
			return procs, tn, clients
		}
		abandoned = true
		for _, c := range procs.cmds {
			_ = c.Process.Signal(syscall.SIGTERM)
			_ = c.Wait()
		}
		if attempt == 3 {
			t.Fatalf("testnet could not bind its ports 3 times; last: %s", bindFailed)
		}
		t.Logf("attempt %d: %s; generating the testnet again with fresh ports", attempt, bindFailed)
	}
}

// liveWaitStarted waits until every node's RPC answers and it has a peer
// (CometBFT binds RPC before P2P). It returns a description of the first
// node whose log (from the given offsets) shows that it could not bind a
// port, or "" once all are up.
func liveWaitStarted(t *testing.T, ctx context.Context, tn *node.Testnet, cs []*client.Client, logFrom []int64, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if msg := liveBindFailure(tn, cs, logFrom); msg != "" {
			return msg
		}
		ready := 0
		for _, c := range cs {
			nctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			ni, err := c.RPC().NetInfo(nctx)
			cancel()
			if err == nil && ni.NPeers > 0 {
				ready++
			}
		}
		if ready == len(cs) {
			return ""
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("expected every started node to answer RPC and have a peer within %s; %d of %d do", timeout, ready, len(cs))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// liveBindFailure looks for a bind failure in the node.log of each agency
// whose client is in cs, from the given offsets.
func liveBindFailure(tn *node.Testnet, cs []*client.Client, logFrom []int64) string {
	for j, c := range cs {
		for _, a := range tn.Agencies {
			if a.RPC != c.URL {
				continue
			}
			b, _ := os.ReadFile(filepath.Join(a.Home, "node.log"))
			if int64(len(b)) > logFrom[j] && bytes.Contains(b[logFrom[j]:], []byte("bind: address already in use")) {
				return fmt.Sprintf("%s could not bind a port: %s", a.ID, liveLastLine(b[logFrom[j]:], "bind: address already in use"))
			}
		}
	}
	return ""
}

func liveLastLine(b []byte, containing string) string {
	lines := strings.Split(string(b), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], containing) {
			return strings.TrimSpace(lines[i])
		}
	}
	return ""
}

// liveRestart restarts agency i's process from its home and waits until its
// RPC answers and it has a peer. If it could not bind a port (a peer's connection attempt may
// briefly hold its old port as an ephemeral one) it is started again.
func liveRestart(t *testing.T, ctx context.Context, procs *processes, tn *node.Testnet, i int) {
	t.Helper()
	c, err := client.New(tn.Agencies[i].RPC)
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(tn.Agencies[i].Home, "node.log")
	for attempt := 1; ; attempt++ {
		var from int64
		if fi, err := os.Stat(logPath); err == nil {
			from = fi.Size()
		}
		procs.start(i)
		msg := liveWaitStarted(t, ctx, tn, []*client.Client{c}, []int64{from}, 30*time.Second)
		if msg == "" {
			return
		}
		_ = procs.cmds[i].Wait()
		if attempt == 3 {
			t.Fatalf("restarting agency-%d: %s (3 attempts)", i+1, msg)
		}
		t.Logf("restarting agency-%d: %s; retrying", i+1, msg)
		time.Sleep(500 * time.Millisecond)
	}
}

// liveLogTails logs the end of every node's log if the test failed.
func liveLogTails(t *testing.T, tn *node.Testnet) {
	if !t.Failed() {
		return
	}
	for _, a := range tn.Agencies {
		b, _ := os.ReadFile(filepath.Join(a.Home, "node.log"))
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		t.Logf("%s node.log (last 25 lines):\n%s", a.ID, strings.Join(lines[max(0, len(lines)-25):], "\n"))
		if errs := liveMatching(lines, "E["); len(errs) > 0 {
			t.Logf("%s node.log errors (last 10):\n%s", a.ID, strings.Join(errs[max(0, len(errs)-10):], "\n"))
		}
	}
}

// liveMatching returns the lines that hold s.
func liveMatching(lines []string, s string) []string {
	var out []string
	for _, l := range lines {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

// liveKill sends SIGKILL to agency i's process and reaps it.
func liveKill(t *testing.T, procs *processes, i int) {
	t.Helper()
	cmd := procs.cmds[i]
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("kill -9 agency-%d: %v", i+1, err)
	}
	_ = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && !(ws.Signaled() && ws.Signal() == syscall.SIGKILL) {
		t.Fatalf("agency-%d was not killed by SIGKILL: %v", i+1, cmd.ProcessState)
	}
}

func liveStatus(ctx context.Context, c *client.Client) (*ctypes.ResultStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return c.Status(ctx)
}

// liveHeights returns each node's latest block height.
func liveHeights(t *testing.T, ctx context.Context, cs []*client.Client) []int64 {
	t.Helper()
	hs := make([]int64, len(cs))
	for i, c := range cs {
		st, err := liveStatus(ctx, c)
		if err != nil {
			t.Fatalf("node %d (%s): %v", i+1, c.URL, err)
		}
		hs[i] = st.SyncInfo.LatestBlockHeight
	}
	return hs
}

func liveMaxHeight(t *testing.T, ctx context.Context, cs []*client.Client) int64 {
	t.Helper()
	return maxOf(liveHeights(t, ctx, cs))
}

func liveMinHeight(t *testing.T, ctx context.Context, cs []*client.Client) int64 {
	t.Helper()
	hs := liveHeights(t, ctx, cs)
	m := hs[0]
	for _, h := range hs {
		m = min(m, h)
	}
	return m
}

func maxOf(hs []int64) int64 {
	var m int64
	for _, h := range hs {
		m = max(m, h)
	}
	return m
}

// liveWaitHeights waits until every node in cs reports at least height h.
func liveWaitHeights(t *testing.T, ctx context.Context, cs []*client.Client, h int64, timeout time.Duration, what string) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, c := range cs {
		if err := c.WaitForHeight(wctx, h); err != nil {
			var seen []string
			for _, c := range cs {
				if st, err := liveStatus(ctx, c); err == nil {
					seen = append(seen, fmt.Sprint(st.SyncInfo.LatestBlockHeight))
				} else {
					seen = append(seen, "down")
				}
			}
			t.Fatalf("%s: expected every node at height ≥ %d within %s; heights seen: %s (%v)", what, h, timeout, strings.Join(seen, ", "), err)
		}
	}
}

// liveWaitSigned waits for a block above from that the validator of agency
// a signed: its precommit for the block is in the block's commit as served by
// c (the canonical commit, in the next block, once there is one), or in the
// commit that a's own node (self) assembled when it decided the block. A
// late precommit may miss the canonical commit even though the validator
// signed the block in time for its own node: both are the validator's
// signature over that block. On timeout the failure says what a's node is
// doing (still block-syncing, its height, what its log reports).
func liveWaitSigned(t *testing.T, ctx context.Context, c, self *client.Client, a node.AgencyHome, from int64, timeout time.Duration) int64 {
	t.Helper()
	addr := cmted25519.PubKey(a.ValidatorK).Address()
	signed := func(cl *client.Client, h int64) (bool, error) {
		com, err := cl.RPC().Commit(ctx, &h)
		if err != nil {
			return false, err
		}
		for _, sig := range com.Commit.Signatures {
			if sig.BlockIDFlag == cmttypes.BlockIDFlagCommit && bytes.Equal(sig.ValidatorAddress, addr) {
				return true, nil
			}
		}
		return false, nil
	}
	deadline := time.Now().Add(timeout)
	for h := from + 1; ; {
		st, err := liveStatus(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		for ; h <= st.SyncInfo.LatestBlockHeight; h++ {
			ok, err := signed(c, h)
			if err != nil {
				t.Fatalf("commit %d: %v", h, err)
			}
			if ok {
				return h
			}
		}
		if sst, err := liveStatus(ctx, self); err == nil && sst.SyncInfo.LatestBlockHeight > from {
			if ok, err := signed(self, sst.SyncInfo.LatestBlockHeight); err == nil && ok {
				return sst.SyncInfo.LatestBlockHeight
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's validator signed no block in %d..%d within %s of catching up; its node: %s",
				a.ID, from+1, h-1, timeout, liveNodeState(ctx, self, a))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// liveNodeState describes what a node is doing, for failure messages:
// whether it is still block-syncing, its height, and how often its log
// reports the reasons a validator may not sign (failed signatures, rejected
// proposals, nil precommits).
func liveNodeState(ctx context.Context, c *client.Client, a node.AgencyHome) string {
	var b strings.Builder
	if st, err := liveStatus(ctx, c); err != nil {
		fmt.Fprintf(&b, "status: %v", err)
	} else {
		fmt.Fprintf(&b, "height %d, catching up %t", st.SyncInfo.LatestBlockHeight, st.SyncInfo.CatchingUp)
	}
	log, _ := os.ReadFile(filepath.Join(a.Home, "node.log"))
	for _, s := range []string{"failed signing vote", "rejected proposal", "Precommitting nil", "SwitchToConsensus", "E["} {
		fmt.Fprintf(&b, "; %q in its log: %d", s, bytes.Count(log, []byte(s)))
	}
	return b.String()
}

// liveAgree checks that every node computed the same state at each height
// from..to (the AppHash implied by its own store's proofs, not the agreed
// headers), and that each node's header at h+1, where every node has it,
// commits to that state.
func liveAgree(t *testing.T, ctx context.Context, cs []*client.Client, from, to int64) {
	t.Helper()
	if to < from {
		t.Fatalf("no heights to compare (%d..%d)", from, to)
	}
	headers := liveMinHeight(t, ctx, cs)
	for h := from; h <= to; h++ {
		var first []byte
		for i, c := range cs {
			got, err := c.StateAppHash(ctx, h)
			if err != nil {
				t.Fatalf("node %d: state AppHash at height %d: %v", i+1, h, err)
			}
			if i == 0 {
				first = got
			} else if !bytes.Equal(first, got) {
				t.Fatalf("height %d: node 1 state AppHash %X, node %d %X", h, first, i+1, got)
			}
			next := h + 1
			if next > headers {
				continue
			}
			blk, err := c.RPC().Block(ctx, &next)
			if err != nil {
				t.Fatalf("node %d: block %d: %v", i+1, next, err)
			}
			if !bytes.Equal(blk.Block.AppHash, got) {
				t.Fatalf("node %d: header %d AppHash %X, but its state at %d is %X", i+1, next, blk.Block.AppHash, h, got)
			}
		}
	}
}

// liveLookupTx looks a committed tx up by hash, allowing the node's indexer
// (which runs behind block execution) a few seconds to index it.
func liveLookupTx(ctx context.Context, c *client.Client, hash []byte) (*ctypes.ResultTx, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		res, err := c.RPC().Tx(ctx, hash, false)
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return res, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// liveTx is a committed transaction.
type liveTx struct {
	Hash     string
	Height   int64
	Kind, ID string
}

// liveOfficers signs as one agency's grants and finance officers.
type liveOfficers struct {
	agency          string
	grants, finance ed25519.PrivateKey
}

func liveSigner(t *testing.T, tn *node.Testnet, i int) *liveOfficers {
	t.Helper()
	ks, err := keystore.Open(filepath.Join(tn.Agencies[i].Home, "keys"), keystore.BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := &liveOfficers{agency: tn.Agencies[i].ID}
	if o.grants, err = ks.PrivKey("grants"); err != nil {
		t.Fatal(err)
	}
	if o.finance, err = ks.PrivKey("finance"); err != nil {
		t.Fatal(err)
	}
	return o
}

var liveRecipient = ledger.Party{Name: "Acme Ltd", Scheme: "GB-COH", ID: "0001"}

// award submits a grant award through c; with wait it returns once the tx
// is committed with code 0 (or an error), else once CheckTx accepted it.
func (o *liveOfficers) award(ctx context.Context, c *client.Client, id string, wait bool) (liveTx, error) {
	return o.submit(ctx, c, o.grants, liveGrant(id), "grant", id, wait)
}

// pay records a payment against grant.
func (o *liveOfficers) pay(ctx context.Context, c *client.Client, id, grant string) (liveTx, error) {
	return o.submit(ctx, c, o.finance, livePayment(id, grant), "payment", id, true)
}

func liveGrant(id string) *ledger.GrantAward {
	return &ledger.GrantAward{ID: id, Recipient: liveRecipient, Programme: "Resilience", Purpose: "Liveness test",
		Amount: "10000", Currency: "EUR", PeriodStart: "2026-01-01", PeriodEnd: "2026-12-31", DecisionDate: "2026-01-01",
		DocumentHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}
}

func livePayment(id, grant string) *ledger.PaymentRecord {
	return &ledger.PaymentRecord{ID: id, Payee: liveRecipient, Amount: "100", Currency: "EUR", Date: "2026-02-01",
		Purpose: "Instalment", Grant: grant}
}

func (o *liveOfficers) submit(ctx context.Context, c *client.Client, key ed25519.PrivateKey, p ledger.Payload, kind, id string, wait bool) (liveTx, error) {
	res, err := o.submitResult(ctx, c, key, p, kind, id, wait)
	if err != nil {
		return liveTx{}, err
	}
	if !res.OK() {
		return liveTx{}, fmt.Errorf("%s %s by %s via %s: %s stage code %d: %s", kind, id, o.agency, c.URL, res.Stage, res.Code, res.Log)
	}
	return liveTx{Hash: res.Hash, Height: res.Height, Kind: kind, ID: id}, nil
}

// submitResult builds, signs and submits p through c and returns what the
// node told the client, whatever the code.
func (o *liveOfficers) submitResult(ctx context.Context, c *client.Client, key ed25519.PrivateKey, p ledger.Payload, kind, id string, wait bool) (*client.TxResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	raw, err := c.BuildTx(ctx, client.Signer{Agency: o.agency, Keys: []ed25519.PrivateKey{key}}, p, client.BuildOptions{})
	if err != nil {
		return nil, fmt.Errorf("%s %s by %s: build: %w", kind, id, o.agency, err)
	}
	res, err := c.Submit(ctx, raw, wait)
	if err != nil {
		return nil, fmt.Errorf("%s %s by %s via %s: %w", kind, id, o.agency, c.URL, err)
	}
	return res, nil
}

// liveLoad runs one worker per agency, each submitting through one of the
// given nodes, in turn, a grant award by the agency's grants officer and a
// payment against it by its finance officer, each waited for until
// committed, with a short pause between pairs.
type liveLoad struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	txs    []liveTx
	errs   []string
}

func startLiveLoad(t *testing.T, ctx context.Context, tn *node.Testnet, nodes []*client.Client, prefix string) *liveLoad {
	t.Helper()
	lctx, cancel := context.WithCancel(ctx)
	l := &liveLoad{cancel: cancel}
	for w := range tn.Agencies {
		o := liveSigner(t, tn, w)
		c := nodes[w%len(nodes)]
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for seq := 0; lctx.Err() == nil; seq++ {
				gid := fmt.Sprintf("%s-G-a%d-%04d", prefix, w+1, seq)
				tx, err := o.award(lctx, c, gid, true)
				if l.add(lctx, tx, err) {
					tx, err = o.pay(lctx, c, fmt.Sprintf("%s-P-a%d-%04d", prefix, w+1, seq), gid)
					l.add(lctx, tx, err)
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

// add records a result; failures after the load was stopped are ignored.
func (l *liveLoad) add(ctx context.Context, tx liveTx, err error) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			l.errs = append(l.errs, err.Error())
		}
		return false
	}
	l.txs = append(l.txs, tx)
	return true
}

// count returns how many txs were committed above height h.
func (l *liveLoad) count(h int64) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, tx := range l.txs {
		if tx.Height > h {
			n++
		}
	}
	return n
}

// waitCommitted waits until n txs are committed above height h; it fails
// at once if any tx failed.
func (l *liveLoad) waitCommitted(t *testing.T, ctx context.Context, n int, h int64, timeout time.Duration, when string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		l.mu.Lock()
		errs := append([]string(nil), l.errs...)
		l.mu.Unlock()
		if len(errs) > 0 {
			t.Fatalf("load generator %s: %d txs failed, first: %s", when, len(errs), errs[0])
		}
		got := l.count(h)
		if got >= n {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%s: expected ≥ %d txs committed above height %d within %s, saw %d", when, n, h, timeout, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop ends the load and returns the committed txs and the failures.
func (l *liveLoad) stop() ([]liveTx, []string) {
	l.cancel()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]liveTx(nil), l.txs...), append([]string(nil), l.errs...)
}

// liveSettle stops the load and fails on any failed tx, waits until every
// node reaches a common height above the last committed tx, and checks that
// the nodes agree on the state at every height up to it (liveAgree) and
// that each committed tx is on every node at its height with code 0. It
// returns the committed txs, the height of the last and the common height.
func liveSettle(t *testing.T, ctx context.Context, load *liveLoad, cs []*client.Client, wait time.Duration) (txs []liveTx, lastTx, common int64) {
	t.Helper()
	txs, errs := load.stop()
	if len(errs) > 0 {
		t.Fatalf("load generator: %d of %d transactions failed (each should commit with code 0), first: %s", len(errs), len(errs)+len(txs), errs[0])
	}
	for _, tx := range txs {
		lastTx = max(lastTx, tx.Height)
	}
	common = max(liveMaxHeight(t, ctx, cs), lastTx+1)
	liveWaitHeights(t, ctx, cs, common, wait, "every node reaching the common height")
	liveAgree(t, ctx, cs, 1, common-1)
	liveAllCommitted(t, ctx, cs, txs)
	return txs, lastTx, common
}

// liveAllCommitted checks that every node holds each tx at the height its
// client was told, with code 0.
func liveAllCommitted(t *testing.T, ctx context.Context, cs []*client.Client, txs []liveTx) {
	t.Helper()
	for _, tx := range txs {
		hash, _ := hex.DecodeString(tx.Hash)
		for i, c := range cs {
			res, err := liveLookupTx(ctx, c, hash)
			if err != nil {
				t.Fatalf("node %d: committed tx %s (%s %s, height %d) not found: %v", i+1, tx.Hash, tx.Kind, tx.ID, tx.Height, err)
			}
			if res.Height != tx.Height || res.TxResult.Code != 0 {
				t.Fatalf("node %d: tx %s (%s %s) at height %d code %d, committed at height %d code 0", i+1, tx.Hash, tx.Kind, tx.ID, res.Height, res.TxResult.Code, tx.Height)
			}
		}
	}
}
