package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/civicledger/civicledger/node"
)

// alertsFile is the production rule file; the test runs a copy of its
// ValidatorMissingBlocks rule with short windows.
const alertsFile = "../../deploy/prometheus/alerts.yml"

// TestPrometheusSeesMissedBlocks runs a real Prometheus server scraping a
// 4-agency network of ledgerd processes, stops agency-4's validator, and
// checks through Prometheus's HTTP API that the other nodes report its
// missed blocks and that (a short-window copy of) the ValidatorMissingBlocks
// alert fires for agency-4.
func TestPrometheusSeesMissedBlocks(t *testing.T) {
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("prometheus not found (%v): run `make deps` (installs Debian's prometheus package)", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	// Every node up with its ports bound (regenerated on a port clash).
	procs, tn, _ := liveNet(t, ctx, "civic-prom")

	// Prometheus: scrape every node each second, evaluate each second.
	promDir := t.TempDir()
	rules := testRules(t)
	if err := os.WriteFile(filepath.Join(promDir, "rules.yml"), rules, 0o644); err != nil {
		t.Fatal(err)
	}
	var cfg strings.Builder
	// A loaded 2-core machine runs 4 nodes and Prometheus here: give each
	// scrape up to 2s so a slow answer is not a down target.
	cfg.WriteString("global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\n  evaluation_interval: 1s\n")
	cfg.WriteString("rule_files: [rules.yml]\nscrape_configs:\n  - job_name: civicledger\n    static_configs:\n")
	for _, a := range tn.Agencies {
		u, err := url.Parse(a.Metrics)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&cfg, "      - targets: [%q]\n        labels: {node: %q}\n", u.Host, a.ID)
	}
	if err := os.WriteFile(filepath.Join(promDir, "prometheus.yml"), []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ports, err := node.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	promURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	promLog, err := os.Create(filepath.Join(promDir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	prom := exec.Command(promBin,
		"--config.file="+filepath.Join(promDir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(promDir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", ports[0]),
	)
	prom.Stdout, prom.Stderr = promLog, promLog
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = prom.Process.Signal(syscall.SIGTERM)
		_ = prom.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(promLog.Name())
			t.Logf("prometheus log (last 4 KB):\n%s", promTail(b, 4096))
		}
	})

	q := &promAPI{t: t, base: promURL}
	q.waitFor(ctx, 60*time.Second, "all 4 nodes scraped", `count(up{job="civicledger"} == 1) == 4`)
	q.waitFor(ctx, 30*time.Second, "the other nodes report agency-4's signed blocks",
		`count(increase(civicledger_validator_signed_blocks_total{agency="agency-4",node!="agency-4"}[10s]) > 0) == 3`)
	// Not firing while every validator signs.
	if got := q.firing(ctx, "ValidatorMissingBlocks"); len(got) != 0 {
		t.Fatalf("ValidatorMissingBlocks fires with every validator up: %v", got)
	}

	// Stop agency-4's validator.
	if err := procs.cmds[3].Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = procs.cmds[3].Wait()
	stopped := time.Now()

	q.waitFor(ctx, 90*time.Second, "CometBFT reports a missing validator",
		`max(cometbft_consensus_missing_validators{node!="agency-4"}) > 0`)
	q.waitFor(ctx, 90*time.Second, "agency-4's missed blocks increase on another node",
		`increase(civicledger_validator_missed_blocks_total{agency="agency-4",node!="agency-4"}[30s]) > 0`)
	deadline := time.Now().Add(90 * time.Second)
	for {
		alerts := q.firing(ctx, "ValidatorMissingBlocks")
		if len(alerts) == 1 && alerts[0] == "agency-4" {
			t.Logf("ValidatorMissingBlocks fired for agency-4 %s after the stop", time.Since(stopped).Round(time.Second))
			break
		}
		if len(alerts) > 0 {
			t.Fatalf("ValidatorMissingBlocks fires for %v, want only agency-4", alerts)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("ValidatorMissingBlocks did not fire for agency-4 within 90 s of the stop; rules: %s", q.get(ctx, "/api/v1/rules"))
		}
		time.Sleep(time.Second)
	}
}

// testRules returns a rule file holding the production ValidatorMissingBlocks
// rule with 1m windows cut to 20s and no pending period.
func testRules(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	var rf struct {
		Groups []struct {
			Rules []map[string]any `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &rf); err != nil {
		t.Fatal(err)
	}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r["alert"] != "ValidatorMissingBlocks" {
				continue
			}
			expr, _ := r["expr"].(string)
			if !strings.Contains(expr, "[1m]") {
				t.Fatalf("ValidatorMissingBlocks expr has no [1m] window to shorten: %s", expr)
			}
			r["expr"] = strings.ReplaceAll(expr, "[1m]", "[20s]")
			r["for"] = "0s"
			out, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "test", "interval": "1s", "rules": []any{r}}}})
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
	}
	t.Fatalf("%s has no ValidatorMissingBlocks rule", alertsFile)
	return nil
}

type promAPI struct {
	t    *testing.T
	base string
}

func (p *promAPI) get(ctx context.Context, path string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path, nil)
	if err != nil {
		p.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// query returns the number of series an instant query returns ("" on error).
func (p *promAPI) query(ctx context.Context, promql string) (int, string) {
	body := p.get(ctx, "/api/v1/query?query="+url.QueryEscape(promql))
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if json.Unmarshal([]byte(body), &r) != nil || r.Status != "success" {
		return 0, body
	}
	return len(r.Data.Result), body
}

// waitFor polls an instant query until it returns at least one series.
func (p *promAPI) waitFor(ctx context.Context, timeout time.Duration, what, promql string) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	start := time.Now()
	for {
		n, body := p.query(ctx, promql)
		if n > 0 {
			p.t.Logf("%s after %s: %s", what, time.Since(start).Round(time.Second), promql)
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.t.Fatalf("%s: %s still empty after %s; last answer: %s\ntargets: %s", what, promql, timeout,
				promTail([]byte(body), 2048), promTail([]byte(p.get(ctx, "/api/v1/targets")), 4096))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// firing returns the agency label of each firing alert with this name.
func (p *promAPI) firing(ctx context.Context, name string) []string {
	var r struct {
		Data struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(p.get(ctx, "/api/v1/alerts")), &r); err != nil {
		return nil
	}
	var out []string
	for _, a := range r.Data.Alerts {
		if a.Labels["alertname"] == name && a.State == "firing" {
			out = append(out, a.Labels["agency"])
		}
	}
	return out
}

func promTail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
