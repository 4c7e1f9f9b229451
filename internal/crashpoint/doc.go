// Package crashpoint lets the crash tests kill a node at a chosen point of
// its commit path, the way a power cut would.
//
// Hit(name) marks a point. In a normal build it is an empty function that the
// compiler removes. In a build with the crashpoints tag (the crash tests'
// binary only, never a release), the environment variable CIVICLEDGER_CRASHPOINT
// = "name" or "name:N" makes the N-th hit of that point (default 1) write one
// line to standard error and send SIGKILL to the process itself: no deferred
// function, no buffered write and no fsync of anything runs after it.
//
// The points, in the order a block passes them:
//
//	finalize-block      inside FinalizeBlock, after the block's txs are applied
//	                    to the working state and before its AppHash is returned
//	store-between-saves in the store's Commit, after the first store's IAVL
//	                    SaveVersion and before the second's
//	after-app-commit    when the app's Commit returns, before CometBFT saves
//	                    its state for the block
//	snapshot-create     while a state-sync snapshot is being written: its
//	                    chunks are on disk, it is not yet renamed into place
package crashpoint

// EnvVar names the crash point (and optionally the hit count) to crash at.
const EnvVar = "CIVICLEDGER_CRASHPOINT"

// The crash points.
const (
	FinalizeBlock     = "finalize-block"
	StoreBetweenSaves = "store-between-saves"
	AfterAppCommit    = "after-app-commit"
	SnapshotCreate    = "snapshot-create"
)

// All lists every crash point.
var All = []string{FinalizeBlock, StoreBetweenSaves, AfterAppCommit, SnapshotCreate}
