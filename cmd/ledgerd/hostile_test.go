package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/node"
)

// Hostile clients against one validator's public RPC, with every validator
// a real `ledgerd start` process.

// hostileClients is the number of concurrent hostile connections the test
// holds against one node's RPC, split between the kinds below.
const (
	hostileQueriers  = 600 // loop over reads: status, abci_query, blocks, tx_search
	hostileSlowloris = 200 // open a request and send one header byte a second, never finishing
	hostileOversize  = 100 // POST bodies larger than rpc.max_body_bytes (1 MB)
	hostileGarbage   = 100 // broadcast_tx_sync of malformed transactions
	hostileClients   = hostileQueriers + hostileSlowloris + hostileOversize + hostileGarbage
)

// TestHostileClients holds 1,000 hostile connections against agency-1's
// RPC for 20 s — readers looping over expensive queries, slowloris
// requests, oversize bodies and malformed transactions — while officers of
// all four agencies submit real transactions through the other nodes. The
// chain keeps producing blocks and committing the officers' transactions
// throughout, every oversize body and malformed transaction is refused
// with an error (none is executed), agency-1 follows the chain and signs
// blocks again once the attack stops, and its RPC answers an ordinary
// client again. The block intervals before and during the attack, and how
// many blocks agency-1 signed during it, are logged (docs/reliability.md
// records them); they are not asserted, as timings on a shared machine are
// not a test. A validator that serves a flood of reads from its own process
// misses votes: its public RPC belongs behind a rate-limiting proxy, on a
// full node (TestHostileClientsBehindProxy, docs/public-node.md).
func TestHostileClients(t *testing.T) {
	r := hostileRun(t, "civic-hostile", false)
	if r.stats.queries.Load() == 0 {
		t.Fatal("no hostile query was answered (the attack did not run)")
	}
	if r.stats.oversizeRefused.Load() == 0 {
		t.Fatal("no oversize request reached the node (the attack did not run)")
	}
	if r.stats.garbageRefused.Load() == 0 {
		t.Fatal("no malformed transaction was refused (the attack did not run)")
	}
}

// TestHostileClientsBehindProxy runs the same attack against agency-1's RPC
// through nginx with the project's public-endpoint configuration
// (deploy/nginx/civic-ledger-rpc.conf): the proxy refuses most of the flood
// (429, 403, 413), slow clients are cut off, agency-1's validator keeps
// signing at least half the blocks during the attack (without the proxy it
// signs next to none on the test machine), and the CLI's client reads
// through the proxy once the flood stops.
func TestHostileClientsBehindProxy(t *testing.T) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		if os.Getuid() != 0 {
			t.Skip("nginx is not installed (make deps installs it as root)")
		}
		t.Fatal("nginx is not installed: make deps installs it")
	}
	r := hostileRun(t, "civic-proxy", true, nginx)
	if r.stats.limited.Load() == 0 || r.stats.forbidden.Load() == 0 {
		t.Fatalf("the proxy limited %d and forbade %d requests: its limits did not apply", r.stats.limited.Load(), r.stats.forbidden.Load())
	}
	if r.stats.slowHeld.Load() > 0 {
		t.Fatalf("the proxy held %d slowloris connections for the whole attack", r.stats.slowHeld.Load())
	}
	if r.signed*2 < r.blocks {
		t.Fatalf("behind the proxy agency-1's validator signed only %d of the %d blocks committed during the attack", r.signed, r.blocks)
	}

	// The client the CLI uses (JSON-RPC over POST) reads through the proxy.
	pc, err := client.New(r.url)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		qctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		_, err := pc.RPC().Status(qctx)
		if err == nil {
			_, err = pc.RPC().ABCIInfo(qctx)
		}
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the client cannot read through the proxy 30 s after the attack: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// hostileResult is what hostileRun saw.
type hostileResult struct {
	stats          *hostileStats
	signed, blocks int    // agency-1's signatures in the blocks committed during the attack
	url            string // the attacked endpoint
}

