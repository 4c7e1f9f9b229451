// Package portal owns the public web portal: a read-only, stateless web
// server that shows the ledger to the public (what it is, its records, their
// histories, the agencies and their totals, governance, how to verify) in
// server-rendered HTML that reads fully with JavaScript off, with every list
// downloadable as CSV and JSON.
//
// It reads the chain through the client library only (package client, and
// the ledger's types): it imports client and ledger, never app, node or
// the command packages. It keeps no state between requests and sets no
// cookie: each request reads the node's RPC, at one height, within a
// timeout. Record fields are untrusted input: html/template escapes them,
// and a Content-Security-Policy allows only the portal's own script files
// and the compiling of WebAssembly.
//
// Record and transaction pages offer their evidence bundle (made with
// client.Verifier from the genesis file) and, with Options.WasmDir, a
// button that checks it in the reader's browser with ledger/verify compiled
// to WebAssembly (cmd/verifywasm; BuildVerifier or `make wasm` build it):
// the verdict is the WebAssembly's, the page's script only displays it.
//
// The pages (portal.New's handler):
//
//	/                    what the ledger is, latest records, totals per agency
//	/search              records by id, name or identifier, programme, agency, status, dates
//	/grant/<id>  /licence/<id>  /payment/<id>   a record, its history (?height=H: as at H)
//	/agency/<id>         an agency, its records, totals and validator's signing record
//	/agencies            every agency
//	/tx/<hash>           one transaction
//	/proposals  /proposal/<id>   governance
//	/verify              how to verify a record yourself
//	/genesis.json        the chain's genesis file, when Options.GenesisFile names it
//	/bundle/<kind>/<id>  the evidence bundle of a grant, licence, payment (?height=H) or tx
//	/static/verify.js, /static/verify.wasm, /static/wasm_exec.js   the in-browser verifier
//
// Lists take format=csv or format=json for a download of the same page. A
// page read at a given height (?height=H) never changes: it is served with
// an immutable caching header. All texts are in texts.go, so that a
// translation is one more catalogue.
package portal
