//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/node"
)

// Network faults between validators. Each of 4 agencies runs as a real
// `ledgerd start` process inside its own network namespace, with two
// interfaces:
//
//   - mgmt: a veth pair to the root namespace (a /30 of 10.A.B.0/24), on
//     which the node's RPC listens; the test reaches every node through it
//     at all times, whatever happens to the consensus network;
//   - wan: a TUN device on 10.A.(B+1).0/24, the only route to the other
//     validators, on which P2P listens. The test process reads each packet
//     a node sends on it and writes it into the destination node's wan:
//     a switch whose links can be cut (a partition: packets between the two
//     sides are silently dropped, as a failed WAN link drops them, so TCP
//     connections hang rather than fail) or impaired (random loss and a
//     fixed delay per packet, as `tc qdisc ... netem loss 10% delay 200ms`
//     on every node's link; the switch does it itself so that the test does
//     not depend on the kernel's sch_netem, which many kernels leave out).
//
// The namespaces, veths and TUN devices are made per run with unique names
// and addresses that no interface of the machine uses, and removed at the
// end of the test, also when it fails.

// TestPartitionTwoTwo splits the 4 validators 2|2: neither half has the
// two thirds of voting power that consensus needs, so neither may commit
// more than the block in flight, and no two nodes may ever hold different
// blocks at one height. A transaction accepted on each side meanwhile stays
// uncommitted. When the partition heals, the chain resumes, commits both
// transactions, and every node holds the same blocks and computes the same
// state at every height.
func TestPartitionTwoTwo(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	pn := startPartNet(t, ctx, "civic-split")
	cs := pn.clients
	if _, err := liveSigner(t, pn.tn, 0).award(ctx, cs[0], "S-before", true); err != nil {
		t.Fatalf("before the partition: %v", err)
	}
	liveWaitHeights(t, ctx, cs, 5, 30*time.Second, "the chain before the partition")

	pn.wan.split(0, 0, 1, 1)
	cut := time.Now()
	cutH := liveMaxHeight(t, ctx, cs)
	var pending []liveTx
	for _, side := range []int{0, 2} {
		tx, err := liveSigner(t, pn.tn, side).award(ctx, cs[side], fmt.Sprintf("S-during-%d", side+1), false)
		if err != nil {
			t.Fatalf("submit to agency-%d during the partition: %v (CheckTx should accept it into the mempool)", side+1, err)
		}
		pending = append(pending, tx)
	}
	const splitFor = 10 * time.Second
	maxSeen := partWatchStall(t, ctx, pn, cs, cutH, pending, cut.Add(splitFor), "with the network split 2|2")
	partNoFork(t, ctx, cs)
	t.Logf("split 2|2 at height %d for %s: highest height seen %d, %s", cutH, splitFor, maxSeen, pn.wan.stats())

	pn.wan.heal()
	healed := time.Now()
	liveWaitHeights(t, ctx, cs, maxSeen+3, 60*time.Second, "the chain resuming after the 2|2 partition healed")
	resumed := time.Since(healed)
	var last int64
	for i := range pending {
		pending[i].Height = partWaitCommitted(t, ctx, cs, pending[i], maxSeen, 30*time.Second)
		last = max(last, pending[i].Height)
	}
	common := max(liveMaxHeight(t, ctx, cs), last+1)
	liveWaitHeights(t, ctx, cs, common, 30*time.Second, "every node reaching the common height")
	liveAgree(t, ctx, cs, 1, common-1)
	partNoFork(t, ctx, cs)
	t.Logf("healed: all 4 at height %d within %s; the txs accepted during the split committed at %d and %d; same blocks and state at every height up to %d",
		maxSeen+3, resumed.Round(10*time.Millisecond), pending[0].Height, pending[1].Height, common-1)
}

