// Package app is the ABCI 2.0 adapter between CometBFT and the ledger state
// machine (package ledger). It owns: decoding and signature checks of raw
// transactions (with a cache, so a tx verified in CheckTx is not verified
// again in FinalizeBlock, and a batch verifier for the rest), the check-only
// state used by CheckTx, the mapping of ledger errors to ABCI codes, query
// routing with ICS23 proofs, and Commit.
//
// Threading: CometBFT calls the app through ClientCreator, one mutex per ABCI
// connection, so calls of different connections run concurrently: CheckTx,
// FinalizeBlock, Commit, Info and the snapshot restore take the app's mutex;
// Query takes none and reads committed versions only, through IAVL trees of
// its own (store.Reader), so no query — a long listing included — delays a
// block. Listings scan a bounded number of entries per page
// (ledger.DefaultScanBudget) and return a cursor to continue from.
// Determinism: FinalizeBlock uses only the request (height, time, txs) and the
// state; signature checks run in parallel but their results do not depend on
// scheduling.
//
// It imports ledger, ledger/store and CometBFT's ABCI types, never node/ or
// cmd/.
package app
