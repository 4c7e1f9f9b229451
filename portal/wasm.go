package portal

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// The files of the in-browser verifier in Options.WasmDir.
const (
	// WasmFile is the verifier (cmd/verifywasm built for GOOS=js
	// GOARCH=wasm).
	WasmFile = "verify.wasm"
	// WasmExecFile is the Go runtime's JavaScript support of the same Go
	// version (wasm_exec.js of the Go installation that built WasmFile).
	WasmExecFile = "wasm_exec.js"
	// VerifierPackage is the verifier's main package.
	VerifierPackage = "github.com/civicledger/civicledger/cmd/verifywasm"
)

// asset is a static file held in memory with its gzip form.
type asset struct {
	raw, gz []byte
	etag    string
	ctype   string
}

func newAsset(raw []byte, ctype string) *asset {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(raw)
	_ = zw.Close()
	sum := sha256.Sum256(raw)
	return &asset{raw: raw, gz: buf.Bytes(), etag: `"` + hex.EncodeToString(sum[:12]) + `"`, ctype: ctype}
}

// serve writes the asset, gzip-compressed when the client takes it.
func (a *asset) serve(w http.ResponseWriter, r *http.Request, maxAge int) {
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(maxAge))
	h.Set("ETag", a.etag)
	h.Set("Vary", "Accept-Encoding")
	if r.Header.Get("If-None-Match") == a.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.raw
	if acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// writeMaybeGzip writes a dynamic body, gzip-compressed (fast) when the
// client takes it.
func writeMaybeGzip(w http.ResponseWriter, r *http.Request, body []byte) {
	w.Header().Set("Vary", "Accept-Encoding")
	if r.Method == http.MethodHead {
		return
	}
	if !acceptsGzip(r) {
		_, _ = w.Write(body)
		return
	}
	w.Header().Set("Content-Encoding", "gzip")
	zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	_, _ = zw.Write(body)
	_ = zw.Close()
}

// wasmAssets are the verifier's files, read from Options.WasmDir on first
// use (the directory may be filled after the portal starts, as the demo
// does) and then held in memory.
type wasmAssets struct {
	dir string

	mu         sync.Mutex
	wasm, exec *asset
}

// load returns the verifier's files, or nil while the directory lacks them.
func (a *wasmAssets) load() (wasm, exec *asset) {
	if a == nil {
		return nil, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.wasm == nil {
		w, err1 := os.ReadFile(filepath.Join(a.dir, WasmFile))
		x, err2 := os.ReadFile(filepath.Join(a.dir, WasmExecFile))
		if err1 != nil || err2 != nil || len(w) == 0 || len(x) == 0 {
			return nil, nil
		}
		a.wasm, a.exec = newAsset(w, "application/wasm"), newAsset(x, "text/javascript; charset=utf-8")
	}
	return a.wasm, a.exec
}

// BuildVerifier builds the in-browser verifier into dir with the go tool
// (goTool; "" : "go" on PATH), run in the module's source tree (workDir;
// "": the current directory): WasmFile, built for GOOS=js GOARCH=wasm
// (-tags force64bit for CometBFT's ed25519; stripped, and without inlining,
// which makes the download 14 % smaller for no noticeable cost), and
// WasmExecFile, copied from that Go installation. `make wasm` does the same.
func BuildVerifier(ctx context.Context, goTool, workDir, dir string) error {
	if goTool == "" {
		goTool = "go"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(dir, WasmFile+".tmp")
	cmd := exec.CommandContext(ctx, goTool, "build", "-tags", "force64bit", "-trimpath", "-ldflags=-s -w", "-gcflags=all=-l", "-o", tmp, VerifierPackage)
	cmd.Dir = workDir
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", VerifierPackage, err, bytes.TrimSpace(out))
	}
	cmd = exec.CommandContext(ctx, goTool, "env", "GOROOT")
	cmd.Dir = workDir
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("go env GOROOT: %w", err)
	}
	root := strings.TrimSpace(string(out))
	var js []byte
	for _, p := range []string{filepath.Join(root, "lib", "wasm", WasmExecFile), filepath.Join(root, "misc", "wasm", WasmExecFile)} {
		if js, err = os.ReadFile(p); err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("%s of the Go installation: %w", WasmExecFile, err)
	}
	if err := os.WriteFile(filepath.Join(dir, WasmExecFile), js, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, WasmFile))
}
