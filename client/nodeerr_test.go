package client

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestNodeErrors: a wrong --node (typo, closed port, a metrics or P2P port)
// gets one plain sentence naming the node, never a raw transport error.
func TestNodeErrors(t *testing.T) {
	for _, bad := range []struct{ url, want string }{
		{"htp://127.0.0.1:26657", `unknown scheme "htp"`},
		{"http://", "names no host"},
		{"http://127.0.0.1:26657x", `invalid port ":26657x"`},
	} {
		if _, err := New(bad.url); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("New(%q) = %v, want an error with %q", bad.url, err, bad.want)
		}
	}
	for _, good := range []string{"127.0.0.1:26657", "https://agency-1.example.org/rpc", "tcp://127.0.0.1:26657", "unix:///run/cometbft.sock"} {
		if _, err := New(good); err != nil {
			t.Errorf("New(%q): %v", good, err)
		}
	}

	metrics := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		w.Write([]byte("# HELP go_goroutines\ngo_goroutines 12\n"))
	}))
	defer metrics.Close()

	p2p, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer p2p.Close()
	go func() {
		for {
			c, err := p2p.Accept()
			if err != nil {
				return
			}
			c.Write([]byte{0x00, 0x20, 0xde, 0xad, 0xbe, 0xef}) // a secret-connection handshake, not HTTP
			c.Close()
		}
	}()

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + closed.Addr().String()
	closed.Close()

	for _, tc := range []struct {
		name, url string
		want      []string
		notRPC    bool
	}{
		{"metrics port", metrics.URL, []string{"node " + metrics.URL, `HTTP "200 OK" with text/plain`, "not the node's RPC port"}, true},
		{"p2p port", "http://" + p2p.Addr().String(), []string{"does not answer HTTP", "not the node's RPC port"}, false},
		{"closed port", closedURL, []string{"node " + closedURL, "connection refused", "is the node running"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			_, err = c.Status(ctx)
			var ne *NodeError
			if !errors.As(err, &ne) {
				t.Fatalf("Status: %v, want a *NodeError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(ne.Error(), w) {
					t.Errorf("%q lacks %q", ne.Error(), w)
				}
			}
			if errors.Is(err, ErrNotRPC) != tc.notRPC {
				t.Errorf("errors.Is(ErrNotRPC) = %v, want %v", !tc.notRPC, tc.notRPC)
			}
		})
	}

	// A caller's deadline is the caller's, not a bad node.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	c, _ := New(closedURL)
	if _, err := c.Status(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Status: %v", err)
	}
}