// TestPartitionOneThree cuts agency-4 off from the other three while
// officers of all four agencies submit transactions through those three:
// the majority keeps committing, the isolated node stalls. When the link
// returns, agency-4 catches up, signs blocks again, and holds every
// committed tx and the same blocks and state at every height.
func TestPartitionOneThree(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	pn := startPartNet(t, ctx, "civic-isolate")
	cs := pn.clients
	majority := cs[:3]
	load := startLiveLoad(t, ctx, pn.tn, majority, "I")
	defer load.stop()
	load.waitCommitted(t, ctx, 4, 0, 30*time.Second, "before the partition")

	pn.wan.split(0, 0, 0, 1)
	cut := time.Now()
	isoH := liveHeights(t, ctx, cs[3:])[0]
	cutH := liveMaxHeight(t, ctx, majority)
	const isolatedFor = 10 * time.Second
	liveWaitHeights(t, ctx, majority, cutH+5, 30*time.Second, "the 3 connected nodes, with agency-4 cut off")
	load.waitCommitted(t, ctx, 8, cutH, 30*time.Second, "while agency-4 is cut off")
	stalled := partWatchStall(t, ctx, pn, cs[3:], isoH, nil, cut.Add(isolatedFor), "cut off from the other three")
	healH := liveMaxHeight(t, ctx, majority)
	partNoFork(t, ctx, cs)
	t.Logf("agency-4 cut off at height %d for %s (stayed at ≤ %d); the other three went %d → %d with %d txs committed above %d; %s",
		isoH, isolatedFor, stalled, cutH, healH, load.count(cutH), cutH, pn.wan.stats())

	pn.wan.heal()
	healed := time.Now()
	liveWaitHeights(t, ctx, cs[3:], healH, 45*time.Second, "agency-4 catching up after the partition healed")
	caughtUp := time.Since(healed)
	signedAt := liveWaitSigned(t, ctx, cs[0], cs[3], pn.tn.Agencies[3], healH, 60*time.Second)
	t.Logf("agency-4 reached height %d after %s and signed block %d after %s",
		healH, caughtUp.Round(10*time.Millisecond), signedAt, time.Since(healed).Round(10*time.Millisecond))

	txs, lastTx, common := liveSettle(t, ctx, load, cs, 30*time.Second)
	partNoFork(t, ctx, cs)
	t.Logf("%d txs committed up to height %d, each on all 4 nodes at its height with code 0; same blocks and state up to %d", len(txs), lastTx, common-1)
}

// TestLossAndDelay drops 10 % of the packets on every validator's link at
// random and delays the rest by 200 ms (a round trip of 400 ms) while
// officers of all four agencies submit transactions: the chain must keep
// committing blocks and transactions, and all nodes agree afterwards.
func TestLossAndDelay(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	pn := startPartNet(t, ctx, "civic-lossy", wanTimeouts)
	cs := pn.clients
	load := startLiveLoad(t, ctx, pn.tn, cs, "W")
	defer load.stop()
	load.waitCommitted(t, ctx, 4, 0, 30*time.Second, "before the impairment")

	const loss, delay = 0.10, 200 * time.Millisecond
	pn.wan.impair(loss, delay)
	start := time.Now()
	h0 := liveMaxHeight(t, ctx, cs)
	const wantBlocks, wantTxs, within = 8, 12, 90 * time.Second
	liveWaitHeights(t, ctx, cs, h0+wantBlocks, within, fmt.Sprintf("every node, with %.0f %% loss and %s delay on every link", loss*100, delay))
	load.waitCommitted(t, ctx, wantTxs, h0, within-time.Since(start), "with loss and delay on every link")
	took := time.Since(start)
	h1 := liveMinHeight(t, ctx, cs)
	n := load.count(h0)
	t.Logf("%.0f %% loss, %s delay: %d blocks and %d txs committed in %s (%.1f blocks/s); %s",
		loss*100, delay, h1-h0, n, took.Round(10*time.Millisecond), float64(h1-h0)/took.Seconds(), pn.wan.stats())
	if pn.wan.lost.Load() == 0 {
		t.Fatalf("no packet was dropped: the impairment did not apply (%s)", pn.wan.stats())
	}

	pn.wan.impair(0, 0)
	txs, lastTx, common := liveSettle(t, ctx, load, cs, 30*time.Second)
	partNoFork(t, ctx, cs)
	t.Logf("%d txs committed up to height %d, each on all 4 nodes; same blocks and state up to %d", len(txs), lastTx, common-1)
}

// wanTimeouts sizes the consensus timeouts for a link with a 400 ms round
// trip and retransmissions (the loopback ones of --fast are shorter than one
// round trip, so that most heights would need several rounds), still well
// below the production defaults.
func wanTimeouts(cfg *node.Config) {
	cc := cfg.Consensus
	cc.TimeoutPropose = 1200 * time.Millisecond
	cc.TimeoutProposeDelta = 200 * time.Millisecond
	cc.TimeoutPrevote = 600 * time.Millisecond
	cc.TimeoutPrevoteDelta = 200 * time.Millisecond
	cc.TimeoutPrecommit = 600 * time.Millisecond
	cc.TimeoutPrecommitDelta = 200 * time.Millisecond
	cc.TimeoutCommit = 300 * time.Millisecond
}

