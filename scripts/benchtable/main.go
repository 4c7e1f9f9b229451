// Command benchtable labels `ledgerd bench -o json` reports and summarizes
// a series of them (scripts/bench-node.sh) as the tables of BENCHMARKS.md.
//
//	benchtable -tag SERIES [-load L] REPORT.json   one JSON line per report, labelled
//	benchtable -summary RUNS.jsonl                 medians and ledger ÷ kvstore ratios
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
)

func main() {
	tag := flag.String("tag", "", "series label to add to each report")
	load := flag.String("load", "", "the machine's load average when the run started")
	summary := flag.Bool("summary", false, "summarize a runs.jsonl file")
	flag.Parse()
	if flag.NArg() != 1 || (*tag == "") == !*summary {
		fmt.Fprintln(os.Stderr, "usage: benchtable -tag SERIES [-load L] REPORT.json | benchtable -summary RUNS.jsonl")
		os.Exit(2)
	}
	reports, err := readReports(flag.Arg(0))
	if err == nil && len(reports) == 0 {
		err = fmt.Errorf("%s: no report", flag.Arg(0))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	if *summary {
		writeSummary(os.Stdout, reports)
		return
	}
	for _, r := range reports {
		r["series"] = *tag
		if *load != "" {
			r["load"] = *load
		}
		b, _ := json.Marshal(r)
		fmt.Println(string(b))
	}
}

type report map[string]any

func (r report) num(k string) float64 {
	v, _ := r[k].(float64)
	return v
}

func (r report) str(k string) string {
	v, _ := r[k].(string)
	return v
}

func (r report) ok() bool { return r.str("error") == "" && r.num("tx_per_sec") > 0 }

// readReports reads a stream of JSON objects (one or more, any spacing).
func readReports(path string) ([]report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []report
	dec := json.NewDecoder(f)
	for {
		var r report
		if err := dec.Decode(&r); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, r)
	}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

type group struct {
	runs, failed  int
	tps, p99, cpu []float64
	blocks        []float64
	rss           []float64
}

func (g *group) add(r report) {
	g.runs++
	if !r.ok() {
		g.failed++
		return
	}
	g.tps = append(g.tps, r.num("tx_per_sec"))
	g.p99 = append(g.p99, r.num("latency_p99_ms"))
	g.blocks = append(g.blocks, r.num("blocks"))
	g.rss = append(g.rss, r.num("rss_after_run_mb")+r.num("node_processes_rss_after_run_mb"))
	if n := r.num("txs"); n > 0 {
		g.cpu = append(g.cpu, 1000*r.num("cpu_seconds")/n)
	}
}

func list(xs []float64, format string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf(format, x)
	}
	return strings.Join(parts, " · ")
}

func ratio(a, b float64) string {
	if a == 0 || b == 0 {
		return "—"
	}
	return fmt.Sprintf("**%.2f**", a/b)
}

func writeSummary(w io.Writer, reports []report) {
	groups := map[string]*group{}
	var order []string
	for _, r := range reports {
		k := r.str("series") + "|" + r.str("app")
		if groups[k] == nil {
			groups[k] = &group{}
			order = append(order, k)
		}
		groups[k].add(r)
	}
	var loads []string
	for _, r := range reports {
		loads = append(loads, r.str("load"))
	}
	fmt.Fprintf(w, "%d reports; load average at each run's start: %s\n\n", len(reports), strings.Join(loads, " "))
	fmt.Fprintln(w, "| series | app | committed tx/s (each run) | median | ledger ÷ kvstore | blocks | CPU-ms per tx (median) | p99 ms (median) | p99 ledger ÷ kvstore | RSS after, MB (median) | failed runs |")
	fmt.Fprintln(w, "|---|---|---|---:|---:|---|---:|---:|---:|---:|---:|")
	for _, k := range order {
		series, app, _ := strings.Cut(k, "|")
		g := groups[k]
		rat, p99rat := "", ""
		if app == "ledger" {
			if kv := groups[series+"|kvstore"]; kv != nil {
				rat = ratio(median(g.tps), median(kv.tps))
				p99rat = ratio(median(g.p99), median(kv.p99))
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %.0f | %s | %s | %.2f | %.0f | %s | %.0f | %d of %d |\n", series, app,
			list(g.tps, "%.0f"), median(g.tps), rat, list(g.blocks, "%.0f"), median(g.cpu), median(g.p99), p99rat,
			median(g.rss), g.failed, g.runs)
	}
	if grow, empty := groups["1-growth|ledger"], groups["1-in-process|ledger"]; grow != nil && empty != nil && len(grow.tps) > 0 {
		var fill report
		for _, r := range reports {
			if r.str("series") == "1-growth" && r.num("round") == 1 {
				fill = r
			}
		}
		fmt.Fprintf(w, "\nGrowth: %.0f records pre-filled at %.0f records/s (height %.0f); measured rounds %s tx/s, median %.0f "+
			"against %.0f on the empty chain: growth ratio %s.\n", fill.num("records"), fill.num("fill_records_per_sec"),
			fill.num("fill_height"), list(grow.tps, "%.0f"), median(grow.tps), median(empty.tps), ratio(median(grow.tps), median(empty.tps)))
		if n := fill.num("records"); n > 0 {
			fmt.Fprintf(w, "Memory after the pre-fill: RSS %.0f MB (live heap %.0f MB); after the rounds %s MB. Disk: %.0f B per record",
				fill.num("rss_after_fill_mb"), fill.num("heap_after_fill_mb"), list(grow.rss, "%.0f"), fill.num("disk_bytes_per_record"))
			if by, ok := fill["data_bytes_by_dir_after_fill"].(map[string]any); ok {
				var parts []string
				for _, d := range slices.Sorted(maps.Keys(by)) {
					v, _ := by[d].(float64)
					parts = append(parts, fmt.Sprintf("%s %.0f", d, v/n))
				}
				fmt.Fprintf(w, " (%s)", strings.Join(parts, ", "))
			}
			fmt.Fprintln(w, ".")
		}
	}
}
