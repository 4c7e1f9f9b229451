package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/node"
)

// TestDoubleSigningValidator runs agency-4's validator key in two processes
// at once: the network's four validators, plus a fifth `ledgerd start` from
// a copy of agency-4's home (the same priv_validator_key.json, a fresh
// priv_validator_state.json, a node key and ports of its own, peered to
// the four). Both sign as agency-4, and their conflicting votes must end up
// as DuplicateVoteEvidence committed in a block; every node's
// civicledger_misbehavior_total counts it for agency-4, the production
// EquivocationDetected alert fires on those series as scraped, `ledger
// audit` names agency-4 and fails, and the chain keeps committing with the
// same state on every node.
//
// Making the twin equivocate reliably: two signers of one key vote the same
// BlockID whenever both see the same proposal in time (their votes then
// differ only in timestamp, which CometBFT drops as a duplicate, not
// evidence). The twin therefore runs with a 1 ms timeout_propose: at nearly
// every height it gives up on the proposal before it arrives and prevotes
// nil, while agency-4's own node prevotes the proposed block, two prevotes
// for different BlockIDs at the same height and round. At agency-4's own
// proposer turns the two processes also propose two different blocks (each
// block's last commit carries its own process's precommit signature). An
// honest node that receives both votes (straight from the two processes,
// or when peers exchange the votes behind a +2/3 majority) reports them to
// its evidence pool, and the evidence is committed in one of the next
// blocks: in recorded runs, within 3 to 9 blocks of the twin joining. The
// three honest validators hold 3/4 of the power, so the chain commits
// whichever of agency-4's votes they count first.
//
// That timing is not guaranteed: a node that already holds a vote of its
// own key from the twin drops its own conflicting vote unsent ("found
// conflicting vote from ourselves"), and under load the twin's nil prevote
// often reaches agency-4's node first, so the honest nodes only ever see one
// of the two (a CI run saw 32 such drops in 50 blocks and no evidence). So
// that the checks below always run, the test also signs two conflicting
// prevotes of agency-4 at a committed height with agency-4's key, the pair
// a node turns into evidence, and hands them to agency-1 with CometBFT's
// broadcast_evidence; the evidence found may be either.
func TestDoubleSigningValidator(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	started := time.Now()
	ledgerCLI := buildLedgerCLI(t)
	procs, tn, clients := liveNet(t, ctx, "civic-dsign")
	a4 := tn.Agencies[3]
	a4addr := cmttypes.Address(cmted25519.PubKey(a4.ValidatorK).Address())

	tw := startTwin(t, ctx, tn, procs)
	all := append(append([]*client.Client{}, clients...), tw.c)
	joinedAt := liveMaxHeight(t, ctx, clients)
	liveWaitHeights(t, ctx, []*client.Client{tw.c}, joinedAt, 45*time.Second, "the twin of agency-4 catching up")
	t.Logf("twin of agency-4 caught up at height %d after %s", joinedAt, time.Since(started).Round(10*time.Millisecond))

	// DuplicateVoteEvidence against agency-4, committed in a block: the
	// twin's, or the pair signed here.
	injected := broadcastDuplicateVote(t, ctx, clients[0], tn, a4.Home, a4addr, joinedAt)
	evBlock, ev := waitDuplicateVote(t, ctx, clients[0], tw, a4addr, joinedAt, 2*time.Minute)
	if bytes.Equal(ev.Hash(), injected.Hash()) {
		t.Logf("the evidence committed is the pair signed by the test")
	} else {
		t.Logf("the evidence committed comes from the two processes' votes")
	}
	t.Logf("block %d commits evidence that agency-4 (%s) signed two %s votes at height %d round %d: %s and %s",
		evBlock, a4addr, strings.ToLower(strings.TrimPrefix(ev.VoteA.Type.String(), "SIGNED_MSG_TYPE_")), ev.VoteA.Height, ev.VoteA.Round, blockIDText(ev.VoteA.BlockID), blockIDText(ev.VoteB.BlockID))

	// The chain keeps committing with both signers running.
	liveWaitHeights(t, ctx, clients, evBlock+3, 30*time.Second, "the chain committing after the evidence, with the twin still signing")

	// The metric on every node counts the committed evidence for agency-4,
	// and nothing for anyone else.
	series := map[string][]promSeries{}
	for i, c := range all {
		name := fmt.Sprintf("agency-%d", i+1)
		metricsURL := tw.metrics
		if i < len(tn.Agencies) {
			metricsURL = tn.Agencies[i].Metrics
		} else {
			name = "agency-4-twin"
		}
		series[name] = checkMisbehaviorMetric(t, ctx, c, metricsURL, name, a4addr)
	}
	checkEquivocationAlert(t, series)

	// ledger audit, the CLI itself, with proofs from a trust root and a
	// witness: it names agency-4 and exits 1.
	checkAuditNamesAgency(t, ctx, ledgerCLI, tn, evBlock)

	// Stop the twin; the four validators go on, every node computed the
	// same state at every height.
	tw.stop(t)
	top := liveMaxHeight(t, ctx, clients)
	liveWaitHeights(t, ctx, clients, top+2, 30*time.Second, "the chain committing after the twin stopped")
	liveAgree(t, ctx, clients, 1, top+1)
	var n, nilVotes int
	for h := int64(1); h <= top+1; h++ {
		hh := h
		blk, err := clients[0].RPC().Block(ctx, &hh)
		if err != nil {
			t.Fatalf("block %d: %v", h, err)
		}
		for _, ev := range blk.Block.Evidence.Evidence {
			if dve, ok := ev.(*cmttypes.DuplicateVoteEvidence); ok {
				n++
				if dve.VoteA.BlockID.IsZero() || dve.VoteB.BlockID.IsZero() {
					nilVotes++
				}
			}
		}
	}
	t.Logf("blocks 1..%d hold %d pieces of evidence against agency-4 (%d of them a nil vote against a block vote)", top+1, n, nilVotes)
	t.Logf("double-signing run: evidence committed at %d, chain at %d, all 4 nodes agree; %s in all",
		evBlock, top+2, time.Since(started).Round(10*time.Millisecond))
}