// partWatchStall polls the nodes in cs until the deadline: none may pass
// height from+1 (from is the highest height when the link was cut; only the
// block in flight then may still be decided), and none of the pending txs
// may be committed. It returns the highest height seen.
func partWatchStall(t *testing.T, ctx context.Context, pn *partNet, cs []*client.Client, from int64, pending []liveTx, deadline time.Time, what string) int64 {
	t.Helper()
	var maxSeen int64
	for {
		for _, c := range cs {
			st, err := liveStatus(ctx, c)
			if err != nil {
				t.Fatalf("%s stopped answering RPC %s: %v", partName(pn, c), what, err)
			}
			h := st.SyncInfo.LatestBlockHeight
			maxSeen = max(maxSeen, h)
			if h > from+1 {
				t.Fatalf("%s committed height %d %s (height %d when the link was cut, at most %d allowed; %s)",
					partName(pn, c), h, what, from, from+1, pn.wan.stats())
			}
			for _, tx := range pending {
				hash, _ := hex.DecodeString(tx.Hash)
				if res, err := c.RPC().Tx(ctx, hash, false); err == nil {
					t.Fatalf("%s: tx %s (grant %s) submitted %s was committed at height %d", partName(pn, c), tx.Hash, tx.ID, what, res.Height)
				}
			}
		}
		if time.Now().After(deadline) {
			return maxSeen
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// partWaitCommitted waits until tx is committed, with code 0 and above
// height above, on every node (at one height), and returns that height.
func partWaitCommitted(t *testing.T, ctx context.Context, cs []*client.Client, tx liveTx, above int64, timeout time.Duration) int64 {
	t.Helper()
	hash, _ := hex.DecodeString(tx.Hash)
	deadline := time.Now().Add(timeout)
	var height int64
	for i := 0; i < len(cs); {
		res, err := cs[i].RPC().Tx(ctx, hash, false)
		if err != nil {
			if time.Now().After(deadline) {
				t.Fatalf("tx %s (grant %s) not committed on node %d within %s of the heal: %v", tx.Hash, tx.ID, i+1, timeout, err)
			}
			time.Sleep(200 * time.Millisecond)
			continue
		}
		if res.TxResult.Code != 0 || res.Height <= above || (height != 0 && res.Height != height) {
			t.Fatalf("node %d: tx %s (grant %s) committed at height %d with code %d (%s); want code 0 above height %d, at the height the other nodes have (%d)",
				i+1, tx.Hash, tx.ID, res.Height, res.TxResult.Code, res.TxResult.Log, above, height)
		}
		height = res.Height
		i++
	}
	return height
}

// partNoFork checks that no two nodes hold different blocks at one height:
// at each height up to the highest, every node that has the block has the
// same block hash.
func partNoFork(t *testing.T, ctx context.Context, cs []*client.Client) {
	t.Helper()
	hashes := map[int64][]byte{}
	owner := map[int64]int{}
	for i, c := range cs {
		top := liveHeights(t, ctx, []*client.Client{c})[0]
		for from := int64(1); from <= top; from += 20 {
			to := min(from+19, top)
			bi, err := c.RPC().BlockchainInfo(ctx, from, to)
			if err != nil {
				t.Fatalf("node %d: blocks %d..%d: %v", i+1, from, to, err)
			}
			for _, m := range bi.BlockMetas {
				h := m.Header.Height
				if first, ok := hashes[h]; !ok {
					hashes[h], owner[h] = m.BlockID.Hash, i
				} else if !bytes.Equal(first, m.BlockID.Hash) {
					t.Fatalf("fork at height %d: node %d has block %X, node %d has %X", h, owner[h]+1, first, i+1, m.BlockID.Hash)
				}
			}
		}
	}
}

func partName(pn *partNet, c *client.Client) string {
	for i, x := range pn.clients {
		if x == c {
			return pn.tn.Agencies[i].ID
		}
	}
	return c.URL
}

// partNet is a 4-validator network, one namespace per validator.
type partNet struct {
	tn      *node.Testnet
	clients []*client.Client
	wan     *wanSwitch
	ns      []string
	cmds    []*exec.Cmd
}

// partPrefix starts the name of every namespace the tests make, followed by
// the test process's pid: a namespace left behind by a test process that
// was killed is removed by the next run.
const partPrefix = "civic-wan-"

// startPartNet generates a 4-agency testnet, builds its namespaces and
// links, starts each agency's node in its namespace and waits until every
// node has a peer and height 2. It skips the test where namespaces cannot
// be made.
func startPartNet(t *testing.T, ctx context.Context, chainID string, tune ...func(*node.Config)) *partNet {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network fault tests need root (they create network namespaces, veth pairs and TUN devices); run them as root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("network fault tests need the ip command (Debian package iproute2)")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("network fault tests need TUN devices: %v", err)
	}
	partSweep(t)
	const n = 4
	mgmt, wan := partSubnets(t)
	var tag [3]byte
	_, _ = rand.Read(tag[:])
	id := hex.EncodeToString(tag[:])[:5]
	pn := &partNet{ns: make([]string, n), cmds: make([]*exec.Cmd, n)}
	for i := range n {
		ns := fmt.Sprintf("%s%d-%s-%d", partPrefix, os.Getpid(), id, i+1)
		if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
			if i == 0 {
				t.Skipf("cannot create a network namespace here (ip netns add %s: %v: %s)", ns, err, bytes.TrimSpace(out))
			}
			t.Fatalf("ip netns add %s: %v: %s", ns, err, out)
		}
		pn.ns[i] = ns
		veth := partVeth(id, strconv.Itoa(i+1))
		t.Cleanup(func() {
			_ = exec.Command("ip", "link", "del", veth).Run()
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("removing network namespace %s: %v: %s", ns, err, out)
			}
		})
		partIP(t, "-n", ns, "link", "set", "lo", "up")
		partIP(t, "link", "add", veth, "type", "veth", "peer", "name", "mgmt", "netns", ns)
		partIP(t, "addr", "add", fmt.Sprintf("%s.%d/30", mgmt, 4*i+1), "dev", veth)
		partIP(t, "link", "set", veth, "up")
		partIP(t, "-n", ns, "addr", "add", fmt.Sprintf("%s.%d/30", mgmt, 4*i+2), "dev", "mgmt")
		partIP(t, "-n", ns, "link", "set", "mgmt", "up")
	}
	pn.wan = newWANSwitch(t, wan, pn.ns, id)

	dir := filepath.Join(t.TempDir(), "net")
	if out, err := run(t, "testnet", "--agencies", strconv.Itoa(n), "--output", dir, "--base-port", "0", "--fast", "--officers", "--keyring-backend", "test", "--chain-id", chainID); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	tn := partTestnet(t, dir)
	pn.tn = tn
	// RPC and metrics on the management link, P2P on the consensus link.
	for i := range tn.Agencies {
		a := &tn.Agencies[i]
		a.P2P = fmt.Sprintf("%s.%d:26656", wan, i+1)
		a.RPC = fmt.Sprintf("http://%s.%d:26657", mgmt, 4*i+2)
		a.Metrics = fmt.Sprintf("http://%s.%d:26660/metrics", mgmt, 4*i+2)
	}
	for i, a := range tn.Agencies {
		cfg, err := node.LoadConfig(a.Home)
		if err != nil {
			t.Fatal(err)
		}
		cfg.P2P.ListenAddress = "tcp://" + a.P2P
		cfg.RPC.ListenAddress = "tcp://" + strings.TrimPrefix(a.RPC, "http://")
		cfg.Instrumentation.PrometheusListenAddr = strings.TrimSuffix(strings.TrimPrefix(a.Metrics, "http://"), "/metrics")
		var peers []string
		for j, b := range tn.Agencies {
			if j != i {
				peers = append(peers, b.NodeID+"@"+b.P2P)
			}
		}
		cfg.P2P.PersistentPeers = strings.Join(peers, ",")
		for _, f := range tune {
			f(cfg)
		}
		if err := node.WriteConfig(cfg); err != nil {
			t.Fatal(err)
		}
		c, err := client.New(a.RPC)
		if err != nil {
			t.Fatal(err)
		}
		pn.clients = append(pn.clients, c)
	}

	t.Cleanup(func() { liveLogTails(t, tn) })
	for i := range tn.Agencies {
		pn.start(t, i)
	}
	t.Cleanup(pn.stop)
	if msg := liveWaitStarted(t, ctx, tn, pn.clients, make([]int64, n), 60*time.Second); msg != "" {
		t.Fatalf("a node could not start in its namespace: %s", msg)
	}
	liveWaitHeights(t, ctx, pn.clients, 2, 60*time.Second, "the network starting")
	return pn
}

