package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/civicledger/civicledger/client"
)

// runBenchCmd runs `ledgerd bench ... -o json` in-process and decodes its
// report, the last round's (the progress lines go to stderr).
func runBenchCmd(t *testing.T, args ...string) (*benchReport, error) {
	t.Helper()
	reps, err := runBenchRounds(t, args...)
	return reps[len(reps)-1], err
}

// runBenchRounds runs `ledgerd bench ... -o json` in-process and decodes
// its reports, one per round printed.
func runBenchRounds(t *testing.T, args ...string) ([]*benchReport, error) {
	t.Helper()
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(append(append([]string{"bench"}, args...), "-o", "json"))
	err := cmd.ExecuteContext(t.Context())
	var reps []*benchReport
	dec := json.NewDecoder(bytes.NewReader(out.Bytes()))
	for dec.More() {
		var rep benchReport
		if jerr := dec.Decode(&rep); jerr != nil {
			t.Fatalf("report is not JSON (%v; run error %v):\n%s\nstderr:\n%s", jerr, err, out.String(), errOut.String())
		}
		reps = append(reps, &rep)
	}
	if len(reps) == 0 {
		t.Fatalf("no report (run error %v)\nstderr:\n%s", err, errOut.String())
	}
	return reps, err
}

func TestBench(t *testing.T) {
	for _, app := range []string{"ledger", "kvstore"} {
		t.Run(app, func(t *testing.T) {
			rep, err := runBenchCmd(t, "--app", app, "--txs", "301", "--validators", "1", "--timeout-commit", "200ms",
				"--concurrency", "16", "--home", t.TempDir())
			if err != nil {
				t.Fatalf("bench failed: %v\n%+v", err, rep)
			}
			if rep.App != app || rep.Txs != 301 || rep.Submitted != 301 || rep.Committed != 301 ||
				rep.CheckTxRejected != 0 || rep.BlockRejected != 0 || rep.Error != "" {
				t.Fatalf("not every tx committed: %+v", rep)
			}
			if rep.Blocks < 1 || rep.FirstHeight < 1 || rep.LastHeight < rep.FirstHeight || rep.BlockTxsMax < 1 ||
				rep.Seconds <= 0 || rep.TxPerSec <= 0 || rep.LatencyP50Ms <= 0 || rep.LatencyP99Ms < rep.LatencyP50Ms {
				t.Fatalf("incomplete report: %+v", rep)
			}
			if rep.TxBytesMin < 100 || rep.TxBytesMean < float64(rep.TxBytesMin) || rep.TxBytesMax < int(rep.TxBytesMean) {
				t.Fatalf("tx sizes: %+v", rep)
			}
		})
	}
}

// TestBenchFailsOnRejection: a tx refused by CheckTx (here a ledger tx with
// a broken signature) makes the run fail with exit status 1, and the report
// says so.
func TestBenchFailsOnRejection(t *testing.T) {
	benchTxsHook = func(txs [][]byte) {
		txs[7] = bytes.Replace(txs[7], []byte(`"signature":"`), []byte(`"signature":"AA`), 1)
	}
	t.Cleanup(func() { benchTxsHook = nil })
	rep, err := runBenchCmd(t, "--app", "ledger", "--txs", "40", "--timeout-commit", "200ms")
	var ee *exitError
	if !errors.As(err, &ee) || ee.Code != 1 {
		t.Fatalf("want exit status 1, got %v", err)
	}
	if rep.CheckTxRejected != 1 || rep.Submitted != 39 || rep.Error == "" || len(rep.Errors) != 1 {
		t.Fatalf("report: %+v", rep)
	}
}

func TestBenchUsage(t *testing.T) {
	for _, args := range [][]string{{"--app", "etcd"}, {"--txs", "0"}, {"--validators", "0"}, {"-o", "yaml"}, {"--records", "-1"}, {"--rounds", "0"}} {
		_, err := run(t, append([]string{"bench"}, args...)...)
		var ee *exitError
		if !errors.As(err, &ee) || ee.Code != 2 {
			t.Errorf("bench %v: want a usage error (exit 2), got %v", args, err)
		}
	}
}

