package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/civicledger/civicledger/internal/exitcode"
)

type benchOpts struct {
	app           string
	validators    int
	processes     bool
	txs           int
	records       int
	rounds        int
	concurrency   int
	timeoutCommit time.Duration
	home          string
	output        string
	cpuprofile    string
	maxWait       time.Duration
}

func newBenchCmd() *cobra.Command {
	o := &benchOpts{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "load a fresh in-process local network (the ledger or CometBFT's kvstore) with signed txs and report committed tx/s",
		Long: `bench starts a fresh network of validators in this process on loopback (production consensus
timeouts except timeout_commit, metrics and PEX off), pre-generates --txs transactions, sends them with
--concurrency workers through broadcast_tx_sync spread over the validators' RPC endpoints, and waits until
every validator has committed all of them.

--processes runs each validator as its own ` + "`ledgerd start --home H`" + ` process (this binary; for kvstore with
start's benchmark-only --bench-app kvstore), under the same config, with its log in node.log in its home;
the load generator, the pre-fill and the report stay in this process, which learns of each validator's
blocks over its RPC websocket (NewBlockEvents: height and tx count) and fetches each block's txs and results
from the first validator once the txs are committed. The processes are stopped (SIGTERM, then SIGKILL after 15 s) when the bench
ends, fails or is interrupted.

--rounds R repeats the measured run (new setup grants and timed txs each time) on the same network, with
one report per round (JSON: one object per round).

--records N first commits N records (grant awards and payments, signed and sent like the timed txs, in
chunks of 20,000 at full speed; for kvstore key=value txs of their sizes) through consensus, untimed, so
that the measured run meets a ledger already holding them: its rate, the process's resident memory after
the pre-fill and after the run, and the first validator's data directory growth per record are reported.

--app ledger sends real signed ledger txs, each agency's through its own node: half new grant awards,
half payments against grants awarded in an untimed setup phase (one setup grant per four payments, all
committed before timing starts). --app kvstore runs CometBFT's kvstore example app (persistent, goleveldb)
under the same config and genesis, with key=value txs of the same sizes in both phases.

Reported: committed tx/s from the first submit to the last commit (as seen by the node each tx was sent
to), CheckTx rejections, txs per block, submit→commit latency of every tx, and the CPU seconds used
meanwhile by this process and the validator processes together (and the latter alone). Memory figures are
this process's; with --processes the validator processes' resident memory after the run is added apart. Exit status 1 if any tx is
rejected or not committed within --max-wait of the last submit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return withExit(exitcode.Usage, err)
			}
			r := newBenchRun(cmd.ErrOrStderr(), o)
			err := r.run(cmd.Context(), []func(context.Context) error{
				r.start,   // generate the network, start its validators
				r.prefill, // commit --records records, untimed
			}, []func(context.Context) error{ // each round:
				r.prepare, // pre-sign every tx
				r.seed,    // commit the setup grants, untimed
				r.submit,  // send the timed txs at --concurrency, noting when
				r.confirm, // wait for every validator to commit them
				r.measure, // throughput, latency, blocks; the verdict
			}, o.rounds, func(rep *benchReport, err error) error {
				return rep.write(cmd.OutOrStdout(), o.output, err) // the report, text or JSON
			})
			return withExit(exitcode.Failed, err)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.app, "app", "ledger", "application: ledger or kvstore (CometBFT's example app)")
	f.IntVar(&o.validators, "validators", 1, "number of validators (in-process nodes, or processes with --processes)")
	f.BoolVar(&o.processes, "processes", false, "run each validator as its own `ledgerd start` process on loopback (as agencies deploy) instead of in this process")
	f.IntVar(&o.txs, "txs", 20000, "number of transactions")
	f.IntVar(&o.records, "records", 0, "records (grant awards and payments) committed before the measured run, untimed")
	f.IntVar(&o.rounds, "rounds", 1, "measured rounds on the same network, one report each, each with new txs")
	f.IntVar(&o.concurrency, "concurrency", 64, "concurrent broadcast_tx_sync workers")
	f.DurationVar(&o.timeoutCommit, "timeout-commit", time.Second, "consensus timeout_commit (the other timeouts keep their production defaults)")
	f.StringVar(&o.home, flagHome, "", "directory for the validators' fresh homes, kept afterwards (default: a temporary directory, removed)")
	f.StringVarP(&o.output, flagOutput, "o", "text", "report format: text or json")
	f.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of this process (with --processes: the load generator only) from the first submit to the last commit to `FILE` (with --rounds: FILE.round1, FILE.round2 …)")
	f.DurationVar(&o.maxWait, "max-wait", 3*time.Minute, "fail if not every tx is committed this long after the last submit")
	return cmd
}

func (o *benchOpts) validate() error {
	switch {
	case o.app != "ledger" && o.app != "kvstore":
		return fmt.Errorf("--app must be ledger or kvstore, not %q", o.app)
	case o.validators < 1 || o.validators > 10:
		return errors.New("--validators must be between 1 and 10")
	case o.txs < 1:
		return errors.New("--txs must be at least 1")
	case o.records < 0 || o.records > 100_000_000:
		return errors.New("--records must be between 0 and 100,000,000")
	case o.rounds < 1:
		return errors.New("--rounds must be at least 1")
	case o.concurrency < 1:
		return errors.New("--concurrency must be at least 1")
	case o.timeoutCommit <= 0:
		return errors.New("--timeout-commit must be positive")
	case o.maxWait <= 0:
		return errors.New("--max-wait must be positive")
	case o.output != "text" && o.output != "json":
		return fmt.Errorf("-o must be text or json, not %q", o.output)
	}
	return nil
}

// benchReport is what `ledgerd bench` prints.
type benchReport struct {
	Round         int     `json:"round"` // of --rounds, from 1
	Rounds        int     `json:"rounds"`
	App           string  `json:"app"`
	Validators    int     `json:"validators"`
	Processes     bool    `json:"processes"` // each validator its own process (--processes)
	Txs           int     `json:"txs"`
	SetupTxs      int     `json:"setup_txs"` // sent and committed before timing
	Concurrency   int     `json:"concurrency"`
	TimeoutCommit string  `json:"timeout_commit"`
	TxBytesMean   float64 `json:"tx_bytes_mean"`
	TxBytesMin    int     `json:"tx_bytes_min"`
	TxBytesMax    int     `json:"tx_bytes_max"`
	Submitted     int     `json:"submitted"` // accepted by CheckTx
	// CheckTxRejected counts broadcast_tx_sync calls that failed or
	// returned a non-zero code; BlockRejected txs in blocks with a
	// non-zero FinalizeBlock code.
	CheckTxRejected int      `json:"checktx_rejected"`
	BlockRejected   int      `json:"block_rejected"`
	Errors          []string `json:"errors,omitempty"` // the first few
	Committed       int      `json:"committed"`        // on every validator
	Seconds         float64  `json:"seconds"`          // first submit → last commit
	TxPerSec        float64  `json:"tx_per_sec"`
	SubmitSeconds   float64  `json:"submit_seconds"` // first submit → last broadcast_tx_sync returned
	Blocks          int      `json:"blocks"`         // blocks holding the txs
	FirstHeight     int64    `json:"first_height"`
	LastHeight      int64    `json:"last_height"`
	BlockTxsMean    float64  `json:"block_txs_mean"`
	BlockTxsMax     int      `json:"block_txs_max"`
	LatencyP50Ms    float64  `json:"latency_p50_ms"` // submit → commit on the node the tx was sent to
	LatencyP99Ms    float64  `json:"latency_p99_ms"`
	LatencyMaxMs    float64  `json:"latency_max_ms"`
	// CPU time (user and system) from the first submit to the last
	// commit, of the bench process (load generator and, in-process, the
	// validators) and the validator processes (--processes); the latter
	// also alone. 0 where /proc is missing.
	CPUSeconds         float64 `json:"cpu_seconds"`
	CPUChildrenSeconds float64 `json:"cpu_node_processes_seconds"`

	// Pre-filled state (--records) and the footprint: the process's
	// resident memory (node(s) and load generator) and live Go heap, and
	// the first validator's data directory, before and after.
	Records            int              `json:"records"`
	FillSeconds        float64          `json:"fill_seconds,omitempty"`
	FillRecordsPerSec  float64          `json:"fill_records_per_sec,omitempty"`
	FillTxBytesMean    float64          `json:"fill_tx_bytes_mean,omitempty"`
	FillHeight         int64            `json:"fill_height,omitempty"`
	RSSAfterFillMB     float64          `json:"rss_after_fill_mb"` // at the start without --records
	HeapAfterFillMB    float64          `json:"heap_after_fill_mb"`
	RSSAfterRunMB      float64          `json:"rss_after_run_mb"`
	HeapAfterRunMB     float64          `json:"heap_after_run_mb"`
	RSSPeakMB          float64          `json:"rss_peak_mb"`
	ChildrenRSSMB      float64          `json:"node_processes_rss_after_run_mb,omitempty"` // --processes: summed
	DataBytesStart     int64            `json:"data_bytes_start"`
	DataBytesAfterFill int64            `json:"data_bytes_after_fill"`
	DataBytesAfterRun  int64            `json:"data_bytes_after_run"`
	DataBytesByDir     map[string]int64 `json:"data_bytes_by_dir_after_fill,omitempty"`
	DiskBytesPerRecord float64          `json:"disk_bytes_per_record,omitempty"` // (after fill − start) ÷ records
	Error              string           `json:"error,omitempty"`                 // why the run failed
}

func (r *benchReport) print(w io.Writer) {
	vals := "validators"
	if r.Validators == 1 {
		vals = "validator"
	}
	what := "key=value txs"
	if r.App == "ledger" {
		what = "signed txs (grant awards, payments)"
	}
	round := ""
	if r.Rounds > 1 {
		round = fmt.Sprintf(" round %d of %d:", r.Round, r.Rounds)
	}
	if r.Processes {
		vals += " (separate processes)"
	}
	fmt.Fprintf(w, "ledgerd bench:%s app %s, %d %s, %d %s, concurrency %d, timeout_commit %s\n",
		round, r.App, r.Validators, vals, r.Txs, what, r.Concurrency, r.TimeoutCommit)
	fmt.Fprintf(w, "  tx size        mean %.0f B (min %d, max %d)\n", r.TxBytesMean, r.TxBytesMin, r.TxBytesMax)
	fmt.Fprintf(w, "  setup          %d txs committed before timing\n", r.SetupTxs)
	fmt.Fprintf(w, "  rejected       %d at CheckTx, %d in blocks\n", r.CheckTxRejected, r.BlockRejected)
	for _, e := range r.Errors {
		fmt.Fprintf(w, "                 %s\n", e)
	}
	fmt.Fprintf(w, "  committed      %d of %d", r.Committed, r.Txs)
	if r.Seconds > 0 {
		fmt.Fprintf(w, " in %.2f s (first submit → last commit): %.0f tx/s", r.Seconds, r.TxPerSec)
	}
	fmt.Fprintln(w)
	if r.Blocks > 0 {
		fmt.Fprintf(w, "  blocks         %d (heights %d–%d), mean %.0f txs, max %d\n", r.Blocks, r.FirstHeight, r.LastHeight, r.BlockTxsMean, r.BlockTxsMax)
	}
	if r.LatencyMaxMs > 0 {
		fmt.Fprintf(w, "  submit→commit  p50 %.0f ms, p99 %.0f ms, max %.0f ms\n", r.LatencyP50Ms, r.LatencyP99Ms, r.LatencyMaxMs)
	}
	if r.SubmitSeconds > 0 {
		fmt.Fprintf(w, "  submitting     %.2f s (%.0f tx/s through CheckTx)\n", r.SubmitSeconds, float64(r.Submitted)/r.SubmitSeconds)
	}
	if r.Records > 0 {
		fmt.Fprintf(w, "  pre-fill       %d records (mean %.0f B) in %.1f s: %.0f records/s, to height %d\n",
			r.Records, r.FillTxBytesMean, r.FillSeconds, r.FillRecordsPerSec, r.FillHeight)
		fmt.Fprintf(w, "  data dir       %.1f MB → %.1f MB after the pre-fill: %.0f B per record;", mb(r.DataBytesStart), mb(r.DataBytesAfterFill), r.DiskBytesPerRecord)
		for _, k := range sortedKeys(r.DataBytesByDir) {
			fmt.Fprintf(w, " %s %.1f MB", k, mb(r.DataBytesByDir[k]))
		}
		fmt.Fprintln(w)
	}
	if r.CPUSeconds > 0 {
		fmt.Fprintf(w, "  CPU            %.1f s (%.2f cores)", r.CPUSeconds, r.CPUSeconds/max(r.Seconds, 1e-9))
		if r.Processes {
			fmt.Fprintf(w, ", of which the validator processes %.1f s", r.CPUChildrenSeconds)
		}
		fmt.Fprintln(w)
	}
	if r.RSSAfterRunMB > 0 {
		fmt.Fprintf(w, "  memory         RSS %.0f MB before the run, %.0f MB after (peak %.0f MB); live heap %.0f MB, %.0f MB\n",
			r.RSSAfterFillMB, r.RSSAfterRunMB, r.RSSPeakMB, r.HeapAfterFillMB, r.HeapAfterRunMB)
	}
	if r.ChildrenRSSMB > 0 {
		fmt.Fprintf(w, "  node processes RSS %.0f MB after the run, summed\n", r.ChildrenRSSMB)
	}
	if r.DataBytesAfterRun > 0 {
		fmt.Fprintf(w, "  data dir       %.1f MB after the run\n", mb(r.DataBytesAfterRun))
	}
}

func mb(b int64) float64 { return float64(b) / 1e6 }

// write prints the report as text or json (format), with the run's error,
// if any, as its Error; it returns that error, or else the JSON encoder's.
func (r *benchReport) write(w io.Writer, format string, runErr error) error {
	if runErr != nil {
		r.Error = runErr.Error()
	}
	if format != "json" {
		r.print(w)
		return runErr
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil && runErr == nil {
		return err
	}
	return runErr
}