// start starts agency i's node in its namespace, logging to HOME/node.log.
// The node is killed if the test process dies.
func (pn *partNet) start(t *testing.T, i int) {
	t.Helper()
	a := pn.tn.Agencies[i]
	logf, err := os.OpenFile(filepath.Join(a.Home, "node.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	// ip netns exec enters the namespace and replaces itself with ledgerd:
	// the pid is the node's.
	cmd := exec.Command("ip", "netns", "exec", pn.ns[i], ledgerdBin, "start", "--home", a.Home)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s in namespace %s: %v", a.ID, pn.ns[i], err)
	}
	pn.cmds[i] = cmd
}

// stop ends every node: SIGTERM, then SIGKILL if it has not exited after 20 s.
func (pn *partNet) stop() {
	var wg sync.WaitGroup
	for _, c := range pn.cmds {
		if c == nil || c.ProcessState != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = c.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				_ = c.Process.Kill()
				<-done
			}
		}()
	}
	wg.Wait()
}

func partTestnet(t *testing.T, dir string) *node.Testnet {
	t.Helper()
	var tn node.Testnet
	b, err := os.ReadFile(filepath.Join(dir, "testnet.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &tn); err != nil {
		t.Fatalf("testnet.json: %v", err)
	}
	return &tn
}

// partIP runs ip with args and fails the test with its output if it fails.
func partIP(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
}

// partSweep removes the namespaces of earlier test processes that no longer
// run (killed before their cleanup could run).
func partSweep(t *testing.T) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(partPrefix) + `(\d+)-([0-9a-f]+)-(\d+)`)
	for _, line := range strings.Split(string(out), "\n") {
		m := re.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		if pid, _ := strconv.Atoi(m[1]); pid == os.Getpid() {
			continue
		} else if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			continue
		}
		// The namespace may outlive its name for a while (the kernel keeps
		// it while it still has sockets to close): remove its root-side
		// link now.
		_ = exec.Command("ip", "link", "del", partVeth(m[2], m[3])).Run()
		if out, err := exec.Command("ip", "netns", "del", m[0]).CombinedOutput(); err != nil {
			t.Logf("removing stale namespace %s: %v: %s", m[0], err, out)
		}
	}
}

