// Package deploy_test checks the monitoring files under deploy/: the
// Prometheus configuration and alerting rules (with promtool, including the
// rule unit tests) and the Grafana dashboard, and that every metric they use
// is one the nodes export.
package deploy_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/civicledger/civicledger/internal/keystore"
	"github.com/civicledger/civicledger/node"
)

const (
	promConfig = "prometheus/prometheus.yml"
	alertRules = "prometheus/alerts.yml"
	ruleTests  = "prometheus/alerts_test.yml"
	dashboard  = "grafana/civic-ledger.json"
)

// knownMetrics are the metric names the nodes export (CometBFT's, with the
// namespace cometbft, and the ledger's), plus Prometheus's own `up`.
// Histograms are listed by base name; their _bucket, _sum and _count series
// are accepted.
var knownMetrics = map[string]bool{
	"up": false,
	// CometBFT.
	"cometbft_consensus_height":               false,
	"cometbft_consensus_latest_block_height":  false,
	"cometbft_consensus_validators":           false,
	"cometbft_consensus_missing_validators":   false,
	"cometbft_consensus_byzantine_validators": false,
	"cometbft_consensus_total_txs":            false,
	"cometbft_p2p_peers":                      false,
	// Civic Ledger.
	"civicledger_txs_total":                     false,
	"civicledger_checktx_refused_total":         false,
	"civicledger_records":                       false,
	"civicledger_amount_minor":                  false,
	"civicledger_invariant_violations":          false,
	"civicledger_invariant_rule_violations":     false,
	"civicledger_grants_overdisbursed":          false,
	"civicledger_invariant_checks_total":        false,
	"civicledger_validator_signed_blocks_total": false,
	"civicledger_validator_missed_blocks_total": false,
	"civicledger_validator_last_signed_height":  false,
	"civicledger_misbehavior_total":             false,
	"civicledger_publication_lag_seconds":       true,
	"civicledger_future_dated_records_total":    false,
	"civicledger_finalize_block_seconds":        true,
	"civicledger_commit_seconds":                true,
	"civicledger_block_height":                  false,
	"civicledger_queries_total":                 false,
	"civicledger_query_seconds":                 true,
	"civicledger_state_keys":                    false,
	"civicledger_proposals":                     false,
}

