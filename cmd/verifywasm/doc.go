// Command verifywasm is the evidence-bundle verifier built for web browsers
// (GOOS=js GOARCH=wasm, with -tags force64bit for CometBFT's ed25519): the
// portal's pages load it to check a record's or a transaction's bundle in
// the reader's own browser, trusting nothing but the genesis file's bytes.
//
// It registers one JavaScript function,
//
//	civicVerify(bundleJSON string, genesis Uint8Array|string) -> object
//
// which computes the SHA-256 of the genesis bytes itself, checks the bundle
// with ledger/verify.VerifyBundle against that genesis, and returns the
// Result (as a plain object, JSON field names). The verdict is the
// verifier's alone: the page only displays it.
//
// It imports ledger/verify and what it needs, never the client library or
// RPC code, which keeps the download small (a test checks it). Build it
// with `make wasm`.
package main
