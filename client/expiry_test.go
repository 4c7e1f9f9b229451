package client_test

import (
	"errors"
	"math"
	"testing"

	"github.com/civicledger/civicledger/client"
)

// TestExpiresAt: the expiry counts from the larger of the node's height and
// the height this client verified, and a node height that cannot be the
// chain's is refused. (Before, expires_at was the node's height plus
// --expires-in, whatever the client had verified.)
func TestExpiresAt(t *testing.T) {
	cases := []struct {
		name                     string
		node, verified, in, want int64
		implausible              bool
	}{
		{"no trust state", 500, 0, 100, 600, false},
		{"node ahead of verified", 500, 450, 100, 600, false},
		{"node slightly behind verified", 480, 500, 100, 600, false},
		{"node behind by exactly the expiry", 400, 500, 100, 600, false},
		{"node far behind verified", 399, 500, 100, 0, true},
		{"node reports no blocks yet", 0, 0, 100, 100, false},
		{"negative height", -1, 0, 100, 0, true},
		{"height that overflows", math.MaxInt64 - 10, 0, 100, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := client.ExpiresAt(tc.node, tc.verified, tc.in)
			if tc.implausible {
				if !errors.Is(err, client.ErrImplausibleHeight) {
					t.Fatalf("got %d, %v; want ErrImplausibleHeight", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %d, %v; want %d", got, err, tc.want)
			}
		})
	}
	if _, err := client.ExpiresAt(10, 0, 0); err == nil {
		t.Fatal("zero expiry accepted")
	}
}
