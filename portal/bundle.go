package portal

import (
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/ledger/verify"
)

// exporter makes evidence bundles (the format of `ledger proof export`)
// for the pages' in-browser verification. It keeps the chain's trust root,
// made from the genesis file, in a directory of its own; each bundle is
// made by a new client.Verifier, so that no verified header is held
// between requests.
type exporter struct {
	genesisFile string
	node        string
	witnesses   []string

	mu   sync.Mutex
	home string // set once the trust root is made
	dir  string // Options.StateDir, or a temporary directory made on first use
}

// verifier returns a Verifier reading the portal's node, its trust root
// the genesis file (made on first use, and again after a failure).
func (e *exporter) verifier(ctx context.Context) (*client.Verifier, error) {
	home, err := e.trustHome(ctx)
	if err != nil {
		return nil, err
	}
	return client.NewVerifier(ctx, home, e.node, e.witnesses)
}

// trustHome returns the directory holding the trust root, making the root
// from the genesis file on first use (again after a failure: the node may
// not have answered).
func (e *exporter) trustHome(ctx context.Context) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.home == "" {
		if e.dir == "" {
			d, err := os.MkdirTemp("", "civic-portal-")
			if err != nil {
				return "", err
			}
			e.dir = d
		}
		if _, err := client.InitTrustFromGenesis(ctx, e.dir, e.genesisFile, e.node); err != nil {
			return "", err
		}
		e.home = e.dir
	}
	return e.home, nil
}

// bundle serves the evidence bundle of a record (/bundle/grant/ID?height=H,
// licence, payment; absent records included: it proves the absence) or of
// a transaction (/bundle/tx/HASH), as JSON.
func (s *server) bundle(w http.ResponseWriter, r *http.Request) {
	if s.exp == nil {
		s.fail(w, r, &pageError{status: http.StatusNotFound, key: "err.notfound"})
		return
	}
	kind, id := r.PathValue("kind"), r.PathValue("id")
	height, err := heightParam(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ctx := r.Context()
	var b *verify.Bundle
	switch kind {
	case verify.KindGrant, verify.KindLicence, verify.KindPayment:
		if err := validID(id); err != nil {
			s.fail(w, r, err)
			return
		}
		st, key, _ := verify.RecordLocation(kind, id)
		var v *client.Verifier
		if v, err = s.exp.verifier(ctx); err == nil {
			b, err = v.ExportRecord(ctx, st, key, height, kind, id)
		}
	case verify.KindTx:
		raw, derr := hex.DecodeString(id)
		if derr != nil || len(raw) != 32 {
			s.fail(w, r, &pageError{status: http.StatusNotFound, key: "err.notfound"})
			return
		}
		var v *client.Verifier
		if v, err = s.exp.verifier(ctx); err == nil {
			b, err = v.ExportTx(ctx, raw)
		}
	default:
		s.fail(w, r, &pageError{status: http.StatusNotFound, key: "err.notfound"})
		return
	}
	var bz []byte
	if err == nil {
		bz, err = b.Marshal()
	}
	if err != nil {
		s.failBundle(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="`+kind+"-"+strings.ToLower(id)+`.bundle.json"`)
	// A bundle at a given height (or of a tx in a block) never changes
	// but for its creation time, and the evidence does not expire.
	cache(w, height > 0 || kind == verify.KindTx)
	writeMaybeGzip(w, r, bz)
}

// failBundle answers a bundle that could not be made: a plain-text reason
// the page shows (never a verdict: the page shows FAILED for it).
func (s *server) failBundle(w http.ResponseWriter, r *http.Request, err error) {
	pe := classify(err)
	if errors.Is(err, verify.ErrProof) || errors.Is(err, verify.ErrHeader) || errors.Is(err, verify.ErrTx) || errors.Is(err, verify.ErrBundle) {
		// The node's answers do not verify.
		pe = &pageError{status: http.StatusBadGateway, key: "check.unverifiable", err: err}
	}
	if pe.status >= 500 {
		s.opts.Logger.Error("portal bundle failed", "path", r.URL.Path, "status", pe.status, "err", err)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(pe.status)
	_, _ = w.Write([]byte(s.texts.get(pe.key)))
}
