package app

import (
	"sync"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"

	"github.com/civicledger/civicledger/ledger"
)

// sigBatcher verifies the signatures of concurrent CheckTx calls together,
// with CometBFT's ed25519 batch verifier: about three times the signatures
// per CPU second of one-by-one verification in batches of a thousand, and
// less in the small batches that form here (BENCHMARKS.md), and every
// tx still has each of its signatures checked before it is admitted.
//
// There is no background goroutine and no waiting for company: a caller
// that finds nobody verifying verifies at once, alone (as before). While it
// does, later callers queue; when it is done, the first of them verifies
// the whole queue as one batch, and so on. So a batch forms only from
// callers that would otherwise have waited for a core.
//
// A batch that fails is checked again tx by tx with tx.VerifySignatures, so
// a bad signature gets exactly the error (and the ABCI code and log) it gets
// alone, and one bad tx never fails the others. Both verifiers apply the
// same ZIP-215 rules (ledger.Tx.VerifySignatures).
type sigBatcher struct {
	mu      sync.Mutex
	busy    bool
	pending []*sigJob
}

type sigJob struct {
	tx   *ledger.Tx
	err  error
	lead bool          // woken to verify the queue
	wake chan struct{} // closed when err is set, or to lead
}

// verify returns tx.VerifySignatures()'s answer for tx.
func (b *sigBatcher) verify(tx *ledger.Tx) error {
	j := &sigJob{tx: tx, wake: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, j)
	if b.busy {
		b.mu.Unlock()
		<-j.wake
		if !j.lead {
			return j.err
		}
		b.mu.Lock()
	}
	b.busy = true
	batch := b.pending
	b.pending = nil
	b.mu.Unlock()

	verifyJobs(batch)

	b.mu.Lock()
	var next *sigJob
	if len(b.pending) > 0 {
		next = b.pending[0]
		next.lead = true
	} else {
		b.busy = false
	}
	b.mu.Unlock()
	for _, x := range batch {
		if x != j {
			close(x.wake)
		}
	}
	if next != nil {
		close(next.wake)
	}
	return j.err
}

// verifyJobs sets each job's err: one tx alone is verified directly; more
// go through one batch verification, and on its failure tx by tx.
func verifyJobs(jobs []*sigJob) {
	if len(jobs) == 1 {
		jobs[0].err = jobs[0].tx.VerifySignatures()
		return
	}
	bv := cmted25519.NewBatchVerifier()
	for _, j := range jobs {
		msg := ledger.SignBytes(j.tx.BodyBytes)
		for _, s := range j.tx.Signatures {
			if err := bv.Add(cmted25519.PubKey(s.PubKey), msg, s.Signature); err != nil {
				// a malformed key or signature: no batch, the exact error tx by tx
				for _, j := range jobs {
					j.err = j.tx.VerifySignatures()
				}
				return
			}
		}
	}
	if ok, _ := bv.Verify(); ok {
		return
	}
	for _, j := range jobs {
		j.err = j.tx.VerifySignatures()
	}
}