// twin is the second process signing with agency-4's key.
type twin struct {
	home    string
	cmd     *exec.Cmd
	c       *client.Client
	metrics string
}

// startTwin makes a home from agency-4's (its config, genesis and validator
// key; a fresh signing state, node key and ports) and starts it, peered to
// the four nodes. It is started again with fresh ports if it cannot bind one.
func startTwin(t *testing.T, ctx context.Context, tn *node.Testnet, procs *processes) *twin {
	t.Helper()
	a4 := tn.Agencies[3]
	home := filepath.Join(procs.dir, "agency-4-twin")
	tw := &twin{home: home}
	t.Cleanup(func() {
		if tw.cmd != nil && tw.cmd.ProcessState == nil {
			_ = tw.cmd.Process.Signal(syscall.SIGTERM)
			_ = tw.cmd.Wait()
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(home, "node.log"))
			lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
			t.Logf("agency-4-twin node.log (last 25 lines):\n%s", strings.Join(lines[max(0, len(lines)-25):], "\n"))
		}
	})
	for attempt := 1; ; attempt++ {
		cfg, err := node.LoadConfig(a4.Home)
		if err != nil {
			t.Fatal(err)
		}
		_ = os.RemoveAll(home)
		for _, d := range []string{"config", "data"} {
			if err := os.MkdirAll(filepath.Join(home, d), 0o700); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range []string{"genesis.json", "priv_validator_key.json"} {
			b, err := os.ReadFile(filepath.Join(a4.Home, "config", f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(home, "config", f), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		// A signing state that has signed nothing: the twin signs every
		// height agency-4's own node signs.
		if err := os.WriteFile(filepath.Join(home, "data", "priv_validator_state.json"), []byte(`{"height":"0","round":0,"step":0}`), 0o600); err != nil {
			t.Fatal(err)
		}
		ports, err := node.FreePorts(3)
		if err != nil {
			t.Fatal(err)
		}
		cfg.SetRoot(home)
		cfg.RPC.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", ports[0])
		cfg.P2P.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", ports[1])
		cfg.Instrumentation.PrometheusListenAddr = fmt.Sprintf("127.0.0.1:%d", ports[2])
		// Peered to all four, agency-4's own node included.
		cfg.P2P.PersistentPeers = cfg.P2P.PersistentPeers + "," + a4.NodeID + "@" + a4.P2P
		// The twin's timing (see the test's comment): it prevotes nil at
		// any height whose proposal is not complete within 1 ms.
		cfg.Consensus.TimeoutPropose = time.Millisecond
		cfg.Consensus.TimeoutProposeDelta = time.Millisecond
		if err := node.WriteConfig(cfg); err != nil {
			t.Fatal(err)
		}
		if _, err := p2p.LoadOrGenNodeKey(cfg.NodeKeyFile()); err != nil {
			t.Fatal(err)
		}
		tw.c, err = client.New(fmt.Sprintf("http://127.0.0.1:%d", ports[0]))
		if err != nil {
			t.Fatal(err)
		}
		tw.metrics = fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[2])

		logf, err := os.OpenFile(filepath.Join(home, "node.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		tw.cmd = exec.Command(ledgerdBin, "start", "--home", home)
		tw.cmd.Stdout, tw.cmd.Stderr = logf, logf
		err = tw.cmd.Start()
		logf.Close()
		if err != nil {
			t.Fatal(err)
		}
		msg := waitTwinStarted(t, ctx, tw, 60*time.Second)
		if msg == "" {
			return tw
		}
		_ = tw.cmd.Process.Signal(syscall.SIGTERM)
		_ = tw.cmd.Wait()
		if attempt == 3 {
			t.Fatalf("the twin of agency-4 could not bind its ports 3 times; last: %s", msg)
		}
		t.Logf("twin attempt %d: %s; again with fresh ports", attempt, msg)
	}
}

// waitTwinStarted waits until the twin's RPC answers and it has all 4 peers; it
// returns the log line if it could not bind a port.
func waitTwinStarted(t *testing.T, ctx context.Context, tw *twin, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		b, _ := os.ReadFile(filepath.Join(tw.home, "node.log"))
		if bytes.Contains(b, []byte("bind: address already in use")) {
			return liveLastLine(b, "bind: address already in use")
		}
		nctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ni, err := tw.c.RPC().NetInfo(nctx)
		cancel()
		// All four peers: the twin's conflicting votes must reach agencies
		// 1-3 (agency-4's own node ignores a conflicting vote of its key), or
		// no node makes evidence of them.
		if err == nil && ni.NPeers >= 4 {
			return ""
		}
		if tw.cmd.ProcessState != nil || time.Now().After(deadline) || ctx.Err() != nil {
			peers := -1
			if ni != nil {
				peers = ni.NPeers
			}
			t.Fatalf("the twin of agency-4 did not answer RPC with its 4 peers within %s (%d peers): %v", timeout, peers, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (tw *twin) stop(t *testing.T) {
	t.Helper()
	if err := tw.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = tw.cmd.Wait()
}

// waitDuplicateVote scans the blocks from `from` on, as c serves them, for
// DuplicateVoteEvidence against addr and returns the first block holding
// one. On timeout it says how often each node's log saw conflicting votes.
func waitDuplicateVote(t *testing.T, ctx context.Context, c *client.Client, tw *twin, addr cmttypes.Address, from int64, timeout time.Duration) (int64, *cmttypes.DuplicateVoteEvidence) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	h := from
	for {
		st, err := liveStatus(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		for ; h <= st.SyncInfo.LatestBlockHeight; h++ {
			hh := h
			blk, err := c.RPC().Block(ctx, &hh)
			if err != nil {
				t.Fatalf("block %d: %v", h, err)
			}
			for _, ev := range blk.Block.Evidence.Evidence {
				dve, ok := ev.(*cmttypes.DuplicateVoteEvidence)
				if ok && bytes.Equal(dve.VoteA.ValidatorAddress, addr) {
					return h, dve
				}
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			var logs []string
			for _, home := range twinAndNodeHomes(tw) {
				b, _ := os.ReadFile(filepath.Join(home, "node.log"))
				logs = append(logs, fmt.Sprintf("%s: %d \"conflicting vote from ourselves\", %d \"verified new evidence\", %d \"Precommitting nil\"",
					filepath.Base(home), bytes.Count(b, []byte("found conflicting vote from ourselves")),
					bytes.Count(b, []byte("erified new evidence of byzantine behavior")), bytes.Count(b, []byte("Precommitting nil"))))
			}
			t.Fatalf("no DuplicateVoteEvidence against agency-4 in blocks %d..%d within %s; logs: %s", from, h-1, timeout, strings.Join(logs, "; "))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// broadcastDuplicateVote signs two prevotes of agency-4 for height h, round
// 0, one for block h and one for nil, with agency-4's validator key (home
// a4home), and hands them to c as DuplicateVoteEvidence (broadcast_evidence);
// the evidence pool verifies them against the validator set and block time
// of h before any block may carry them.
func broadcastDuplicateVote(t *testing.T, ctx context.Context, c *client.Client, tn *node.Testnet, a4home string, addr cmttypes.Address, h int64) *cmttypes.DuplicateVoteEvidence {
	t.Helper()
	pv := privval.LoadFilePVEmptyState(filepath.Join(a4home, "config", "priv_validator_key.json"), "")
	blk, err := c.RPC().Block(ctx, &h)
	if err != nil {
		t.Fatalf("block %d: %v", h, err)
	}
	perPage := 100
	vals, err := c.RPC().Validators(ctx, &h, nil, &perPage)
	if err != nil {
		t.Fatalf("validators at %d: %v", h, err)
	}
	valSet := cmttypes.NewValidatorSet(vals.Validators)
	idx, _ := valSet.GetByAddress(addr)
	if idx < 0 {
		t.Fatalf("agency-4 (%s) is not in the validator set at height %d", addr, h)
	}
	vote := func(id cmttypes.BlockID) *cmttypes.Vote {
		v := &cmttypes.Vote{Type: cmtproto.PrevoteType, Height: h, Round: 0, BlockID: id, Timestamp: blk.Block.Time,
			ValidatorAddress: addr, ValidatorIndex: idx}
		sig, err := pv.Key.PrivKey.Sign(cmttypes.VoteSignBytes(tn.ChainID, v.ToProto()))
		if err != nil {
			t.Fatal(err)
		}
		v.Signature = sig
		return v
	}
	ev, err := cmttypes.NewDuplicateVoteEvidence(vote(blk.BlockID), vote(cmttypes.BlockID{}), blk.Block.Time, valSet)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RPC().BroadcastEvidence(ctx, ev); err != nil {
		t.Fatalf("broadcast_evidence of agency-4's two prevotes at height %d: %v", h, err)
	}
	return ev
}

func twinAndNodeHomes(tw *twin) []string {
	dir := filepath.Dir(tw.home)
	var out []string
	for i := 1; i <= 4; i++ {
		out = append(out, filepath.Join(dir, fmt.Sprintf("agency-%d", i)))
	}
	return append(out, tw.home)
}

func blockIDText(id cmttypes.BlockID) string {
	if id.IsZero() {
		return "nil"
	}
	return fmt.Sprintf("block %X", id.Hash)
}

// countDuplicateVotes counts the DuplicateVoteEvidence against addr in
// blocks 1..to as c serves them.
func countDuplicateVotes(t *testing.T, ctx context.Context, c *client.Client, addr cmttypes.Address, to int64) (mine, others int) {
	t.Helper()
	for h := int64(1); h <= to; h++ {
		hh := h
		blk, err := c.RPC().Block(ctx, &hh)
		if err != nil {
			t.Fatalf("block %d: %v", h, err)
		}
		for _, ev := range blk.Block.Evidence.Evidence {
			if dve, ok := ev.(*cmttypes.DuplicateVoteEvidence); ok && bytes.Equal(dve.VoteA.ValidatorAddress, addr) {
				mine++
			} else {
				others++
			}
		}
	}
	return mine, others
}

// promSeries is one scraped series of civicledger_misbehavior_total.
type promSeries struct {
	labels map[string]string
	value  float64
}

// checkMisbehaviorMetric scrapes a node's Prometheus endpoint: its
// civicledger_misbehavior_total must count, for agency-4 and
// duplicate_vote, exactly the evidence committed on chain between the
// node's height before and after the scrape, and no other agency or type.
func checkMisbehaviorMetric(t *testing.T, ctx context.Context, c *client.Client, metricsURL, name string, addr cmttypes.Address) []promSeries {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		before := liveMaxHeight(t, ctx, []*client.Client{c})
		_, fams := scrape(t, metricsURL)
		after := liveMaxHeight(t, ctx, []*client.Client{c})
		lo, others := countDuplicateVotes(t, ctx, c, addr, before-1)
		hi, _ := countDuplicateVotes(t, ctx, c, addr, after)
		if others != 0 {
			t.Fatalf("%s: the chain holds %d pieces of evidence against validators other than agency-4", name, others)
		}
		var got []promSeries
		var v4 float64
		if mf := fams["civicledger_misbehavior_total"]; mf != nil {
			for _, m := range mf.GetMetric() {
				s := promSeries{labels: map[string]string{}, value: m.GetCounter().GetValue()}
				for _, lp := range m.GetLabel() {
					s.labels[lp.GetName()] = lp.GetValue()
				}
				if s.labels["agency"] != "agency-4" || s.labels["type"] != "duplicate_vote" {
					t.Fatalf("%s: civicledger_misbehavior_total%v = %v: misbehaviour counted for another agency or type", name, s.labels, s.value)
				}
				v4 = s.value
				got = append(got, s)
			}
		}
		if v4 >= float64(lo) && v4 <= float64(hi) && v4 > 0 {
			t.Logf("%s: civicledger_misbehavior_total{agency=\"agency-4\",type=\"duplicate_vote\"} = %v (evidence on chain: %d up to block %d, %d up to %d)", name, v4, lo, before-1, hi, after)
			return got
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%s: civicledger_misbehavior_total{agency=\"agency-4\",type=\"duplicate_vote\"} = %v, want between %d (evidence in blocks up to %d) and %d (up to %d), and above 0",
				name, v4, lo, before-1, hi, after)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// checkEquivocationAlert runs the production alert rules under `promtool
// test rules` on the series scraped from every node, labelled as the
// deployed scrape configuration labels them (job, instance, node): each
// appears after 10 minutes without it, and EquivocationDetected must fire
// once, for agency-4 and duplicate_vote.
func checkEquivocationAlert(t *testing.T, series map[string][]promSeries) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found (make deps installs Debian's prometheus package)")
	}
	rules, err := filepath.Abs(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	var in strings.Builder
	names := make([]string, 0, len(series))
	for n := range series {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, n := range names {
		for _, s := range series[n] {
			lbl := map[string]string{"job": "civicledger", "instance": fmt.Sprintf("127.0.0.1:%d", 26660+i), "node": n}
			for k, v := range s.labels {
				lbl[k] = v
			}
			keys := make([]string, 0, len(lbl))
			for k := range lbl {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var parts []string
			for _, k := range keys {
				parts = append(parts, fmt.Sprintf("%s=%q", k, lbl[k]))
			}
			fmt.Fprintf(&in, "      - series: '%s{%s}'\n        values: '_x10 %vx10'\n", "civicledger_misbehavior_total", strings.Join(parts, ","), s.value)
		}
	}
	test := fmt.Sprintf(`rule_files: [%q]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
%s    alert_rule_test:
      - eval_time: 5m
        alertname: EquivocationDetected
        exp_alerts: []
      - eval_time: 12m
        alertname: EquivocationDetected
        exp_alerts:
          - exp_labels: {severity: critical, agency: agency-4, type: duplicate_vote}
            exp_annotations:
              summary: "Misbehaviour (duplicate_vote) by the validator of agency-4"
              description: "The chain recorded evidence of duplicate_vote by the validator of agency-4 in the last 5 minutes."
`, rules, in.String())
	f := filepath.Join(t.TempDir(), "equivocation_test.yml")
	if err := os.WriteFile(f, []byte(test), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "test", "rules", f).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules on the scraped series: %v\n%s\ntest file:\n%s", err, out, test)
	}
	t.Logf("EquivocationDetected fires once, for agency-4, on the series scraped from %d nodes", len(series))
}

var (
	ledgerCLIOnce sync.Once
	ledgerCLIPath string
	ledgerCLIErr  error
)

// buildLedgerCLI builds the `ledger` command once per test binary.
func buildLedgerCLI(t *testing.T) string {
	t.Helper()
	ledgerCLIOnce.Do(func() {
		ledgerCLIPath = filepath.Join(filepath.Dir(ledgerdBin), "ledger")
		out, err := exec.Command("go", "build", "-o", ledgerCLIPath, "../ledger").CombinedOutput()
		if err != nil {
			ledgerCLIErr = fmt.Errorf("build ledger: %v\n%s", err, out)
		}
	})
	if ledgerCLIErr != nil {
		t.Fatal(ledgerCLIErr)
	}
	return ledgerCLIPath
}

// checkAuditNamesAgency runs `ledger trust init` from the genesis file and
// `ledger audit` against agency-1 with agency-2 as witness, as an auditor
// would: the audit must exit 1, and both its text and JSON reports must
// name agency-4's validator with the evidence committed in block evBlock.
func checkAuditNamesAgency(t *testing.T, ctx context.Context, cli string, tn *node.Testnet, evBlock int64) {
	t.Helper()
	home := t.TempDir()
	ledger := func(args ...string) (string, string, int) {
		cmd := exec.CommandContext(ctx, cli, append([]string{"--home", home, "--node", tn.Agencies[0].RPC}, args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("ledger %s: %v", strings.Join(args, " "), err)
		}
		return stdout.String(), stderr.String(), code
	}
	if out, errOut, code := ledger("trust", "init", "--genesis", tn.Genesis); code != 0 {
		t.Fatalf("ledger trust init: exit %d\n%s%s", code, out, errOut)
	}
	witness := []string{"--witness", tn.Agencies[1].RPC}
	out, errOut, code := ledger(append([]string{"audit", "-o", "json"}, witness...)...)
	if code != 1 {
		t.Fatalf("ledger audit -o json: exit %d, want 1 (misbehaviour)\n%s%s", code, out, errOut)
	}
	var rep struct {
		Height       int64  `json:"height"`
		Verified     bool   `json:"verified"`
		Result       string `json:"result"`
		Misbehaviour struct {
			From, To int64
			Evidence []client.Misbehaviour `json:"evidence"`
		} `json:"misbehaviour"`
		Discrepancies []client.Discrepancy `json:"discrepancies"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("ledger audit -o json: %v\n%s", err, out)
	}
	if rep.Result != "MISBEHAVIOUR" || !rep.Verified || len(rep.Discrepancies) != 0 {
		t.Fatalf("ledger audit: result %q, verified %t, discrepancies %+v; want MISBEHAVIOUR, verified, none", rep.Result, rep.Verified, rep.Discrepancies)
	}
	var found *client.Misbehaviour
	for i, m := range rep.Misbehaviour.Evidence {
		if m.Agency != "agency-4" || m.Type != "duplicate_vote" || !m.Verified {
			t.Fatalf("ledger audit: evidence %+v is not a verified duplicate vote by agency-4", m)
		}
		if m.Block == evBlock {
			found = &rep.Misbehaviour.Evidence[i]
		}
	}
	if found == nil {
		t.Fatalf("ledger audit at height %d (blocks %d..%d) lacks the evidence of block %d: %+v", rep.Height, rep.Misbehaviour.From, rep.Misbehaviour.To, evBlock, rep.Misbehaviour.Evidence)
	}
	text, errOut, code := ledger(append([]string{"audit", "--height", fmt.Sprint(rep.Height)}, witness...)...)
	if code != 1 || !strings.Contains(text, "MISBEHAVIOUR") || !strings.Contains(text, "agency-4") || !strings.Contains(errOut, "agency-4") {
		t.Fatalf("ledger audit (text): exit %d, want 1 with MISBEHAVIOUR naming agency-4\n%s%s", code, text, errOut)
	}
	t.Logf("ledger audit at height %d: %d pieces of evidence, all by agency-4; exit 1:\n%s", rep.Height, len(rep.Misbehaviour.Evidence), grepLines([]byte(text), "  "))
}
