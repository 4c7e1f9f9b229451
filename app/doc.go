// Package app is the ABCI 2.0 adapter between CometBFT and the ledger state
// machine (package ledger). It owns: decoding and signature checks of raw
// transactions (with a cache, so a tx verified in CheckTx is not verified
// again in FinalizeBlock, and a batch verifier for the rest), the check-only
// state used by CheckTx, the mapping of ledger errors to ABCI codes, query
// routing with ICS23 proofs, and Commit.
//
// Files: app.go holds one method per ABCI call of blocks and the mempool;
// options.go the Options given to New (validated there; nothing is set on
// an App after New); query.go the route table of named query handlers;
// metrics.go the Prometheus metrics and the observer that keeps them;
// snapshots.go and snapshots_restore.go the file-backed snapshot store
// (create, list, load chunk, restore) that the ABCI snapshot methods in
// snapshot.go delegate to.
//
// Proposals: ProcessProposal rejects a block holding a tx over the
// max_tx_bytes in force for that block, a tx that does not decode (encoding
// or stateless field rules) or one whose signatures do not verify, so that a
// byzantine proposer cannot fill blocks with junk; PrepareProposal drops such
// txs, so an honest proposal is always accepted. A tx that decodes and
// verifies but breaks a rule of the state is still included with its code.
//
// Threading: CometBFT calls the app through ClientCreator, one mutex per ABCI
// connection, so calls of different connections run concurrently: CheckTx,
// FinalizeBlock, Commit, Info, PrepareProposal, ProcessProposal and the
// snapshot restore take the app's mutex; Query takes none and reads
// committed versions only, through IAVL trees of its own (store.Reader), so
// no query — a long listing included — delays a block. Listings scan a
// bounded number of entries per page (ledger.DefaultScanBudget) and return a
// cursor to continue from.
// Determinism: FinalizeBlock uses only the request (height, time, txs) and the
// state; signature checks run in parallel but their results do not depend on
// scheduling.
//
// It imports ledger, ledger/store and CometBFT's ABCI types, never node/ or
// cmd/.
package app
