package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtjson "github.com/cometbft/cometbft/libs/json"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	jsonrpcclient "github.com/cometbft/cometbft/rpc/jsonrpc/client"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/node"
)

// `ledgerd bench --processes`: each validator runs as its own
// `ledgerd start` child process, as agencies deploy, while the load
// generator, the pre-fill and the report stay in the bench process.

// benchStopGrace is how long a validator process has to stop after
// SIGTERM before it is killed.
const benchStopGrace = 15 * time.Second

// benchProc is one validator's `ledgerd start` process.
type benchProc struct {
	agency, home, log string
	cmd               *exec.Cmd
	exited            chan struct{} // closed once it has exited
	err               error         // its exit status, once exited
}

// startProcs writes each validator's config (the in-process network's
// settings: no PEX, no metrics, and tweak) into its home and starts
// `ledgerd start --home H` for each, with --bench-app for kvstore, its
// output going to node.log in its home; it waits until every validator has
// committed a block. The processes are stopped by close.
func (r *benchRun) startProcs(ctx context.Context, tweak func(int, *node.Config)) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	for i, a := range r.tn.Agencies {
		cfg, err := node.LoadConfig(a.Home)
		if err != nil {
			return err
		}
		cfg.P2P.PexReactor = false
		cfg.Instrumentation.Prometheus = false
		tweak(i, cfg)
		if err := node.WriteConfig(cfg); err != nil {
			return err
		}
	}
	r.onClose(r.stopProcs)
	for _, a := range r.tn.Agencies {
		p := &benchProc{agency: a.ID, home: a.Home, log: filepath.Join(a.Home, "node.log"), exited: make(chan struct{})}
		logf, err := os.Create(p.log)
		if err != nil {
			return err
		}
		args := []string{"start", "--home", a.Home}
		if r.o.app == "kvstore" {
			args = append(args, "--bench-app", "kvstore")
		}
		p.cmd = exec.Command(exe, args...)
		p.cmd.Stdout, p.cmd.Stderr = logf, logf
		p.cmd.SysProcAttr = childAttr()
		if err := p.cmd.Start(); err != nil {
			_ = logf.Close()
			return fmt.Errorf("start %s's node: %w", a.ID, err)
		}
		_ = logf.Close() // the child has its own copy
		go func() {
			p.err = p.cmd.Wait()
			close(p.exited)
		}()
		r.procs = append(r.procs, p)
	}
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for k, p := range r.procs {
		if err := p.waitHeight(sctx, r.urls[k], 1); err != nil {
			return err
		}
	}
	return nil
}