// prometheusConfig is the part of a prometheus.yml the tests read.
type prometheusConfig struct {
	Global struct {
		ScrapeInterval string `yaml:"scrape_interval"`
	} `yaml:"global"`
	RuleFiles     []string `yaml:"rule_files"`
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		StaticConfigs []struct {
			Targets []string          `yaml:"targets"`
			Labels  map[string]string `yaml:"labels"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

func promtool(t *testing.T, args ...string) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (%v): run `make deps` (installs Debian's prometheus package)", err)
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
}

func TestPromtoolCheckConfig(t *testing.T) { promtool(t, "check", "config", promConfig) }
func TestPromtoolCheckRules(t *testing.T)  { promtool(t, "check", "rules", alertRules) }
func TestPromtoolTestRules(t *testing.T)   { promtool(t, "test", "rules", ruleTests) }

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// wantAlerts are the alerts alerts.yml must define.
var wantAlerts = []string{
	"ChainHalted", "ValidatorMissingBlocks", "EquivocationDetected", "InvariantBroken",
	"ProposalInNoticePeriod", "PublicationLagHigh", "NodeDown",
}

func TestAlerts(t *testing.T) {
	var rf ruleFile
	readYAML(t, alertRules, &rf)
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	readYAML(t, ruleTests, &tests)
	firing, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				firing[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	var got []string
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			got = append(got, r.Alert)
			if sev := r.Labels["severity"]; !slices.Contains([]string{"critical", "warning", "info"}, sev) {
				t.Errorf("%s: severity %q, want critical, warning or info", r.Alert, sev)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: needs summary and description annotations", r.Alert)
			}
			if !firing[r.Alert] || !quiet[r.Alert] {
				t.Errorf("%s: %s must test it firing and not firing (firing %v, not firing %v)", r.Alert, ruleTests, firing[r.Alert], quiet[r.Alert])
			}
		}
	}
	for _, a := range wantAlerts {
		if !slices.Contains(got, a) {
			t.Errorf("alert %s missing from %s", a, alertRules)
		}
	}
	if sev := severityOf(rf, "ProposalInNoticePeriod"); sev != "info" {
		t.Errorf("ProposalInNoticePeriod severity %q, want info", sev)
	}
	// Alerts about one agency must name it.
	for _, a := range []string{"ValidatorMissingBlocks", "EquivocationDetected", "PublicationLagHigh"} {
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Alert == a && (!strings.Contains(r.Annotations["summary"], "$labels.agency") || !strings.Contains(r.Annotations["description"], "$labels.agency")) {
					t.Errorf("%s: summary and description must name the agency ($labels.agency)", a)
				}
			}
		}
	}
}

func severityOf(rf ruleFile, alert string) string {
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == alert {
				return r.Labels["severity"]
			}
		}
	}
	return ""
}

func TestPrometheusConfig(t *testing.T) {
	var cfg prometheusConfig
	readYAML(t, promConfig, &cfg)
	if cfg.Global.ScrapeInterval != "5s" {
		t.Errorf("scrape_interval %q, want 5s", cfg.Global.ScrapeInterval)
	}
	if !slices.Equal(cfg.RuleFiles, []string{"alerts.yml"}) {
		t.Errorf("rule_files %v, want [alerts.yml]", cfg.RuleFiles)
	}
	if len(cfg.ScrapeConfigs) != 1 || cfg.ScrapeConfigs[0].JobName != "civicledger" {
		t.Fatalf("want one scrape config, job civicledger (NodeDown selects it)")
	}
	seen := map[string]bool{}
	for _, sc := range cfg.ScrapeConfigs[0].StaticConfigs {
		n := sc.Labels["node"]
		if len(sc.Targets) != 1 || n == "" || seen[n] {
			t.Errorf("static config %v %v: want one target with a distinct node label", sc.Targets, sc.Labels)
		}
		if _, clash := sc.Labels["agency"]; clash {
			t.Errorf("static config %v: a target label `agency` would rename the metrics' own agency label to exported_agency", sc.Targets)
		}
		seen[n] = true
	}
	for i := 1; i <= 4; i++ {
		if !seen[fmt.Sprintf("agency-%d", i)] {
			t.Errorf("no target for agency-%d (the default 4-agency testnet)", i)
		}
	}
	if len(seen) < 4 {
		t.Errorf("want the 4 agencies of the default testnet, got %d", len(seen))
	}
}

type grafanaPanel struct {
	Type    string         `json:"type"`
	Title   string         `json:"title"`
	Panels  []grafanaPanel `json:"panels"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

func dashboardExprs(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(dashboard)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID        string         `json:"uid"`
		Title      string         `json:"title"`
		Panels     []grafanaPanel `json:"panels"`
		Templating struct {
			List []struct {
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboard, err)
	}
	if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
		t.Fatalf("%s: needs uid, title and panels", dashboard)
	}
	var exprs []string
	var walk func([]grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				exprs = append(exprs, tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Definition != "" {
			exprs = append(exprs, v.Definition)
		}
	}
	return exprs
}

func TestDashboard(t *testing.T) {
	exprs := dashboardExprs(t)
	used := map[string]bool{}
	for _, e := range exprs {
		for _, m := range metricNames(e) {
			used[m] = true
		}
	}
	// The dashboard covers what the brief asks for.
	for _, m := range []string{
		"cometbft_consensus_height", "civicledger_txs_total", "civicledger_records", "civicledger_amount_minor",
		"civicledger_validator_missed_blocks_total", "civicledger_invariant_violations", "civicledger_grants_overdisbursed",
		"civicledger_publication_lag_seconds_bucket", "civicledger_finalize_block_seconds_bucket",
		"civicledger_commit_seconds_bucket", "civicledger_queries_total",
	} {
		if !used[m] {
			t.Errorf("dashboard does not show %s", m)
		}
	}
}

// TestMetricNamesKnown checks every metric an alert or a dashboard panel
// queries against knownMetrics: a typo would make an alert silently never fire.
func TestMetricNamesKnown(t *testing.T) {
	var rf ruleFile
	readYAML(t, alertRules, &rf)
	check := func(where, expr string) {
		names := metricNames(expr)
		if len(names) == 0 {
			t.Errorf("%s: no metric found in %q", where, expr)
		}
		for _, m := range names {
			if !isKnown(m) {
				t.Errorf("%s: unknown metric %q in %q", where, m, expr)
			}
		}
	}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			check(alertRules+" "+r.Alert+r.Record, r.Expr)
		}
	}
	for _, e := range dashboardExprs(t) {
		check(dashboard, e)
	}
}

func isKnown(m string) bool {
	if _, ok := knownMetrics[m]; ok {
		return true
	}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(m, suf); ok && knownMetrics[base] {
			return true
		}
	}
	return false
}

