package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
)

// The ABCI snapshot methods: each delegates to the snapshot store
// (Snapshots, snapshots.go and snapshots_restore.go) given in Options.
// Without one, the node offers no snapshot and refuses every offer.

// abciSnapshot is the snapshot as ListSnapshots offers it.
func (info *SnapshotInfo) abciSnapshot() (*abci.Snapshot, error) {
	h, err := hex.DecodeString(info.Hash)
	if err != nil || len(h) != sha256.Size {
		return nil, fmt.Errorf("snapshot %d: bad hash", info.Height)
	}
	meta := make([]byte, 0, sha256.Size*len(info.ChunkHashes))
	for _, ch := range info.ChunkHashes {
		b, err := hex.DecodeString(ch)
		if err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("snapshot %d: bad chunk hash", info.Height)
		}
		meta = append(meta, b...)
	}
	return &abci.Snapshot{Height: info.Height, Format: info.Format, Chunks: info.Chunks, Hash: h, Metadata: meta}, nil
}

// ListSnapshots runs when a peer that state syncs asks this node for its
// snapshots: it offers the snapshots on disk.
func (a *App) ListSnapshots(_ context.Context, _ *abci.RequestListSnapshots) (*abci.ResponseListSnapshots, error) {
	res := &abci.ResponseListSnapshots{}
	if a.snapshots == nil {
		return res, nil
	}
	infos, err := a.snapshots.List()
	if err != nil {
		return nil, err
	}
	for _, info := range infos {
		sn, err := info.abciSnapshot()
		if err != nil {
			a.logger.Error("unreadable snapshot skipped", "err", err)
			continue
		}
		res.Snapshots = append(res.Snapshots, sn)
	}
	return res, nil
}

// LoadSnapshotChunk runs when a peer that state syncs fetches a chunk: it
// serves one chunk of a snapshot on disk; nil (CometBFT answers "missing")
// when there is no such chunk, e.g. the snapshot has since been deleted.
func (a *App) LoadSnapshotChunk(_ context.Context, req *abci.RequestLoadSnapshotChunk) (*abci.ResponseLoadSnapshotChunk, error) {
	if a.snapshots == nil {
		return &abci.ResponseLoadSnapshotChunk{}, nil
	}
	bz, err := a.snapshots.LoadChunk(req.Height, req.Format, req.Chunk)
	if err != nil {
		return nil, err
	}
	return &abci.ResponseLoadSnapshotChunk{Chunk: bz}, nil
}

// OfferSnapshot runs on a node that state syncs, for each snapshot its peers
// offer, until one is accepted: it accepts a snapshot to restore when this
// node has no state yet (nothing committed), the format is ours and the
// metadata is well formed. req.AppHash is the AppHash that CometBFT's light
// client verified for the snapshot's height: the restored state must match
// it.
func (a *App) OfferSnapshot(_ context.Context, req *abci.RequestOfferSnapshot) (*abci.ResponseOfferSnapshot, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.snapshots == nil {
		result := abci.ResponseOfferSnapshot_ABORT
		a.logger.Info("snapshot refused", "why", "this node keeps no snapshot directory", "result", result.String())
		return &abci.ResponseOfferSnapshot{Result: result}, nil
	}
	return a.snapshots.offer(a.store, req, a.logger), nil
}

// ApplySnapshotChunk runs on a node that state syncs, for each chunk of the
// accepted snapshot in order: it checks a chunk against the offered metadata
// (a bad one is fetched again from another peer, and its sender rejected),
// spools it, and after the last one imports the state and checks it against
// the trusted AppHash; a snapshot that fails is rejected and nothing of it
// stays.
func (a *App) ApplySnapshotChunk(_ context.Context, req *abci.RequestApplySnapshotChunk) (*abci.ResponseApplySnapshotChunk, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	res, restored := a.snapshots.applyChunk(a.store, req, a.logger)
	if restored > 0 {
		a.resetAfterRestore(restored)
	}
	return res, nil
}

// resetAfterRestore makes the app's in-memory state follow the restored
// store, as if it had just committed height: Info reports it and the next
// FinalizeBlock (height+1) reloads what it needs. Caller holds a.mu.
func (a *App) resetAfterRestore(height int64) {
	a.chainID = "" // read again from the state's seed record
	a.check = nil
	a.lastTime = time.Time{}
	a.pendingHash = nil
	a.pendingHeight = 0
	a.observer.restored(height)
}
