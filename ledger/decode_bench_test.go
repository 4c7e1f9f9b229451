package ledger_test

import (
	"testing"

	"github.com/civicledger/civicledger/ledger"
)

// BenchmarkDecodeTx decodes a signed payment (the bench's most common tx)
// with DecodeTx and, side by side, without strictDecode's fast path.
func BenchmarkDecodeTx(b *testing.B) {
	raw := seedTxs(b)[ledger.TypePaymentRecord]
	for _, c := range []struct {
		name   string
		decode func([]byte, int64) (*ledger.Tx, error)
	}{{"DecodeTx", ledger.DecodeTx}, {"full", ledger.DecodeTxFull}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := c.decode(raw, 64<<10); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