var (
	reString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	reBraces   = regexp.MustCompile(`\{[^{}]*\}`)
	reBrackets = regexp.MustCompile(`\[[^\[\]]*\]`)
	reGrouping = regexp.MustCompile(`(?i)\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	reVariable = regexp.MustCompile(`\$\{?\w+\}?`)
	reIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	reNumber   = regexp.MustCompile(`\b\d[\w.]*`)
)

var promqlKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true, "offset": true, "bool": true, "inf": true, "nan": true, "atan2": true,
}

// metricNames returns the metric names in a PromQL expression: what is left
// once strings, label matchers, ranges, groupings, Grafana variables, numbers,
// keywords and function names are removed. Grafana's label_values(M, L) and a
// bare selector's __name__ are handled too.
func metricNames(expr string) []string {
	e := reString.ReplaceAllString(expr, `""`)
	e = reVariable.ReplaceAllString(e, " ")
	if strings.HasPrefix(strings.TrimSpace(e), "label_values(") {
		// label_values(selector, label): the label is not a metric.
		if i := strings.LastIndex(e, ","); i >= 0 {
			e = e[:i] + ")"
		}
	}
	e = reBraces.ReplaceAllString(e, " ")
	e = reBrackets.ReplaceAllString(e, " ")
	e = reGrouping.ReplaceAllString(e, " ")
	e = reNumber.ReplaceAllString(e, " ")
	set := map[string]bool{}
	for _, loc := range reIdent.FindAllStringIndex(e, -1) {
		id := e[loc[0]:loc[1]]
		rest := strings.TrimLeft(e[loc[1]:], " \t\n")
		if strings.HasPrefix(rest, "(") || promqlKeywords[strings.ToLower(id)] {
			continue // a function or a keyword
		}
		set[id] = true
	}
	var out []string
	for m := range set {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

func TestMetricNamesParser(t *testing.T) {
	for expr, want := range map[string]string{
		`up{job="civicledger"} == 0`: "up",
		`max by (agency) (rate(civicledger_validator_missed_blocks_total[1m]) / (rate(a_total[1m]) + rate(b_total{x="y"}[5m] offset 5m))) > 0.5`: "a_total b_total civicledger_validator_missed_blocks_total",
		`histogram_quantile(0.9, max by (agency, le) (rate(civicledger_publication_lag_seconds_bucket[1d]))) > 30 * 86400`:                       "civicledger_publication_lag_seconds_bucket",
		`(x > 0) or (y > 0 unless y offset 5m)`:                                                "x y",
		`sum(rate(civicledger_txs_total{node=~"$node"}[$__rate_interval]))`:                    "civicledger_txs_total",
		`label_values(up{job="civicledger"}, node)`:                                            "up",
		`count(up{job="civicledger"}) - sum(up) * on(node) group_left(agency) civcledger_typo`: "civcledger_typo up",
	} {
		if got := strings.Join(metricNames(expr), " "); got != want {
			t.Errorf("metricNames(%q) = %q, want %q", expr, got, want)
		}
	}
}

// TestGeneratedPrometheusConfig: a network generated with free ports
// (`ledgerd testnet --base-port 0`, the demo) writes a Prometheus
// configuration scraping exactly its nodes' metrics ports, with the
// production alerting rules beside it, that promtool accepts; testnet.json
// uses snake_case names.
func TestGeneratedPrometheusConfig(t *testing.T) {
	dir := t.TempDir()
	tn, err := node.GenerateTestnet(node.TestnetOptions{Agencies: 3, Output: dir, ChainID: "civic-prom-gen", Keyring: keystore.BackendTest})
	if err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, node.PrometheusConfigFile)
	promtool(t, "check", "config", cfgFile)
	var cfg prometheusConfig
	readYAML(t, cfgFile, &cfg)
	if len(cfg.ScrapeConfigs) != 1 || cfg.ScrapeConfigs[0].JobName != "civicledger" {
		t.Fatalf("want one scrape config, job civicledger; got %+v", cfg.ScrapeConfigs)
	}
	var got, want []string
	for _, sc := range cfg.ScrapeConfigs[0].StaticConfigs {
		got = append(got, sc.Labels["node"]+"="+strings.Join(sc.Targets, ","))
	}
	for _, a := range tn.Agencies {
		u, err := url.Parse(a.Metrics)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, a.ID+"="+u.Host)
	}
	if !slices.Equal(got, want) {
		t.Errorf("targets %v, want %v (the network's metrics ports)", got, want)
	}
	rules, err := os.ReadFile(filepath.Join(dir, "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	prod, err := os.ReadFile(alertRules)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rules, prod) || !slices.Equal(cfg.RuleFiles, []string{"alerts.yml"}) {
		t.Errorf("rule_files %v: want alerts.yml, a copy of %s", cfg.RuleFiles, alertRules)
	}

	var manifest map[string]any
	raw, err := os.ReadFile(filepath.Join(dir, "testnet.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &manifest); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"chain_id", "agencies", "genesis"} {
		if _, ok := manifest[k]; !ok {
			t.Errorf("testnet.json has no %q (keys %v)", k, slices.Sorted(maps.Keys(manifest)))
		}
	}
	agencies, _ := manifest["agencies"].([]any)
	first, _ := agencies[0].(map[string]any)
	for _, k := range []string{"id", "home", "rpc", "p2p", "metrics", "node_id", "validator_key"} {
		if _, ok := first[k]; !ok {
			t.Errorf("testnet.json agency has no %q (keys %v)", k, slices.Sorted(maps.Keys(first)))
		}
	}
}