// partVeth names the root end of node i's management link in the network
// with the given id.
func partVeth(id, i string) string { return "cw" + id + "m" + i }

// partSubnets picks two adjacent /24s in 10.0.0.0/8 (management, then
// consensus network) that overlap no address or route of the machine.
func partSubnets(t *testing.T) (mgmt, wan string) {
	t.Helper()
	var used []*net.IPNet
	for _, args := range [][]string{{"-4", "-o", "addr", "show"}, {"-4", "route", "show", "table", "all"}} {
		out, err := exec.Command("ip", args...).Output()
		if err != nil {
			t.Fatalf("ip %s: %v", strings.Join(args, " "), err)
		}
		for _, f := range strings.Fields(string(out)) {
			if !strings.Contains(f, ".") {
				continue
			}
			if !strings.Contains(f, "/") {
				f += "/32"
			}
			if _, n, err := net.ParseCIDR(f); err == nil && n.IP.To4() != nil {
				if ones, _ := n.Mask.Size(); ones > 0 {
					used = append(used, n)
				}
			}
		}
	}
	for range 1000 {
		a, b := 16+mrand.IntN(230), 2*mrand.IntN(127)
		block := &net.IPNet{IP: net.IPv4(10, byte(a), byte(b), 0).To4(), Mask: net.CIDRMask(23, 32)}
		free := true
		for _, u := range used {
			if u.Contains(block.IP) || block.Contains(u.IP) {
				free = false
				break
			}
		}
		if free {
			return fmt.Sprintf("10.%d.%d", a, b), fmt.Sprintf("10.%d.%d", a, b+1)
		}
	}
	t.Fatal("no free /23 in 10.0.0.0/8 for the test networks")
	return "", ""
}

// wanSwitch is the consensus network: one TUN device per namespace (named
// wan there, address PREFIX.i+1/24), and a goroutine per device that reads
// the IPv4 packets its node sends and queues each for the destination's
// device, unless the two nodes are on different sides of a partition or the
// packet is lost; a writer per device delivers its queue after the delay.
type wanSwitch struct {
	prefix [3]byte
	tuns   []*os.File
	queues []chan wanPacket

	mu    sync.Mutex
	side  []int
	loss  float64
	delay time.Duration

	forwarded, cut, lost, overflow atomic.Int64
	readers, writers               sync.WaitGroup
}

