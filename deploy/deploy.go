// Package deploy holds the monitoring files of a Civic Ledger network
// (Prometheus configuration and alerting rules under prometheus/, a Grafana
// dashboard under grafana/) and gives the binaries the alerting rules, so
// that a generated network's scrape configuration uses the same alerts as a
// production one.
package deploy

import _ "embed"

// AlertRules is prometheus/alerts.yml, the alerting rules of every network.
//
//go:embed prometheus/alerts.yml
var AlertRules []byte
