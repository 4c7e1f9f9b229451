# Civic Ledger. `make test` installs what the test suite needs (Go modules;
# Debian's prometheus (promtool), postgresql, libxml2-utils (xmllint, which
# checks the IATI exports against the IATI schema), chromium (the portal's
# browser tests), nginx (the public RPC proxy's test) and iproute2 (ip, for the
# network fault tests' namespaces), when missing), then runs vet,
# the race-checked unit tests, the integration tests with real CometBFT nodes
# (both run every fuzz target's kept inputs) and govulncheck against a pinned
# vulnerability database (see docs/reliability.md).
GO ?= go
# Each fuzzer runs FUZZTIME (make fuzz-long: 10m). A new input that widens
# coverage is minimized for at most FUZZMINIMIZETIME; while a worker
# minimizes, go test reports 0 execs/sec, so the default (60s) would spend
# a short run minimizing.
FUZZTIME ?= 10s
FUZZMINIMIZETIME ?= 2s
RACE_PKGS = ./ledger/... ./app/... ./internal/... ./client/... ./genesis/... ./export/...

.PHONY: test deps vet unit integration fuzz fuzz-long vulncheck soak crash-long bench bench-node demo build wasm

# make test runs every fuzz target over its seeds and the inputs kept in
# testdata/fuzz (they are Go tests: unit and integration run them), not new
# random inputs: a fuzzer that finds a new input in a 10-second run fails a
# merge that did not cause it. make fuzz runs the random search briefly,
# make fuzz-long for 10 minutes a target (docs/reliability.md).
test: deps vet unit integration vulncheck