type wanPacket struct {
	at time.Time
	b  []byte
}

func newWANSwitch(t *testing.T, prefix string, namespaces []string, id string) *wanSwitch {
	t.Helper()
	w := &wanSwitch{side: make([]int, len(namespaces))}
	ip := net.ParseIP(prefix + ".0").To4()
	copy(w.prefix[:], ip[:3])
	t.Cleanup(w.close)
	for i, ns := range namespaces {
		name := fmt.Sprintf("cw%sw%d", id, i+1)
		f, err := openTUN(name)
		if err != nil {
			t.Skipf("cannot create a TUN device here: %v", err)
		}
		w.tuns = append(w.tuns, f)
		// The open file stays attached to the device when it moves.
		partIP(t, "link", "set", name, "netns", ns)
		partIP(t, "-n", ns, "link", "set", name, "name", "wan")
		partIP(t, "-n", ns, "addr", "add", fmt.Sprintf("%s.%d/24", prefix, i+1), "dev", "wan")
		partIP(t, "-n", ns, "link", "set", "wan", "up")
	}
	for range w.tuns {
		w.queues = append(w.queues, make(chan wanPacket, 8192))
	}
	for i := range w.tuns {
		w.readers.Add(1)
		go w.forward(i)
		w.writers.Add(1)
		go w.deliver(i)
	}
	return w
}

// openTUN creates a TUN device (IPv4 packets without extra header) and
// returns it open, non-blocking so that Close ends a pending Read.
func openTUN(name string) (*os.File, error) {
	fd, err := syscall.Open("/dev/net/tun", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	var req [40]byte // struct ifreq: name[16], flags
	copy(req[:15], name)
	binary.NativeEndian.PutUint16(req[16:], syscall.IFF_TUN|syscall.IFF_NO_PI)
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.TUNSETIFF, uintptr(unsafe.Pointer(&req[0]))); errno != 0 {
		_ = syscall.Close(fd)
		return nil, fmt.Errorf("TUNSETIFF %s: %w", name, errno)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		_ = syscall.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

// forward reads node i's outgoing packets.
func (w *wanSwitch) forward(i int) {
	defer w.readers.Done()
	buf := make([]byte, 65536)
	for {
		n, err := w.tuns[i].Read(buf)
		if err != nil {
			return
		}
		// IPv4 only (the kernel's own IPv6 router solicitations are not
		// the nodes'), to an address of the network.
		if n < 20 || buf[0]>>4 != 4 || !bytes.Equal(buf[16:19], w.prefix[:]) {
			continue
		}
		j := int(buf[19]) - 1
		if j < 0 || j >= len(w.tuns) || j == i {
			continue
		}
		w.mu.Lock()
		cut := w.side[i] != w.side[j]
		lost := !cut && w.loss > 0 && mrand.Float64() < w.loss
		delay := w.delay
		w.mu.Unlock()
		switch {
		case cut:
			w.cut.Add(1)
		case lost:
			w.lost.Add(1)
		default:
			select {
			case w.queues[j] <- wanPacket{at: time.Now().Add(delay), b: bytes.Clone(buf[:n])}:
				w.forwarded.Add(1)
			default:
				w.overflow.Add(1)
			}
		}
	}
}

// deliver writes node j's incoming packets when they are due.
func (w *wanSwitch) deliver(j int) {
	defer w.writers.Done()
	for p := range w.queues[j] {
		if d := time.Until(p.at); d > 0 {
			time.Sleep(d)
		}
		_, _ = w.tuns[j].Write(p.b)
	}
}

// split puts node i on side sides[i]: packets between sides are dropped.
func (w *wanSwitch) split(sides ...int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	copy(w.side, sides)
}

// heal joins all sides again.
func (w *wanSwitch) heal() { w.split(make([]int, len(w.side))...) }

// impair drops each packet with probability loss and delays the others.
func (w *wanSwitch) impair(loss float64, delay time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.loss, w.delay = loss, delay
}

func (w *wanSwitch) stats() string {
	return fmt.Sprintf("switch: %d packets forwarded, %d dropped by the partition, %d lost at random, %d over queue",
		w.forwarded.Load(), w.cut.Load(), w.lost.Load(), w.overflow.Load())
}

// close closes the devices (which removes them) and ends the goroutines.
func (w *wanSwitch) close() {
	for _, f := range w.tuns {
		_ = f.Close()
	}
	w.readers.Wait()
	for _, q := range w.queues {
		close(q)
	}
	w.writers.Wait()
}
