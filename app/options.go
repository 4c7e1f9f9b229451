package app

import (
	"fmt"
	"time"

	"github.com/cometbft/cometbft/libs/log"

	"github.com/civicledger/civicledger/ledger"
)

// Options configure an App. New validates them and keeps them for the App's
// life: nothing of them changes after New.
type Options struct {
	// Logger receives the app's log (nil: none).
	Logger log.Logger

	// Metrics are the app's Prometheus metrics (nil: NopMetrics). They
	// never influence results.
	Metrics *Metrics
	// InvariantEvery: the metrics worker checks the ledger's invariants on
	// the committed state every InvariantEvery blocks (0: never).
	InvariantEvery int64
	// LiveWindow: blocks older than this (by the wall clock) are being
	// replayed or synced, and their validator votes, evidence and
	// publication lag are not counted in metrics again. Zero counts all.
	LiveWindow time.Duration

	// IndexAllEvents marks every event attribute for indexing, for the
	// PostgreSQL event sink of an auditor node, whose tables auditors query
	// freely. Otherwise only the attributes that tx_search and block_search
	// queries use are marked (ledger.Searched), which is what the kv
	// indexer of a validator writes. The marks are not part of consensus
	// (LastResultsHash leaves events out), so nodes may differ in them.
	IndexAllEvents bool

	// Snapshots, if set, takes state-sync snapshots after Commit and
	// restores one offered by peers (see snapshot.go).
	Snapshots *Snapshots

	// OnFatal, if set, is called when the app hits an error that stops
	// consensus on this node (storage failure, a commit that does not match
	// FinalizeBlock). CometBFT catches the panic and halts consensus but keeps
	// the process up; ledgerd uses OnFatal to exit instead of looking healthy.
	OnFatal func(error)
	// OnBlock, if set, is called after each Commit with the committed
	// height (tests use it to check invariants after every block).
	OnBlock func(height int64, r ledger.Reader)
	// OnQuery, if set, is called at the start of every Query with its path
	// (tests use it to hold a query while blocks run).
	OnQuery func(path string)
}

// DefaultOptions are the options of a node: no metrics registered, the
// invariants checked every DefaultInvariantEvery blocks.
func DefaultOptions() Options {
	return Options{InvariantEvery: DefaultInvariantEvery}
}

// Validate checks the options; its error names the field at fault.
func (o Options) Validate() error {
	if o.InvariantEvery < 0 {
		return fmt.Errorf("app options: InvariantEvery is %d: must be 0 (never) or a number of blocks", o.InvariantEvery)
	}
	if o.LiveWindow < 0 {
		return fmt.Errorf("app options: LiveWindow is %s: must be 0 (count every block) or positive", o.LiveWindow)
	}
	if o.Snapshots != nil {
		if err := o.Snapshots.validate(); err != nil {
			return fmt.Errorf("app options: Snapshots.%w", err)
		}
	}
	return nil
}
