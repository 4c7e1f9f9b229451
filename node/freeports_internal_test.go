package node

import (
	"fmt"
	"net"
	"testing"
)

// TestFreePortsBelowEphemeralRange: the ports are distinct, free, and not in
// the range from which outgoing connections take their local ports (which
// could take a port before the node binds it).
func TestFreePortsBelowEphemeralRange(t *testing.T) {
	ports, err := FreePorts(12)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	low := ephemeralLow()
	for _, p := range ports {
		if seen[p] {
			t.Fatalf("port %d handed out twice: %v", p, ports)
		}
		seen[p] = true
		if p >= low {
			t.Errorf("port %d is in the ephemeral range (from %d)", p, low)
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			t.Fatalf("port %d is not free: %v", p, err)
		}
		_ = l.Close()
	}
}
