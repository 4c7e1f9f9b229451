package portal

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// checkView is the in-browser verification offered on a record's or a
// transaction's page (and on the page of a record that does not exist:
// its absence is proved).
type checkView struct {
	Kind       string
	ID         string
	Bundle     string // the evidence bundle's address
	GenesisSum string // the genesis file's SHA-256 as the portal states it
	Wasm       bool   // the verifier is available
	Command    string // the offline check of the downloaded bundle
}

// check returns the in-browser verification of a record (at height h, 0:
// latest) or a transaction (kind "tx"), nil when the portal has no genesis
// file to make bundles from.
func (s *server) check(kind, id string, h int64) *checkView {
	if s.exp == nil {
		return nil
	}
	b := "/bundle/" + kind + "/" + url.PathEscape(id)
	if h > 0 {
		b += "?height=" + strconv.FormatInt(h, 10)
	}
	wasm, _ := s.wasm.load()
	file := kind + "-" + strings.ToLower(id) + ".bundle.json"
	return &checkView{Kind: kind, ID: id, Bundle: b, GenesisSum: s.genesisSum, Wasm: wasm != nil,
		Command: "ledger verify bundle " + file + " --genesis genesis.json"}
}

// wasmFile serves the verifier's WebAssembly and wasm_exec.js, gzip
// compressed.
func (s *server) wasmFile(w http.ResponseWriter, r *http.Request) {
	wasm, exec := s.wasm.load()
	if wasm == nil {
		s.fail(w, r, &pageError{status: http.StatusNotFound, key: "err.notfound"})
		return
	}
	if strings.HasSuffix(r.URL.Path, WasmFile) {
		wasm.serve(w, r, 3600)
		return
	}
	exec.serve(w, r, 3600)
}
