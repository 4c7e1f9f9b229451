package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/civicledger/civicledger/node"
)

// TestSoak is the long soak of docs/reliability.md: 4 validators as
// `ledgerd start` processes under a steady load of officers' transactions
// (every agency's grants officer awarding and its finance officer paying
// against the award, each waited for until committed) for
// CIVICLEDGER_SOAK (e.g. 2h; `make soak`), with agency-2, -3 and -4
// killed with SIGKILL in turn every CIVICLEDGER_SOAK_KILL_EVERY (default
// 10m) and restarted 20 s later. Agency-1 takes the load and is never
// killed. Every 30 s it samples each node's resident memory, open files and
// goroutines; at the end it checks that they stayed flat (on agency-1,
// whose process lives the whole run: the last quarter's medians against
// the second quarter's), that every transaction the load generator was told
// committed is on every node at its height with code 0, and that the four
// nodes agree on the AppHash at every height. CIVICLEDGER_SOAK_OUT names a
// CSV file for the samples; CIVICLEDGER_SOAK_CACHE the IAVL node cache
// per store (default 20000, see below); CIVICLEDGER_SOAK_PPROF an address
// for agency-1's Go profiles. Without CIVICLEDGER_SOAK the test is skipped:
// it is not part of `make test`.
func TestSoak(t *testing.T) {
	dur := os.Getenv("CIVICLEDGER_SOAK")
	if dur == "" {
		t.Skip("long test: run it with `make soak` (CIVICLEDGER_SOAK=2h)")
	}
	soakFor, err := time.ParseDuration(dur)
	if err != nil {
		t.Fatalf("CIVICLEDGER_SOAK: %v", err)
	}
	killEvery := 10 * time.Minute
	if v := os.Getenv("CIVICLEDGER_SOAK_KILL_EVERY"); v != "" {
		if killEvery, err = time.ParseDuration(v); err != nil {
			t.Fatalf("CIVICLEDGER_SOAK_KILL_EVERY: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), soakFor+30*time.Minute)
	defer cancel()
	// A node's memory grows until its caches are full: the IAVL node cache
	// of each of the six stores (state_cache_size nodes, 30,000 by
	// default) and CometBFT's. The soak runs with a cache of 20,000 nodes
	// a store, full within minutes, so that growth after that is a leak
	// and not a cache filling up.
	cacheSize := "20000"
	if v := os.Getenv("CIVICLEDGER_SOAK_CACHE"); v != "" {
		cacheSize = v
	}
	procs, tn, clients := liveNet(t, ctx, "civic-soak", func(home string) {
		p := filepath.Join(home, "config", "app.toml")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		re := regexp.MustCompile(`(?m)^state_cache_size = \d+$`)
		if !re.Match(b) {
			t.Fatalf("%s has no state_cache_size", p)
		}
		if err := os.WriteFile(p, re.ReplaceAll(b, []byte("state_cache_size = "+cacheSize)), 0o644); err != nil {
			t.Fatal(err)
		}
		// CIVICLEDGER_SOAK_PPROF=host:port serves agency-1's Go profiles
		// (CometBFT's rpc.pprof_laddr), to look at its heap during a run.
		if addr := os.Getenv("CIVICLEDGER_SOAK_PPROF"); addr != "" && filepath.Base(home) == "agency-1" {
			p := filepath.Join(home, "config", "config.toml")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			re := regexp.MustCompile(`(?m)^pprof_laddr = ""$`)
			if !re.Match(b) {
				t.Fatalf("%s has no empty pprof_laddr", p)
			}
			if err := os.WriteFile(p, re.ReplaceAll(b, []byte(`pprof_laddr = "`+addr+`"`)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})
	load := startLiveLoad(t, ctx, tn, clients[:1], "S")
	defer load.stop()

	var samples []soakSample
	out := os.Getenv("CIVICLEDGER_SOAK_OUT")
	var csv *os.File
	if out != "" {
		if csv, err = os.Create(out); err != nil {
			t.Fatal(err)
		}
		defer csv.Close()
		fmt.Fprintln(csv, "elapsed_s,agency,pid,rss_kb,open_files,open_tables,goroutines,height,txs_committed")
	}

	start := time.Now()
	nextKill, victim, kills := start.Add(killEvery), 1, 0
	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
	for time.Since(start) < soakFor {
		select {
		case <-ctx.Done():
			t.Fatalf("soak interrupted: %v", ctx.Err())
		case <-tick.C:
		}
		h := liveMaxHeight(t, ctx, clients[:1])
		committed := load.count(0)
		for i := range tn.Agencies {
			s := sampleNode(ctx, procs, tn, i)
			s.elapsed, s.height, s.txs = time.Since(start), h, committed
			samples = append(samples, s)
			if csv != nil {
				fmt.Fprintf(csv, "%d,%s,%d,%d,%d,%d,%d,%d,%d\n", int(s.elapsed.Seconds()), tn.Agencies[i].ID, s.pid, s.rssKB, s.files, s.tables, s.goroutines, h, committed)
			}
		}
		load.waitCommitted(t, ctx, committed, 0, time.Second, "during the soak") // fails on any failed tx
		if time.Now().After(nextKill) {
			killH := liveMaxHeight(t, ctx, clients[:1])
			liveKill(t, procs, victim)
			t.Logf("%s: killed agency-%d at height %d (%d txs committed)", time.Since(start).Round(time.Second), victim+1, killH, committed)
			sleepCtx(ctx, 20*time.Second)
			liveRestart(t, ctx, procs, tn, victim)
			liveWaitHeights(t, ctx, clients[victim:victim+1], liveMaxHeight(t, ctx, clients[:1]), 2*time.Minute, fmt.Sprintf("agency-%d catching up", victim+1))
			kills++
			victim = victim%3 + 1
			nextKill = time.Now().Add(killEvery)
		}
	}

	txs, lastTx, common := liveSettle(t, ctx, load, clients, 2*time.Minute)
	t.Logf("soak of %s: %d kills, %d txs committed up to height %d, none lost; all 4 nodes agree on heights 1..%d",
		soakFor, kills, len(txs), lastTx, common-1)

	// Flat resources on agency-1, whose process ran the whole soak.
	var a1 []soakSample
	for _, s := range samples {
		if s.agency == 0 {
			a1 = append(a1, s)
		}
	}
	if len(a1) < 8 {
		t.Logf("only %d samples of agency-1: too few to judge flatness", len(a1))
		return
	}
	q := len(a1) / 4
	second, last := a1[q:2*q], a1[3*q:]
	for _, m := range []struct {
		name       string
		get        func(soakSample) int64
		ratio, add int64 // allowed: last ≤ second × ratio/100 + add
	}{
		{"resident memory (KB)", func(s soakSample) int64 { return s.rssKB }, 150, 64 << 10},
		{"open files (other than database tables)", func(s soakSample) int64 { return s.files }, 120, 20},
		{"goroutines", func(s soakSample) int64 { return s.goroutines }, 120, 50},
	} {
		a, b := soakMedian(second, m.get), soakMedian(last, m.get)
		t.Logf("agency-1 %s: median %d in the second quarter, %d in the last", m.name, a, b)
		if b > a*m.ratio/100+m.add {
			t.Errorf("agency-1 %s grew from a median of %d (second quarter) to %d (last quarter)", m.name, a, b)
		}
	}
}

// soakSample is one reading of one node's process.
type soakSample struct {
	elapsed      time.Duration
	agency       int
	pid          int
	rssKB, files int64
	tables       int64 // open .ldb table files, apart from files
	goroutines   int64
	height       int64
	txs          int
}

// sampleNode reads agency i's resident memory and open files from /proc and
// its goroutines from its Prometheus endpoint (-1 where unreadable).
func sampleNode(ctx context.Context, procs *processes, tn *node.Testnet, i int) soakSample {
	s := soakSample{agency: i, rssKB: -1, files: -1, tables: -1, goroutines: -1}
	cmd := procs.cmds[i]
	if cmd == nil || cmd.Process == nil {
		return s
	}
	s.pid = cmd.Process.Pid
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid)); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
				s.rssKB, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			}
		}
	}
	// Open files, apart from the databases' sorted tables: goleveldb keeps
	// up to 500 of those open per database, so their number grows with the
	// data, not with a leak; they are counted on their own.
	fdDir := filepath.Join("/proc", strconv.Itoa(s.pid), "fd")
	if ents, err := os.ReadDir(fdDir); err == nil {
		s.files, s.tables = 0, 0
		for _, e := range ents {
			if target, err := os.Readlink(filepath.Join(fdDir, e.Name())); err == nil && strings.HasSuffix(target, ".ldb") {
				s.tables++
			} else {
				s.files++
			}
		}
	}
	s.goroutines = scrapeGauge(ctx, tn.Agencies[i].Metrics, "go_goroutines")
	return s
}

// scrapeGauge returns the value of an unlabelled metric from a Prometheus
// text endpoint, or -1.
func scrapeGauge(ctx context.Context, url, name string) int64 {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return -1
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return -1
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return int64(f)
			}
		}
	}
	return -1
}

func soakMedian(s []soakSample, get func(soakSample) int64) int64 {
	v := make([]int64, 0, len(s))
	for _, x := range s {
		v = append(v, get(x))
	}
	slices.Sort(v)
	return v[len(v)/2]
}
