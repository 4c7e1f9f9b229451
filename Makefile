# Civic Ledger. `make test` installs what the test suite needs (Go modules;
# Debian's prometheus (promtool), postgresql, libxml2-utils (xmllint, which
# checks the IATI exports against the IATI schema) and chromium (the portal's
# browser tests), when missing), then runs vet,
# the race-checked unit tests, the integration tests with real CometBFT nodes,
# and a short fuzzing run.
GO ?= go
FUZZTIME ?= 20s
RACE_PKGS = ./ledger/... ./app/... ./internal/... ./client/... ./genesis/... ./export/...

.PHONY: test deps vet unit integration fuzz bench demo build wasm

test: deps vet unit integration fuzz

APT_PKGS = $(if $(shell command -v promtool),,prometheus) $(if $(wildcard /usr/lib/postgresql/*/bin/initdb),,postgresql) $(if $(shell command -v xmllint),,libxml2-utils) \
	$(if $(shell command -v chromium),,chromium)

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

# Integration tests start real CometBFT validators on loopback.
integration:
	$(GO) test -count=1 -timeout 20m ./node/... ./cmd/... ./deploy/...
	$(GO) test -race -count=1 -timeout 10m ./portal/...

fuzz:
	$(GO) test ./ledger -run '^$$' -fuzz '^FuzzDecodeTx$$' -fuzztime $(FUZZTIME)

bench:
	$(GO) test ./app -run '^$$' -bench BenchmarkFinalizeBlock -benchtime 5x -timeout 60m

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
