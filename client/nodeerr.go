package client

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
)

// NodeError says why a node's RPC could not be used at all: nothing listens
// at the address, the host is unknown, or what answers is not a CometBFT RPC
// endpoint (a metrics or P2P port, a web server). Reason is one plain
// sentence for the user; Err, if any, is the transport's error.
type NodeError struct {
	URL    string
	Reason string
	Err    error
}

func (e *NodeError) Error() string { return fmt.Sprintf("node %s: %s", e.URL, e.Reason) }
func (e *NodeError) Unwrap() error { return e.Err }

// ErrNotRPC is the Err of a NodeError whose address answers, but not as a
// CometBFT RPC endpoint.
var ErrNotRPC = errors.New("not a CometBFT RPC endpoint")

// checkNodeURL refuses an address that cannot name a node's RPC.
func checkNodeURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%q: %w (want http://HOST:PORT, e.g. http://127.0.0.1:26657)", raw, err)
	}
	switch u.Scheme {
	case "http", "https", "tcp":
		if u.Host == "" || u.Hostname() == "" {
			return fmt.Errorf("%q names no host (want http://HOST:PORT, e.g. http://127.0.0.1:26657)", raw)
		}
	case "unix":
		if u.Path == "" && u.Opaque == "" {
			return fmt.Errorf("%q names no socket (want unix:///path/to/rpc.sock)", raw)
		}
	default:
		return fmt.Errorf("%q: unknown scheme %q (want http://HOST:PORT, https://HOST:PORT, tcp:// or unix://)", raw, u.Scheme)
	}
	return nil
}

// nodeTransport turns the failures of a request to a node into NodeErrors,
// and refuses answers that are not JSON (CometBFT's RPC server sends JSON,
// errors included: a page of Prometheus metrics or HTML is another port).
type nodeTransport struct {
	url  string
	base http.RoundTripper
}

func (t *nodeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		if req.Context().Err() != nil {
			return nil, err // the caller gave up: not the node's fault
		}
		return nil, &NodeError{URL: t.url, Reason: describeDialError(t.url, err), Err: err}
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if ct == "application/json" {
		return resp, nil
	}
	// Not labelled JSON (a proxy, or a test server, may not say so): a
	// body that starts as JSON is left to the JSON-RPC decoder.
	head := make([]byte, 512)
	n, _ := io.ReadAtLeast(resp.Body, head, 1)
	head = head[:n]
	if t := bytes.TrimLeft(head, " \t\r\n"); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
		return resp, nil
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	what := ct
	if what == "" {
		what = "no content type"
	}
	return nil, &NodeError{URL: t.url, Err: ErrNotRPC,
		Reason: fmt.Sprintf("answered HTTP %q with %s, not CometBFT JSON-RPC: this is not the node's RPC port (a metrics or other web port?); the RPC port is 26657 by default, 'rpc' in a testnet's testnet.json", resp.Status, what)}
}

// HostTypoHint is what a NodeError says of a host name that does not
// resolve.
const HostTypoHint = "a typo in the node's address?"

// describeDialError says in a sentence what a transport error means.
func describeDialError(raw string, err error) string {
	port := "its port"
	if u, perr := url.Parse(raw); perr == nil && u.Port() != "" {
		port = "port " + u.Port()
	}
	var dns *net.DNSError
	var op *net.OpError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("connection refused: nothing listens on %s (is the node running, and is %s its RPC port? 26657 by default, 'rpc' in a testnet's testnet.json)", port, port)
	case errors.As(err, &dns) && dns.IsNotFound:
		return fmt.Sprintf("host %q not found (%s)", dns.Name, HostTypoHint)
	case errors.As(err, &dns):
		return fmt.Sprintf("cannot resolve host %q: %v", dns.Name, dns.Err)
	case isTimeout(err):
		return "no answer in time (a firewall, or a node too busy to answer?)"
	case errors.As(err, &op) && op.Op == "dial":
		return fmt.Sprintf("cannot connect: %v", op.Err)
	}
	// Connected, but what answered is not an HTTP server: a P2P port (its
	// handshake speaks first), or another protocol.
	return fmt.Sprintf("%s does not answer HTTP: this is not the node's RPC port (its P2P port?); the RPC port is 26657 by default, 'rpc' in a testnet's testnet.json (%s)", port, strings.TrimSpace(strings.ReplaceAll(err.Error(), "%!w(<nil>)", "")))
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
