package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"

	"github.com/cometbft/cometbft/abci/example/kvstore"
	cmtflags "github.com/cometbft/cometbft/libs/cli/flags"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/spf13/cobra"

	"github.com/civicledger/civicledger/app"
	"github.com/civicledger/civicledger/internal/exitcode"
	"github.com/civicledger/civicledger/node"
	"github.com/civicledger/civicledger/portal"
)

func newStartCmd() *cobra.Command {
	var home, benchApp string
	cmd := &cobra.Command{
		Use:   "start",
		Short: "run the agency's node until interrupted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if benchApp != "" && benchApp != "kvstore" {
				return withExit(exitcode.Usage, fmt.Errorf("--bench-app must be kvstore, not %q", benchApp))
			}
			cfg, err := node.LoadConfig(home)
			if err != nil {
				return err
			}
			logger := cmtlog.NewTMLogger(cmtlog.NewSyncWriter(os.Stdout))
			if logger, err = cmtflags.ParseLogLevel(cfg.LogLevel, logger, "info"); err != nil {
				return withExit(exitcode.Usage, fmt.Errorf("log_level: %w", err))
			}
			halted := make(chan error, 1)
			opts := node.Options{OnFatal: func(err error) {
				select {
				case halted <- err:
				default:
				}
			}}
			if benchApp == "kvstore" {
				// For `ledgerd bench --processes --app kvstore` only: CometBFT's
				// example app in place of the ledger, to compare against.
				if err := os.MkdirAll(cfg.DBDir(), 0o700); err != nil {
					return err
				}
				kv := kvstore.NewPersistentApplication(cfg.DBDir())
				defer func() { _ = kv.Close() }() // after the node has stopped
				opts.App = kv
				logger.Info("running CometBFT's kvstore example app, not the ledger (benchmarks only)")
			}
			n, err := node.New(cfg, logger, opts)
			if err != nil {
				return err
			}
			if err := n.Start(); err != nil {
				_ = n.Stop()
				return err
			}
			logger.Info("ledgerd started", "home", home, "rpc", n.RPCURL())
			portalErr := make(chan error, 1)
			if p := cfg.App.Portal; p.Enabled {
				if err := startNodePortal(cmd.Context(), cfg, n.RPCURL(), logger, portalErr); err != nil {
					_ = n.Stop()
					return err
				}
			}
			select {
			case perr := <-portalErr:
				logger.Error("portal stopped; stopping the node", "err", perr)
				_ = n.Stop()
				return fmt.Errorf("portal: %w", perr)
			case <-cmd.Context().Done():
				logger.Info("ledgerd stopping")
				return n.Stop()
			case herr := <-halted:
				if errors.Is(herr, app.ErrDiskLow) {
					logger.Error("data directory almost full; stopping the node", "err", herr)
					_ = n.Stop()
					return herr
				}
				logger.Error("consensus halted; stopping the node", "err", herr)
				_ = n.Stop()
				return fmt.Errorf("consensus halted: %w", herr)
			}
		},
	}
	cmd.Flags().StringVar(&home, flagHome, defaultNodeHome(), "node home directory")
	cmd.Flags().StringVar(&benchApp, "bench-app", "", "FOR BENCHMARKS ONLY (ledgerd bench --processes): kvstore runs CometBFT's kvstore example app instead of the ledger")
	_ = cmd.Flags().MarkHidden("bench-app")
	return cmd
}

// startNodePortal serves the public web portal of app.toml's [portal]
// section over the node's own RPC, publishing the home's genesis file, until
// ctx ends; a serving error is sent on errc.
func startNodePortal(ctx context.Context, cfg *node.Config, rpc string, logger cmtlog.Logger, errc chan<- error) error {
	p := cfg.App.Portal
	h, err := portal.New(portal.Options{
		Node: rpc, Witnesses: p.Witnesses, GenesisFile: cfg.GenesisFile(), WasmDir: p.WasmDir,
		Timeout: portal.DefaultTimeout, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil {
		return withExit(exitcode.Usage, fmt.Errorf("app.toml [portal]: %w", err))
	}
	ln, err := net.Listen("tcp", p.Listen)
	if err != nil {
		return fmt.Errorf("app.toml [portal]: listen on %s: %w", p.Listen, err)
	}
	logger.Info("portal serving", "url", "http://"+ln.Addr().String(), "node", rpc)
	go func() {
		if err := servePortal(ctx, ln, h, portal.DefaultTimeout); err != nil {
			errc <- err
		}
	}()
	return nil
}