// TestBenchRecords: --records commits real records before the measured
// run: with chunks of 50, 200 records are 150 grant awards (the first two
// chunks, then every other record) and 50 payments, each against a grant
// two chunks back, all in the agency's state; then the timed txs commit as
// usual, in two rounds on the same network, and each round's report gives
// the pre-fill's rate, memory and disk growth.
func TestBenchRecords(t *testing.T) {
	benchFillChunk = 50
	var checked bool
	benchFillHook = func(ctx context.Context, r *benchRun) error {
		c, err := client.New(r.urls[0])
		if err != nil {
			return err
		}
		agency := r.tn.Agencies[0].ID
		tot, _, _, err := c.Totals(ctx, agency, "EUR", 0)
		if err != nil {
			return err
		}
		if tot.Grants != 150 || tot.Payments != 50 || tot.Paid != 50*600_000 || tot.PaidAgainstGrant != tot.Paid {
			return fmt.Errorf("totals of %s after the pre-fill: %+v", agency, tot)
		}
		pay, _, err := c.Payment(ctx, "P-FILL-00000199", 0)
		if err != nil {
			return err
		}
		if pay.Grant != "G-FILL-00000098" {
			return fmt.Errorf("payment P-FILL-00000199: %+v", pay)
		}
		checked = true
		return nil
	}
	t.Cleanup(func() { benchFillChunk, benchFillHook = 20_000, nil })
	prof := filepath.Join(t.TempDir(), "cpu.pprof")
	reps, err := runBenchRounds(t, "--app", "ledger", "--records", "200", "--txs", "101", "--timeout-commit", "200ms",
		"--concurrency", "16", "--rounds", "2", "--home", t.TempDir(), "--cpuprofile", prof)
	if err != nil || len(reps) != 2 {
		t.Fatalf("bench failed: %v\n%+v", err, reps)
	}
	for _, f := range []string{prof + ".round1", prof + ".round2"} { // one CPU profile per round
		if fi, err := os.Stat(f); err != nil || fi.Size() == 0 {
			t.Fatalf("CPU profile %s: %v", f, err)
		}
	}
	if !checked {
		t.Fatal("the pre-filled state was not checked")
	}
	for i, rep := range reps {
		if rep.Round != i+1 || rep.Rounds != 2 || rep.Records != 200 || rep.Committed != 101 || rep.SetupTxs < 1 || rep.Error != "" {
			t.Fatalf("report of round %d: %+v", i+1, rep)
		}
	}
	if reps[1].FirstHeight <= reps[0].LastHeight {
		t.Fatalf("round 2 (heights %d–%d) did not follow round 1 (%d–%d)", reps[1].FirstHeight, reps[1].LastHeight,
			reps[0].FirstHeight, reps[0].LastHeight)
	}
	rep := reps[1]
	if rep.FillSeconds <= 0 || rep.FillRecordsPerSec <= 0 || rep.FillHeight < 2 || rep.FirstHeight <= rep.FillHeight ||
		rep.FillTxBytesMean < 100 {
		t.Fatalf("pre-fill not reported: %+v", rep)
	}
	if rep.DataBytesStart <= 0 || rep.DataBytesAfterFill <= rep.DataBytesStart || rep.DiskBytesPerRecord <= 0 ||
		rep.DataBytesByDir["state.db"] <= 0 || rep.DataBytesAfterRun <= 0 {
		t.Fatalf("disk growth not reported: %+v", rep)
	}
	if runtime.GOOS == "linux" && (rep.RSSAfterFillMB <= 0 || rep.RSSAfterRunMB <= 0 || rep.RSSPeakMB < rep.RSSAfterRunMB) {
		t.Fatalf("memory not reported: %+v", rep)
	}
	if rep.HeapAfterFillMB <= 0 || rep.HeapAfterRunMB <= 0 {
		t.Fatalf("live heap not reported: %+v", rep)
	}
}