// waitHeight waits until the node at url has committed height h, failing
// if its process exits first.
func (p *benchProc) waitHeight(ctx context.Context, url string, h int64) error {
	c, err := client.New(url)
	if err != nil {
		return err
	}
	for {
		st, err := c.Status(ctx)
		if err == nil && st.SyncInfo.LatestBlockHeight >= h {
			return nil
		}
		select {
		case <-p.exited:
			return p.exitError()
		case <-ctx.Done():
			return fmt.Errorf("%s's node did not reach height %d (%v); the end of %s:\n%s", p.agency, h, ctx.Err(), p.log, logTail(p.log, 20))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// exitError says that p exited, how, and the end of its log.
func (p *benchProc) exitError() error {
	return fmt.Errorf("%s's node process exited (%v); the end of %s:\n%s", p.agency, p.err, p.log, logTail(p.log, 20))
}

// logTail is the last n lines of the file at path.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// stopProcs sends every validator process SIGTERM, and SIGKILL to those
// still running benchStopGrace later, and waits until all have exited.
func (r *benchRun) stopProcs() {
	for _, p := range r.procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	kill := time.After(benchStopGrace)
	for _, p := range r.procs {
		select {
		case <-p.exited:
		case <-kill:
			r.logf("%s's node did not stop within %s of SIGTERM: killing it", p.agency, benchStopGrace)
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
	if len(r.procs) > 0 {
		r.logf("node processes stopped")
	}
	r.procs = nil
}

// benchBlockEvent is a committed block and when the bench learnt of it.
// With --processes only its height and number of txs come with it (a
// NewBlockEvents event, whose JSON is cheap to decode, so that following
// every validator's blocks costs the bench process little CPU beside the
// nodes'); txs and results are then nil, and blockContents fetches them.
type benchBlockEvent struct {
	at      time.Time
	height  int64
	numTxs  int
	txs     cmttypes.Txs
	results []*abci.ExecTxResult
}

// blockFeed streams validator k's committed blocks (its NewBlock events,
// published after the app's Commit), subscribed as name, until ctx ends:
// in-process from the node's event bus, with --processes over its RPC
// websocket. The channel closes when ctx ends, or earlier when the feed
// breaks (the subscription ends, the node process exits), and then errf
// says why.
func (r *benchRun) blockFeed(ctx context.Context, k int, name string) (feed <-chan benchBlockEvent, errf func() error, err error) {
	out := make(chan benchBlockEvent, 1024)
	var mu sync.Mutex
	var ferr error
	fail := func(err error) {
		mu.Lock()
		ferr = err
		mu.Unlock()
	}
	errf = func() error {
		mu.Lock()
		defer mu.Unlock()
		return ferr
	}
	forward := func(at time.Time, data any) bool {
		var be benchBlockEvent
		switch d := data.(type) {
		case cmttypes.EventDataNewBlock:
			be = benchBlockEvent{at: at, height: d.Block.Height, numTxs: len(d.Block.Txs), txs: d.Block.Txs, results: d.ResultFinalizeBlock.TxResults}
		case cmttypes.EventDataNewBlockEvents:
			be = benchBlockEvent{at: at, height: d.Height, numTxs: int(d.NumTxs)}
		case *cmttypes.EventDataNewBlockEvents:
			be = benchBlockEvent{at: at, height: d.Height, numTxs: int(d.NumTxs)}
		default:
			return true
		}
		select {
		case out <- be:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if !r.o.processes {
		bus := r.net.Nodes[k].CometBFT().EventBus()
		sub, err := bus.Subscribe(ctx, name, cmttypes.EventQueryNewBlock, 100_000)
		if err != nil {
			return nil, nil, err
		}
		go func() {
			defer close(out)
			defer func() { _ = bus.Unsubscribe(context.Background(), name, cmttypes.EventQueryNewBlock) }()
			for {
				select {
				case msg := <-sub.Out():
					if !forward(time.Now(), msg.Data()) {
						return
					}
				case <-sub.Canceled():
					fail(fmt.Errorf("block subscription of %s ended: %v", name, sub.Err()))
					return
				case <-ctx.Done():
					return
				}
			}
		}()
		return out, errf, nil
	}

	p := r.procs[k]
	ws, err := jsonrpcclient.NewWS(r.urls[k], "/websocket")
	if err != nil {
		return nil, nil, err
	}
	if err := ws.Start(); err != nil {
		return nil, nil, fmt.Errorf("%s's node: websocket: %w", p.agency, err)
	}
	stop := func() { _ = ws.Stop() }
	if err := ws.Subscribe(ctx, cmttypes.EventQueryNewBlockEvents.String()); err != nil {
		stop()
		return nil, nil, fmt.Errorf("%s's node: subscribe to its blocks: %w", p.agency, err)
	}
	// The node answers the subscription once it is in place: wait for
	// that, so that no block is missed.
	select {
	case resp := <-ws.ResponsesCh:
		if resp.Error != nil {
			stop()
			return nil, nil, fmt.Errorf("%s's node: subscribe to its blocks: %w", p.agency, resp.Error)
		}
	case <-p.exited:
		stop()
		return nil, nil, p.exitError()
	case <-time.After(time.Minute):
		stop()
		return nil, nil, fmt.Errorf("%s's node: no answer to a subscription within a minute; the end of %s:\n%s", p.agency, p.log, logTail(p.log, 20))
	case <-ctx.Done():
		stop()
		return nil, nil, ctx.Err()
	}
	go func() {
		defer close(out)
		defer stop()
		for {
			select {
			case resp := <-ws.ResponsesCh:
				at := time.Now()
				if resp.Error != nil {
					fail(fmt.Errorf("%s's node: block subscription: %w", p.agency, resp.Error))
					return
				}
				var re ctypes.ResultEvent
				if err := cmtjson.Unmarshal(resp.Result, &re); err != nil {
					fail(fmt.Errorf("%s's node: block event: %w", p.agency, err))
					return
				}
				if !forward(at, re.Data) {
					return
				}
			case <-p.exited:
				fail(p.exitError())
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, errf, nil
}

// blockContents is the txs of the block at height and their FinalizeBlock
// results, from the first validator (every validator committed the same
// block at that height): for --processes, whose block feeds carry neither.
func (r *benchRun) blockContents(ctx context.Context, height int64) (cmttypes.Txs, []*abci.ExecTxResult, error) {
	c, err := client.New(r.urls[0])
	if err != nil {
		return nil, nil, err
	}
	b, err := c.RPC().Block(ctx, &height)
	if err != nil {
		return nil, nil, fmt.Errorf("block %d: %w", height, err)
	}
	res, err := c.RPC().BlockResults(ctx, &height)
	if err != nil {
		return nil, nil, fmt.Errorf("results of block %d: %w", height, err)
	}
	return b.Block.Txs, res.TxsResults, nil
}

// dataDir is the first validator's data directory.
func (r *benchRun) dataDir() (string, error) {
	if !r.o.processes {
		return r.net.Nodes[0].Config().DBDir(), nil
	}
	cfg, err := node.LoadConfig(r.tn.Agencies[0].Home)
	if err != nil {
		return "", err
	}
	return cfg.DBDir(), nil
}

// height0 is the first validator's latest height.
func (r *benchRun) height0(ctx context.Context) (int64, error) {
	if !r.o.processes {
		return r.net.Nodes[0].CometBFT().BlockStore().Height(), nil
	}
	c, err := client.New(r.urls[0])
	if err != nil {
		return 0, err
	}
	st, err := c.Status(ctx)
	if err != nil {
		return 0, err
	}
	return st.SyncInfo.LatestBlockHeight, nil
}

// cpuSeconds is the CPU time (user and system) used so far by this
// process and, with --processes, by the running validator processes (the
// latter also returned alone); zero where /proc is missing.
func (r *benchRun) cpuSeconds() (all, children float64) {
	all = procCPUSeconds("self")
	for _, p := range r.procs {
		children += procCPUSeconds(strconv.Itoa(p.cmd.Process.Pid))
	}
	return all + children, children
}

// childrenRSSMB is the validator processes' resident memory, summed.
func (r *benchRun) childrenRSSMB() float64 {
	var kb float64
	for _, p := range r.procs {
		kb += procFileKB("/proc/"+strconv.Itoa(p.cmd.Process.Pid)+"/status", "VmRSS")
	}
	return kb / 1e3
}

// procCPUSeconds is utime + stime of /proc/PID/stat (pid "self" for this
// process), at the usual 100 clock ticks per second; 0 if unavailable.
func procCPUSeconds(pid string) float64 {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// The fields after the command name (in parentheses, which may hold
	// spaces): state is the 3rd field of the line, utime the 14th.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0
	}
	return (ut + st) / 100
}
