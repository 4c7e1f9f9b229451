package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/internal/keystore"
	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/node"
)

// TestMetricsEndpoint runs a real `ledgerd start`, records a grant, and
// scrapes the node's Prometheus endpoint: CometBFT's metrics and the app's
// are served together, have the expected values, and pass `promtool check
// metrics` without a single complaint.
func TestMetricsEndpoint(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found (make deps installs it)")
	}
	dir := filepath.Join(t.TempDir(), "net")
	if out, err := run(t, "testnet", "--agencies", "1", "--output", dir, "--base-port", "0", "--fast", "--officers", "--keyring-backend", "test", "--chain-id", "civic-metrics"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var tn node.Testnet
	manifest, err := os.ReadFile(filepath.Join(dir, "testnet.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(manifest, &tn); err != nil {
		t.Fatal(err)
	}
	ag := tn.Agencies[0]
	logf, err := os.Create(filepath.Join(ag.Home, "node.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(ledgerdBin, "start", "--home", ag.Home)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			if log, err := os.ReadFile(filepath.Join(ag.Home, "node.log")); err == nil {
				t.Logf("node log (tail):\n%s", tail(string(log), 4000))
			}
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	c, err := client.New(ag.RPC)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitForHeight(ctx, 2); err != nil {
		t.Fatal(err)
	}
	ks, err := keystore.Open(filepath.Join(ag.Home, "keys"), keystore.BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	grants, err := ks.PrivKey("grants")
	if err != nil {
		t.Fatal(err)
	}
	p := &ledger.GrantAward{ID: "G-M-1", Recipient: ledger.Party{Name: "Acme", Scheme: "GB-COH", ID: "1"}, Programme: "P", Purpose: "Purpose",
		Amount: "125000", Currency: "EUR", PeriodStart: "2026-01-01", PeriodEnd: "2026-12-31", DecisionDate: "2026-01-01",
		DocumentHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}
	raw, err := c.BuildTx(ctx, client.Signer{Agency: ag.ID, Keys: []ed25519.PrivateKey{grants}}, p, client.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Submit(ctx, raw, true)
	if err != nil || !res.OK() {
		t.Fatalf("award: %v %+v", err, res)
	}
	if _, _, err := c.Record(ctx, "grant", "G-M-1", 0); err != nil {
		t.Fatal(err)
	}

	// The app's state metrics are refreshed after Commit, off the consensus
	// path: poll until the award shows.
	var text []byte
	var fams map[string]*dto.MetricFamily
	deadline := time.Now().Add(30 * time.Second)
	for {
		text, fams = scrape(t, ag.Metrics)
		if value(fams, "civicledger_records", map[string]string{"kind": "grant", "status": "awarded"}) == 1 &&
			value(fams, "civicledger_block_height", nil) >= float64(res.Height) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics never showed the award:\n%s", grepLines(text, "civicledger_"))
		}
		time.Sleep(200 * time.Millisecond)
	}

	var cmt, civic []string
	for name := range fams {
		switch {
		case strings.HasPrefix(name, "cometbft_"):
			cmt = append(cmt, name)
		case strings.HasPrefix(name, "civicledger_"):
			civic = append(civic, name)
		}
	}
	sort.Strings(civic)
	if len(cmt) == 0 {
		t.Error("no cometbft_ metrics on the endpoint")
	}
	if value(fams, "cometbft_consensus_height", map[string]string{"chain_id": "civic-metrics"}) < float64(res.Height) {
		t.Errorf("cometbft_consensus_height %v < %d", value(fams, "cometbft_consensus_height", map[string]string{"chain_id": "civic-metrics"}), res.Height)
	}
	for _, name := range []string{
		"civicledger_txs_total", "civicledger_records", "civicledger_amount_minor", "civicledger_invariant_violations",
		"civicledger_invariant_rule_violations", "civicledger_invariant_checks_total", "civicledger_grants_overdisbursed", "civicledger_validator_signed_blocks_total",
		"civicledger_validator_last_signed_height", "civicledger_publication_lag_seconds", "civicledger_finalize_block_seconds",
		"civicledger_commit_seconds", "civicledger_block_height", "civicledger_queries_total", "civicledger_query_seconds",
		"civicledger_state_keys", "civicledger_proposals",
	} {
		if fams[name] == nil {
			t.Errorf("missing %s (have %v)", name, civic)
		}
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"civicledger_txs_total", map[string]string{"type": ledger.TypeGrantAward, "code": "0"}, 1},
		{"civicledger_records", map[string]string{"kind": "grant", "status": "awarded"}, 1},
		{"civicledger_records", map[string]string{"kind": "payment", "status": "recorded"}, 0},
		{"civicledger_amount_minor", map[string]string{"agency": ag.ID, "currency": "EUR", "measure": "awarded"}, 125000},
		{"civicledger_amount_minor", map[string]string{"agency": ag.ID, "currency": "EUR", "measure": "paid"}, 0},
		{"civicledger_invariant_violations", nil, 0},
		{"civicledger_invariant_rule_violations", map[string]string{"rule": ledger.InvAgencyTotals}, 0},
		{"civicledger_invariant_rule_violations", map[string]string{"rule": ledger.InvGovTally}, 0},
		{"civicledger_grants_overdisbursed", nil, 0},
		{"civicledger_state_keys", map[string]string{"store": ledger.StoreGrants}, 2},
	} {
		if got := value(fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if got := value(fams, "civicledger_queries_total", map[string]string{"path": "grant", "proved": "false"}); got < 1 {
		t.Errorf("queries_total{path=grant,proved=false} = %v, want ≥ 1", got)
	}
	if got := value(fams, "civicledger_validator_signed_blocks_total", map[string]string{"agency": ag.ID}); got < 1 {
		t.Errorf("validator_signed_blocks_total{agency=%q} = %v, want ≥ 1", ag.ID, got)
	}
	if got := value(fams, "civicledger_validator_last_signed_height", map[string]string{"agency": ag.ID}); got < float64(res.Height)-1 {
		t.Errorf("validator_last_signed_height{agency=%q} = %v, want ≥ %d", ag.ID, got, res.Height-1)
	}
	if h := fams["civicledger_publication_lag_seconds"]; h == nil || len(h.GetMetric()) != 1 || h.GetMetric()[0].GetHistogram().GetSampleCount() != 1 {
		t.Errorf("publication_lag_seconds: want one observation for %s, got %v", ag.ID, h)
	}

	// promtool on the whole scrape: no parse error, no missing help text,
	// and no lint problem except CometBFT's own known naming ones (its
	// counters lack the _total suffix; not ours to rename).
	out, code := promtoolCheck(t, promtool, text)
	if code != 0 && code != 3 { // 3: lint problems only
		t.Errorf("promtool check metrics: exit %d\n%s", code, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		cometNaming := strings.HasPrefix(line, "cometbft_") && !strings.Contains(line, "help") &&
			(strings.Contains(line, `should have "_total" suffix`) || strings.Contains(line, `should not have "_count" suffix`))
		if !cometNaming {
			t.Errorf("promtool check metrics: %s", line)
		}
	}
	// Ours alone: not a single complaint.
	var ours bytes.Buffer
	for _, line := range strings.SplitAfter(string(text), "\n") {
		name := strings.TrimPrefix(strings.TrimPrefix(line, "# HELP "), "# TYPE ")
		if strings.HasPrefix(name, "civicledger_") {
			ours.WriteString(line)
		}
	}
	if out, code := promtoolCheck(t, promtool, ours.Bytes()); code != 0 || out != "" {
		t.Errorf("promtool check metrics on the civicledger_ families: exit %d\n%s", code, out)
	}
}

// promtoolCheck runs `promtool check metrics` on text and returns its output
// and exit code.
func promtoolCheck(t *testing.T, promtool string, text []byte) (string, int) {
	t.Helper()
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = bytes.NewReader(text)
	out, err := check.CombinedOutput()
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("promtool: %v", err)
		}
		return strings.TrimSpace(string(out)), ee.ExitCode()
	}
	return strings.TrimSpace(string(out)), 0
}

func scrape(t *testing.T, url string) ([]byte, map[string]*dto.MetricFamily) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	text, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return text, fams
}

// value is the value of the series of family name with exactly the given
// labels (-1 if absent); for counters, gauges and untyped metrics.
func value(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	mf := fams[name]
	if mf == nil {
		return -1
	}
next:
	for _, m := range mf.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		for _, lp := range m.GetLabel() {
			if v, ok := labels[lp.GetName()]; !ok || v != lp.GetValue() {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Untyped != nil:
			return m.GetUntyped().GetValue()
		}
	}
	return -1
}

func grepLines(text []byte, prefix string) string {
	var b strings.Builder
	for _, l := range strings.Split(string(text), "\n") {
		if strings.HasPrefix(l, prefix) {
			fmt.Fprintln(&b, l)
		}
	}
	return b.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
