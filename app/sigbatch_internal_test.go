package app

import (
	"crypto/ed25519"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/civicledger/civicledger/ledger"
)

// sigTestTxs returns n decoded txs; those with i%5 == 3 carry a bad
// signature, and those with i%7 == 6 a second (four-eyes) signature, bad
// when i%14 == 13.
func sigTestTxs(t *testing.T, n int) []*ledger.Tx {
	t.Helper()
	k1 := ed25519.NewKeyFromSeed(make([]byte, 32))
	seed := make([]byte, 32)
	seed[0] = 1
	k2 := ed25519.NewKeyFromSeed(seed)
	out := make([]*ledger.Tx, n)
	for i := range out {
		p := &ledger.GrantAward{ID: fmt.Sprintf("G-%04d", i), Recipient: ledger.Party{Name: "Acme Ltd", Scheme: "GB-COH", ID: "0001"}, Programme: "p", Purpose: "q",
			Amount: "100", Currency: "EUR", PeriodStart: "2026-01-01", PeriodEnd: "2026-12-31", DecisionDate: "2026-01-01",
			DocumentHash: fmt.Sprintf("%064x", i)}
		body, err := ledger.NewBody("chain", "agency-1", k1.Public().(ed25519.PublicKey), uint64(i+1), 100, p)
		if err != nil {
			t.Fatal(err)
		}
		keys := []ed25519.PrivateKey{k1}
		if i%7 == 6 {
			keys = append(keys, k2)
		}
		raw, err := ledger.SignTx(body, keys...)
		if err != nil {
			t.Fatal(err)
		}
		tx, err := ledger.DecodeTx(raw, 0)
		if err != nil {
			t.Fatal(err)
		}
		if i%5 == 3 {
			tx.Signatures[0].Signature[10] ^= 1
		}
		if i%14 == 13 {
			tx.Signatures[1].Signature[20] ^= 1
		}
		out[i] = tx
	}
	return out
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// TestSigBatcherQueuedBatch holds the batcher busy while 40 callers queue,
// then hands the queue over as a verifying caller does: the first queued
// caller verifies all 40 as one batch, which fails (some signatures are
// bad), and every caller must get exactly VerifySignatures' answer.
func TestSigBatcherQueuedBatch(t *testing.T) {
	txs := sigTestTxs(t, 40)
	var b sigBatcher
	b.busy = true // as if a caller were verifying
	got := make([]error, len(txs))
	var wg sync.WaitGroup
	for i, tx := range txs {
		wg.Add(1)
		go func() { defer wg.Done(); got[i] = b.verify(tx) }()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.mu.Lock()
		n := len(b.pending)
		b.mu.Unlock()
		if n == len(txs) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d callers queued", n, len(txs))
		}
		time.Sleep(time.Millisecond)
	}
	// the verifying caller is done: it hands the queue to its first job
	b.mu.Lock()
	next := b.pending[0]
	next.lead = true
	b.mu.Unlock()
	close(next.wake)
	wg.Wait()
	bad := 0
	for i, tx := range txs {
		want := tx.VerifySignatures()
		if errString(got[i]) != errString(want) {
			t.Errorf("tx %d: batched %q, alone %q", i, errString(got[i]), errString(want))
		}
		if want != nil {
			bad++
		}
	}
	if bad == 0 || bad == len(txs) {
		t.Fatalf("%d bad txs of %d: the test needs both", bad, len(txs))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.busy || len(b.pending) != 0 {
		t.Fatalf("batcher left busy=%v with %d queued", b.busy, len(b.pending))
	}
}

// TestSigBatcherConcurrent runs many callers at once, several rounds: each
// gets VerifySignatures' answer, whatever batches formed, and the batcher
// ends idle. An all-good batch passes as a whole.
func TestSigBatcherConcurrent(t *testing.T) {
	txs := sigTestTxs(t, 200)
	want := make([]string, len(txs))
	for i, tx := range txs {
		want[i] = errString(tx.VerifySignatures())
	}
	var b sigBatcher
	for round := 0; round < 5; round++ {
		var wg sync.WaitGroup
		for i, tx := range txs {
			if round == 4 && want[i] != "<nil>" {
				continue // the last round: good signatures only
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if got := errString(b.verify(tx)); got != want[i] {
					t.Errorf("round %d tx %d: %q, want %q", round, i, got, want[i])
				}
			}()
		}
		wg.Wait()
	}
	if b.busy || len(b.pending) != 0 {
		t.Fatalf("batcher left busy=%v with %d queued", b.busy, len(b.pending))
	}
}
