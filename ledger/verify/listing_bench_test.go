package verify_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/verify"
)

// BenchmarkListing builds (node side: range proof plus record batch proof)
// and verifies (client side) pages of 50 and 500 grants of one agency in a
// state of 20,000 grants (LISTING_GRANTS changes it). bytes/page is the
// JSON answer's size.
func BenchmarkListing(b *testing.B) {
	n := benchSize(b, "LISTING_GRANTS", 20_000)
	view, appHash := listState(b, n)
	for _, size := range []int{50, 500} {
		page := servePage(b, view, ledger.ListingGrants, "agency-a", "a-000", size)
		bz, _ := json.Marshal(page)
		b.Run(fmt.Sprintf("build/%d", size), func(b *testing.B) {
			for b.Loop() {
				servePage(b, view, ledger.ListingGrants, "agency-a", "a-000", size)
			}
			b.ReportMetric(float64(len(bz)), "bytes/page")
		})
		b.Run(fmt.Sprintf("verify/%d", size), func(b *testing.B) {
			for b.Loop() {
				l, err := verify.VerifyListing(appHash, ledger.ListingGrants, "agency-a", "a-000", page)
				if err != nil || len(l.Entries) != size {
					b.Fatalf("%v (%d entries)", err, len(l.Entries))
				}
			}
			b.ReportMetric(float64(len(bz)), "bytes/page")
		})
	}
}

func benchSize(b *testing.B, env string, def int) int {
	b.Helper()
	if s := os.Getenv(env); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("%s=%q: want a positive number", env, s)
		}
		return n
	}
	return def
}
