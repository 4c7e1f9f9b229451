#!/usr/bin/env bash
# The whole-node benchmark series of BENCHMARKS.md ("Whole node under load"),
# in one run: ledger against CometBFT's kvstore at 1 validator and at 4
# (in-process and as separate processes), ROUNDS alternating rounds each,
# then the ledger with RECORDS records pre-filled (ROUNDS measured rounds on
# one network, each round CPU-profiled), then one CPU-profiled single-validator
# run of each app.
# Every report is appended as one JSON line to OUT/runs.jsonl (with the
# series' label in "series"), the profiles go to OUT, and the summary table
# is printed at the end (go run ./scripts/benchtable -summary OUT/runs.jsonl).
#
#   make bench-node                      # ROUNDS=3 RECORDS=1000000
#   make bench-node ROUNDS=1 RECORDS=0   # a quick look (no growth run)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
RECORDS=${RECORDS:-1000000}
TXS1=${TXS1:-20000}   # timed txs at 1 validator
TXS4=${TXS4:-5000}    # timed txs at 4 validators
OUT=${OUT:-bench-node-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
go build -o "$OUT/bin/" ./cmd/ledgerd
LEDGERD=$OUT/bin/ledgerd
RUNS=$OUT/runs.jsonl

log() { echo "bench-node $(date -u +%H:%M:%S): $*" >&2; }

# run SERIES ARGS...: one `ledgerd bench`, its JSON report(s) appended to
# runs.jsonl with the series label and the machine's load average.
run() {
	local series=$1; shift
	local load; load=$(cut -d' ' -f1 /proc/loadavg)
	log "$series: ledgerd bench $* (load $load)"
	local rc=0
	"$LEDGERD" bench -o json "$@" >"$OUT/last.json" 2>>"$OUT/bench.log" || rc=$?
	go run ./scripts/benchtable -tag "$series" -load "$load" "$OUT/last.json" >>"$RUNS"
	[ "$rc" -eq 0 ] || log "$series: exit status $rc (kept in the report)"
}

common=(--concurrency 64 --timeout-commit 1s)
for r in $(seq 1 "$ROUNDS"); do
	apps=(ledger kvstore)
	[ $((r % 2)) -eq 0 ] && apps=(kvstore ledger)
	for a in "${apps[@]}"; do run "1-in-process" --app "$a" --validators 1 --txs "$TXS1" "${common[@]}"; done
	for a in "${apps[@]}"; do run "4-in-process" --app "$a" --validators 4 --txs "$TXS4" "${common[@]}"; done
	for a in "${apps[@]}"; do run "4-processes" --app "$a" --validators 4 --processes --txs "$TXS4" "${common[@]}"; done
done
if [ "$RECORDS" -gt 0 ]; then
	run "1-growth" --app ledger --validators 1 --txs "$TXS1" --records "$RECORDS" --rounds "$ROUNDS" "${common[@]}" \
		--cpuprofile "$OUT/growth.pprof"
fi
for a in ledger kvstore; do
	run "1-profile" --app "$a" --validators 1 --txs "$TXS1" "${common[@]}" --cpuprofile "$OUT/$a.pprof"
done
go run ./scripts/benchtable -summary "$RUNS" | tee "$OUT/summary.md"