// hostileRun starts 4 validators, officers' load through agencies 2-4, and
// the attack on agency-1's RPC, directly or (proxied, with nginx's path)
// through nginx; it checks what holds either way and returns the counts.
func hostileRun(t *testing.T, chainID string, proxied bool, nginx ...string) hostileResult {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	_, tn, clients := liveNet(t, ctx, chainID)
	target, others := clients[0], clients[1:]

	u, err := url.Parse(tn.Agencies[0].RPC)
	if err != nil {
		t.Fatal(err)
	}
	host := u.Host
	if proxied {
		host = startNginx(t, nginx[0], u.Host)
	}

	load := startLiveLoad(t, ctx, tn, others, "H")
	defer load.stop()
	load.waitCommitted(t, ctx, 4, 0, 30*time.Second, "before the attack")

	// Baseline: block intervals over a few seconds of normal load.
	baseFrom := liveMaxHeight(t, ctx, others)
	sleepCtx(ctx, 6*time.Second)
	baseTo := liveMaxHeight(t, ctx, others)

	atk := startHostile(ctx, host)
	attackFrom := liveMaxHeight(t, ctx, others)
	committedBefore := load.count(0)
	const attackFor = 20 * time.Second
	sleepCtx(ctx, attackFor)
	attackTo := liveMaxHeight(t, ctx, others)
	committedDuring := load.count(0) - committedBefore
	chainH := liveHeights(t, ctx, others[:1])[0]
	stats := atk.stop()
	t.Logf("attack on %s: %s", host, stats)

	// Block production went on: the other nodes committed blocks and the
	// officers' transactions during the attack.
	if attackTo-attackFrom < 5 {
		t.Fatalf("only %d blocks (heights %d..%d) committed during %s of attack", attackTo-attackFrom, attackFrom, attackTo, attackFor)
	}
	if committedDuring < 5 {
		t.Fatalf("only %d officers' txs committed during %s of attack", committedDuring, attackFor)
	}

	// No oversize body nor malformed tx was executed.
	if stats.oversizeAccepted.Load() > 0 {
		t.Fatalf("%d oversize request bodies were answered with a result", stats.oversizeAccepted.Load())
	}
	if stats.garbageAccepted.Load() > 0 {
		t.Fatalf("%d malformed transactions passed CheckTx", stats.garbageAccepted.Load())
	}

	// The attacked validator kept following the chain, and signs blocks once
	// the attack is over.
	liveWaitHeights(t, ctx, clients[:1], chainH, 30*time.Second, "agency-1 after the attack")
	liveWaitSigned(t, ctx, others[0], target, tn.Agencies[0], attackTo, 30*time.Second)
	signed, blocks := signedCount(t, ctx, others[0], tn.Agencies[0], attackFrom+1, attackTo)
	t.Logf("agency-1's validator signed %d of the %d blocks committed during the attack", signed, blocks)

	// And its RPC serves an ordinary client again.
	deadline := time.Now().Add(30 * time.Second)
	for {
		qctx, qcancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := target.RPC().Status(qctx)
		qcancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("agency-1's RPC does not answer 30 s after the attack: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	base := blockIntervals(t, ctx, others[0], baseFrom, baseTo)
	during := blockIntervals(t, ctx, others[0], attackFrom, attackTo)
	t.Logf("block interval, median (max): before %s (%s) over %d blocks; during the attack %s (%s) over %d blocks",
		median(base), slices.Max(append(base, 0)), len(base), median(during), slices.Max(append(during, 0)), len(during))

	txs, _, common := liveSettle(t, ctx, load, clients, 30*time.Second)
	t.Logf("%d officers' txs committed in all, each on all 4 nodes; same state up to height %d", len(txs), common-1)
	return hostileResult{stats: stats, signed: signed, blocks: blocks, url: "http://" + host}
}

// startNginx runs nginx with deploy/nginx/civic-ledger-rpc.conf in front of
// the RPC at upstream (host:port), on a free loopback port, until the test
// ends; it returns nginx's host:port.
func startNginx(t *testing.T, nginx, upstream string) string {
	t.Helper()
	site, err := os.ReadFile(filepath.Join("..", "..", "deploy", "nginx", "civic-ledger-rpc.conf"))
	if err != nil {
		t.Fatal(err)
	}
	ports, err := node.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	listen := fmt.Sprintf("127.0.0.1:%d", ports[0])
	conf := string(site)
	for old, repl := range map[string]string{"listen 8080;": "listen " + listen + ";", "server 127.0.0.1:26657 ": "server " + upstream + " "} {
		if !strings.Contains(conf, old) {
			t.Fatalf("deploy/nginx/civic-ledger-rpc.conf no longer has %q", old)
		}
		conf = strings.Replace(conf, old, repl, 1)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "site.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// The main configuration of a test instance: its own pid, logs and
	// temporary files; workers as the user running the test (nginx started
	// as root would switch to nobody, who cannot write the test's files).
	user := ""
	if os.Getuid() == 0 {
		user = "user root;\n"
	}
	main := fmt.Sprintf(`%sworker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path %[2]s/body;
	proxy_temp_path %[2]s/proxy;
	fastcgi_temp_path %[2]s/fastcgi;
	uwsgi_temp_path %[2]s/uwsgi;
	scgi_temp_path %[2]s/scgi;
	include %[2]s/site.conf;
}
`, user, dir)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nginx, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-g", "daemon off;")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", listen, time.Second)
		if err == nil {
			conn.Close()
			return listen
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx does not listen on %s: %v\n%s%s", listen, err, out.String(), log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// signedCount returns how many of the canonical commits of blocks from..to
// (read from c) carry a's validator signature, and how many blocks that is.
func signedCount(t *testing.T, ctx context.Context, c *client.Client, a node.AgencyHome, from, to int64) (signed, blocks int) {
	t.Helper()
	addr := cmted25519.PubKey(a.ValidatorK).Address()
	for h := from; h <= to; h++ {
		com, err := c.RPC().Commit(ctx, &h)
		if err != nil {
			t.Fatalf("commit %d: %v", h, err)
		}
		blocks++
		for _, sig := range com.Commit.Signatures {
			if sig.BlockIDFlag == cmttypes.BlockIDFlagCommit && bytes.Equal(sig.ValidatorAddress, addr) {
				signed++
				break
			}
		}
	}
	return signed, blocks
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// blockIntervals returns the intervals between the header times of blocks
// from..to.
func blockIntervals(t *testing.T, ctx context.Context, c *client.Client, from, to int64) []time.Duration {
	t.Helper()
	var times []time.Time
	for lo := from; lo <= to; lo += 20 {
		hi := min(lo+19, to)
		res, err := c.RPC().BlockchainInfo(ctx, lo, hi)
		if err != nil {
			t.Fatalf("blockchain %d..%d: %v", lo, hi, err)
		}
		for _, m := range res.BlockMetas {
			times = append(times, m.Header.Time)
		}
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	var out []time.Duration
	for i := 1; i < len(times); i++ {
		out = append(out, times[i].Sub(times[i-1]))
	}
	return out
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2].Round(time.Millisecond)
}

// hostile is a running attack on one RPC address.
type hostile struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	hostileStats
}

type hostileStats struct {
	queries, queryErrors              atomic.Int64
	limited                           atomic.Int64 // answered 429 (rate or connection limit) or 502 (proxy's node limit)
	forbidden                         atomic.Int64 // answered 403 (a route the proxy does not serve)
	slowHeld, slowDropped             atomic.Int64
	oversizeRefused, oversizeAccepted atomic.Int64
	garbageRefused, garbageAccepted   atomic.Int64
	connectFailures                   atomic.Int64
}

func (s *hostileStats) String() string {
	return fmt.Sprintf("%d hostile connections: %d queries answered, %d query errors, %d limited (429/502), %d forbidden (403); "+
		"slowloris %d held to the end, %d dropped by the server; "+
		"oversize bodies %d refused, %d answered; malformed txs %d refused, %d accepted; %d connection failures",
		hostileClients, s.queries.Load(), s.queryErrors.Load(), s.limited.Load(), s.forbidden.Load(), s.slowHeld.Load(), s.slowDropped.Load(),
		s.oversizeRefused.Load(), s.oversizeAccepted.Load(), s.garbageRefused.Load(), s.garbageAccepted.Load(), s.connectFailures.Load())
}

// startHostile starts hostileClients connections against the RPC server
// at host (host:port).
func startHostile(ctx context.Context, host string) *hostile {
	actx, cancel := context.WithCancel(ctx)
	h := &hostile{cancel: cancel}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: hostileClients, MaxConnsPerHost: 0,
		ResponseHeaderTimeout: 30 * time.Second}}
	base := "http://" + host
	queries := []string{
		"/status",
		"/abci_info",
		`/abci_query?path="/store/records/key"&data=0x00&prove=true`,
		"/block",
		"/blockchain",
		"/validators",
		`/tx_search?query="tx.height>0"&per_page=100`,
		"/net_info",
	}
	run := func(n int, f func(i int)) {
		for i := range n {
			h.wg.Add(1)
			go func() {
				defer h.wg.Done()
				f(i)
			}()
		}
	}
	run(hostileQueriers, func(i int) {
		for j := i; actx.Err() == nil; j++ {
			req, _ := http.NewRequestWithContext(actx, http.MethodGet, base+queries[j%len(queries)], nil)
			resp, err := hc.Do(req)
			if err != nil {
				if actx.Err() == nil {
					h.queryErrors.Add(1)
					sleepCtx(actx, 50*time.Millisecond)
				}
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			h.count(resp.StatusCode)
		}
	})
	run(hostileSlowloris, func(int) {
		conn, err := (&net.Dialer{}).DialContext(actx, "tcp", host)
		if err != nil {
			h.connectFailures.Add(1)
			return
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, "GET /status HTTP/1.1\r\nHost: "+host+"\r\n"); err != nil {
			h.slowDropped.Add(1)
			return
		}
		for actx.Err() == nil {
			if _, err := conn.Write([]byte("X")); err != nil {
				h.slowDropped.Add(1)
				return
			}
			sleepCtx(actx, time.Second)
		}
		h.slowHeld.Add(1)
	})
	big := bytes.Repeat([]byte("A"), 2<<20)
	run(hostileOversize, func(int) {
		for actx.Err() == nil {
			body := io.MultiReader(strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"broadcast_tx_sync","params":{"tx":"`),
				bytes.NewReader(big), strings.NewReader(`"}}`))
			req, _ := http.NewRequestWithContext(actx, http.MethodPost, base, body)
			req.Header.Set("Content-Type", "application/json")
			resp, err := hc.Do(req)
			if err != nil {
				if actx.Err() == nil {
					h.oversizeRefused.Add(1) // the node closed the connection
				}
				sleepCtx(actx, 200*time.Millisecond)
				continue
			}
			if rpcResult(resp) {
				h.oversizeAccepted.Add(1)
			} else {
				h.oversizeRefused.Add(1)
			}
			sleepCtx(actx, 200*time.Millisecond)
		}
	})
	run(hostileGarbage, func(i int) {
		for j := 0; actx.Err() == nil; j++ {
			tx := fmt.Appendf(nil, `{"body":"not a transaction %d-%d","signatures":[]}`, i, j)
			resp, err := hc.Get(base + "/broadcast_tx_sync?tx=0x" + hex.EncodeToString(tx))
			if err != nil {
				if actx.Err() == nil {
					h.queryErrors.Add(1)
					sleepCtx(actx, 50*time.Millisecond)
				}
				continue
			}
			if resp.StatusCode != http.StatusOK {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				h.count(resp.StatusCode)
				continue
			}
			code, ok := checkTxCode(resp)
			switch {
			case !ok:
				h.queryErrors.Add(1)
			case code == 0:
				h.garbageAccepted.Add(1)
			default:
				h.garbageRefused.Add(1)
			}
		}
	})
	return h
}

// count counts an answer to a query by its status.
func (h *hostile) count(status int) {
	switch status {
	case http.StatusOK:
		h.queries.Add(1)
	case http.StatusTooManyRequests, http.StatusBadGateway:
		h.limited.Add(1)
	case http.StatusForbidden:
		h.forbidden.Add(1)
	default:
		h.queryErrors.Add(1)
	}
}

// stop ends the attack and returns its counts.
func (h *hostile) stop() *hostileStats {
	h.cancel()
	h.wg.Wait()
	return &h.hostileStats
}

// rpcResult reports whether resp is a JSON-RPC answer with a result (not an
// error); it closes the body.
func rpcResult(resp *http.Response) bool {
	defer resp.Body.Close()
	var r struct {
		Result json.RawMessage `json:"result"`
		Error  json.RawMessage `json:"error"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(bufio.NewReader(resp.Body)).Decode(&r) != nil {
		return false
	}
	return len(r.Result) > 0 && string(r.Result) != "null" && len(r.Error) == 0
}

// checkTxCode returns the CheckTx code of a broadcast_tx_sync answer; ok is
// false when the answer is not one.
func checkTxCode(resp *http.Response) (code uint32, ok bool) {
	defer resp.Body.Close()
	var r struct {
		Result *struct {
			Code uint32 `json:"code"`
		} `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.Result == nil {
		return 0, false
	}
	return r.Result.Code, true
}