// TestBenchProcesses: with --processes each validator is its own `ledgerd
// start` process (the built binary re-executing itself, for kvstore with
// --bench-app kvstore), logging to node.log in its home; the bench commits
// every tx on both, reports the validator processes' CPU and memory, and
// stops them when it ends.
func TestBenchProcesses(t *testing.T) {
	for _, app := range []string{"ledger", "kvstore"} {
		t.Run(app, func(t *testing.T) {
			home := t.TempDir()
			cmd := exec.CommandContext(t.Context(), ledgerdBin, "bench", "--processes", "--app", app, "--validators", "2",
				"--txs", "150", "--timeout-commit", "200ms", "--concurrency", "16", "--max-wait", "90s", "--home", home, "-o", "json")
			var out, errOut bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errOut
			err := cmd.Run()
			var rep benchReport
			if jerr := json.Unmarshal(out.Bytes(), &rep); jerr != nil || err != nil {
				t.Fatalf("bench: %v (report: %v)\nstdout:\n%s\nstderr:\n%s", err, jerr, out.String(), tail(errOut.String(), 4000))
			}
			if rep.App != app || !rep.Processes || rep.Validators != 2 || rep.Submitted != 150 || rep.Committed != 150 ||
				rep.CheckTxRejected != 0 || rep.BlockRejected != 0 || rep.Error != "" {
				t.Fatalf("not every tx committed: %+v", rep)
			}
			if rep.Blocks < 1 || rep.TxPerSec <= 0 || rep.LatencyP50Ms <= 0 || rep.LatencyP99Ms < rep.LatencyP50Ms ||
				rep.DataBytesAfterRun <= 0 {
				t.Fatalf("incomplete report: %+v", rep)
			}
			if runtime.GOOS == "linux" && (rep.CPUChildrenSeconds <= 0 || rep.CPUSeconds <= rep.CPUChildrenSeconds || rep.ChildrenRSSMB <= 0) {
				t.Fatalf("the validator processes' CPU or memory not reported: %+v", rep)
			}
			tn, err := os.ReadFile(filepath.Join(home, "testnet.json"))
			if err != nil {
				t.Fatal(err)
			}
			var net struct {
				Agencies []struct{ ID, Home, RPC string } `json:"agencies"`
			}
			if err := json.Unmarshal(tn, &net); err != nil || len(net.Agencies) != 2 {
				t.Fatalf("testnet.json: %v\n%s", err, tn)
			}
			for _, a := range net.Agencies {
				log, err := os.ReadFile(filepath.Join(a.Home, "node.log"))
				if err != nil {
					t.Fatal(err)
				}
				kv := bytes.Contains(log, []byte("kvstore example app"))
				if !bytes.Contains(log, []byte("ledgerd started")) || kv != (app == "kvstore") {
					t.Fatalf("%s's node.log does not show its %s node starting:\n%s", a.ID, app, tail(string(log), 3000))
				}
				// Stopped: its RPC no longer answers.
				c, err := client.New(a.RPC)
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				_, err = c.Status(ctx)
				cancel()
				if err == nil {
					t.Fatalf("%s's node still answers at %s after the bench", a.ID, a.RPC)
				}
			}
		})
	}
}

// TestStartBenchAppUsage: start's benchmark-only --bench-app takes kvstore
// alone.
func TestStartBenchAppUsage(t *testing.T) {
	_, err := run(t, "start", "--home", t.TempDir(), "--bench-app", "etcd")
	var ee *exitError
	if !errors.As(err, &ee) || ee.Code != 2 || !strings.Contains(err.Error(), "--bench-app") {
		t.Fatalf("want a usage error (exit 2) about --bench-app, got %v", err)
	}
}