APT_PKGS = $(if $(shell command -v promtool),,prometheus) $(if $(wildcard /usr/lib/postgresql/*/bin/initdb),,postgresql) $(if $(shell command -v xmllint),,libxml2-utils) \
	$(if $(shell command -v chromium),,chromium) $(if $(shell PATH="$$PATH:/usr/sbin" command -v nginx),,nginx) \
	$(if $(shell PATH="$$PATH:/usr/sbin" command -v ip),,iproute2)

deps:
	@command -v $(GO) >/dev/null || { echo "Go is required (https://go.dev/dl/)"; exit 1; }
	@if [ -n "$(strip $(APT_PKGS))" ]; then \
		echo "installing Debian packages: $(APT_PKGS)"; \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(APT_PKGS); \
	fi
	$(GO) mod download

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 $(RACE_PKGS)
	$(GO) test -race -count=1 -tags crashpoints ./internal/crashpoint

# Integration tests start real CometBFT validators on loopback.
integration:
	$(GO) test -count=1 -timeout 20m ./node/... ./cmd/... ./deploy/...
	$(GO) test -race -count=1 -timeout 10m ./portal/...

# Every fuzz target, as package:Name. make fuzz fails if a Fuzz function of
# the tree is missing here.
FUZZ_TARGETS = \
	./ledger:FuzzDecodeTx \
	./ledger:FuzzDecodePayload \
	./ledger:FuzzApplySequence \
	./ledger:FuzzParseAmount \
	./ledger/store:FuzzImport \
	./ledger/verify:FuzzBundle \
	./app:FuzzQuery \
	./app:FuzzRestoreChunk \
	./genesis:FuzzLoad \
	./export:FuzzRelease \
	./node:FuzzLoadConfig

fuzz:
	@listed="$(foreach t,$(FUZZ_TARGETS),$(lastword $(subst :, ,$(t))))"; \
	for f in $$(grep -rhoE '^func Fuzz[A-Za-z0-9_]+' --include='*_test.go' . | sed 's/^func //' | sort -u); do \
		case " $$listed " in *" $$f "*) ;; *) echo "fuzz target $$f is not in FUZZ_TARGETS"; exit 1;; esac; \
	done
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== $$name ($$pkg, $(FUZZTIME))"; \
		$(GO) test $$pkg -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME); \
	done

fuzz-long:
	$(MAKE) fuzz FUZZTIME=10m FUZZMINIMIZETIME=60s

# govulncheck, offline: the vulnerability database is built from the OSV
# files of a pinned golang.org/x/vulndb module (fetched through the Go
# module proxy) with that module's own indexdb tool, once per version, into
# .vulndb/. A finding fails the target unless docs/reliability.md explains
# it (a table row starting with "| GO-YYYY-NNNN |").
GOVULNCHECK_VERSION = v1.9.0
VULNDB_VERSION = v0.0.0-20261105234957-e22db6528018
VULNDB_DIR = $(CURDIR)/.vulndb/$(VULNDB_VERSION)

$(VULNDB_DIR)/index/db.json:
	@osv=$$(cd / && $(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p')/data/osv; \
	test -d "$$osv" || { echo "no OSV files in golang.org/x/vulndb@$(VULNDB_VERSION)"; exit 1; }; \
	rm -rf $(VULNDB_DIR).tmp; \
	cd / && $(GO) run golang.org/x/vulndb/cmd/indexdb@$(VULNDB_VERSION) -vulns "$$osv" -out $(VULNDB_DIR).tmp && \
	rm -rf $(VULNDB_DIR) && mv $(VULNDB_DIR).tmp $(VULNDB_DIR)

GOVULNCHECK = $(CURDIR)/.vulndb/bin/govulncheck-$(GOVULNCHECK_VERSION)

$(GOVULNCHECK):
	GOBIN=$(CURDIR)/.vulndb/bin.tmp $(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION)
	mkdir -p $(dir $@) && mv $(CURDIR)/.vulndb/bin.tmp/govulncheck $@ && rmdir $(CURDIR)/.vulndb/bin.tmp

# govulncheck exits 3 when it finds vulnerabilities.
vulncheck: $(VULNDB_DIR)/index/db.json $(GOVULNCHECK)
	@out=$$($(GOVULNCHECK) -db file://$(VULNDB_DIR) ./... 2>&1); rc=$$?; \
	echo "$$out"; \
	if [ $$rc -ne 0 ] && [ $$rc -ne 3 ]; then exit $$rc; fi; \
	missing=; for id in $$(echo "$$out" | sed -n 's/^Vulnerability #[0-9]*: \(GO-[0-9]*-[0-9]*\)$$/\1/p'); do \
		grep -q "^| $$id |" docs/reliability.md || missing="$$missing $$id"; \
	done; \
	if [ -n "$$missing" ]; then echo "govulncheck findings not explained in docs/reliability.md:$$missing"; exit 1; fi; \
	echo "govulncheck: every finding is explained in docs/reliability.md"

# The long soak (not part of make test): 4 validators under steady load for
# SOAK, one killed and restarted every SOAK_KILL_EVERY, resources sampled
# into SOAK_OUT (see docs/reliability.md).
SOAK ?= 2h
SOAK_KILL_EVERY ?= 10m
SOAK_OUT ?= $(CURDIR)/soak.csv
soak:
	CIVICLEDGER_SOAK=$(SOAK) CIVICLEDGER_SOAK_KILL_EVERY=$(SOAK_KILL_EVERY) CIVICLEDGER_SOAK_OUT=$(SOAK_OUT) \
		$(GO) test ./cmd/ledgerd -run '^TestSoak$$' -count=1 -v -timeout 0

# 50 rounds of TestCrashPoints (make integration runs one round per crash
# point): a validator kills itself at a random crash point of its commit
# path, under load, and must recover (docs/reliability.md).
crash-long:
	CIVICLEDGER_CRASH_ROUNDS=50 $(GO) test -count=1 -timeout 60m -run '^TestCrashPoints$$' -v ./cmd/ledgerd

bench:
	$(GO) test ./app -run '^$$' -bench BenchmarkFinalizeBlock -benchtime 5x -timeout 60m

# The whole-node series of BENCHMARKS.md in one run (about 30 minutes with
# the defaults): ledger against kvstore at 1 and 4 validators (in-process
# and as processes), ROUNDS alternating rounds, growth with RECORDS records,
# CPU profiles; reports and summary in bench-node-<time>/.
ROUNDS ?= 3
RECORDS ?= 1000000
bench-node:
	ROUNDS=$(ROUNDS) RECORDS=$(RECORDS) ./scripts/bench-node.sh

build:
	$(GO) build -o bin/ ./cmd/ledgerd ./cmd/ledger

demo:
	$(GO) run ./cmd/ledgerd demo

# The portal's in-browser verifier: ledger/verify compiled to WebAssembly
# (CometBFT's ed25519 needs -tags force64bit there; stripped, no inlining:
# a smaller download), with the wasm_exec.js
# of the same Go installation. Serve it with `ledgerd portal --wasm build/wasm`.
WASM_DIR ?= build/wasm
wasm:
	mkdir -p $(WASM_DIR)
	GOOS=js GOARCH=wasm CGO_ENABLED=0 $(GO) build -tags force64bit -trimpath -ldflags='-s -w' -gcflags=all=-l -o $(WASM_DIR)/verify.wasm ./cmd/verifywasm
	cp "$$($(GO) env GOROOT)/lib/wasm/wasm_exec.js" $(WASM_DIR)/ 2>/dev/null || cp "$$($(GO) env GOROOT)/misc/wasm/wasm_exec.js" $(WASM_DIR)/
	@ls -l $(WASM_DIR)/verify.wasm; printf 'gzip -9: '; gzip -9 -c $(WASM_DIR)/verify.wasm | wc -c
