package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/civicledger/civicledger/internal/exitcode"
	"github.com/civicledger/civicledger/portal"
)

const (
	flagNode        = "node"
	flagWitness     = "witness"
	flagListen      = "listen"
	flagGenesis     = "genesis"
	flagWasm        = "wasm"
	flagTimeout     = "timeout"
	defaultListen   = "127.0.0.1:8080"
	defaultNodeAddr = "http://127.0.0.1:26657"
)

// HTTP server limits of the portal: a slow or oversized client cannot hold
// a connection or memory for long.
const (
	portalReadHeaderTimeout = 5 * time.Second
	portalReadTimeout       = 10 * time.Second
	portalIdleTimeout       = 60 * time.Second
	portalMaxHeaderBytes    = 16 << 10
)

type portalOpts struct {
	node      string
	witnesses []string
	listen    string
	genesis   string
	wasm      string
	timeout   time.Duration
}

func newPortalCmd() *cobra.Command {
	o := &portalOpts{}
	cmd := &cobra.Command{
		Use:   "portal",
		Short: "serve the public web portal: a read-only website over a node's RPC",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.timeout <= 0 {
				return withExit(exitcode.Usage, fmt.Errorf("--%s must be positive", flagTimeout))
			}
			h, err := portal.New(portal.Options{
				Node: o.node, Witnesses: o.witnesses, GenesisFile: o.genesis, WasmDir: o.wasm, Timeout: o.timeout,
				Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
			})
			if err != nil {
				return withExit(exitcode.Usage, err)
			}
			ln, err := net.Listen("tcp", o.listen)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", o.listen, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "portal serving http://%s (reading %s)\n", ln.Addr(), o.node)
			return servePortal(cmd.Context(), ln, h, o.timeout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.node, flagNode, defaultNodeAddr, "RPC address of the node to read (a full node, not a validator)")
	f.StringArrayVar(&o.witnesses, flagWitness, nil, "RPC address of another agency's node, named on the how-to-verify page (repeatable)")
	f.StringVar(&o.listen, flagListen, defaultListen, "address to listen on (loopback by default: put a reverse proxy in front)")
	f.StringVar(&o.genesis, flagGenesis, "", "the chain's published genesis file: its SHA-256 is shown and the file served")
	f.StringVar(&o.wasm, flagWasm, "", "directory of the in-browser verifier (verify.wasm and wasm_exec.js, built by `make wasm`); needs --genesis")
	f.DurationVar(&o.timeout, flagTimeout, portal.DefaultTimeout, "time limit of the node reads of one request")
	return cmd
}

// servePortal serves h on ln until ctx ends, then shuts down gracefully.
func servePortal(ctx context.Context, ln net.Listener, h http.Handler, timeout time.Duration) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: portalReadHeaderTimeout,
		ReadTimeout:       portalReadTimeout,
		WriteTimeout:      timeout + 10*time.Second,
		IdleTimeout:       portalIdleTimeout,
		MaxHeaderBytes:    portalMaxHeaderBytes,
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
