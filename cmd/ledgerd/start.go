package main

import (
	"fmt"
	"os"

	cmtflags "github.com/cometbft/cometbft/libs/cli/flags"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/spf13/cobra"

	"github.com/civicledger/civicledger/internal/exitcode"
	"github.com/civicledger/civicledger/node"
)

func newStartCmd() *cobra.Command {
	var home string
	cmd := &cobra.Command{
		Use:   "start",
		Short: "run the agency's node until interrupted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := node.LoadConfig(home)
			if err != nil {
				return err
			}
			logger := cmtlog.NewTMLogger(cmtlog.NewSyncWriter(os.Stdout))
			if logger, err = cmtflags.ParseLogLevel(cfg.LogLevel, logger, "info"); err != nil {
				return withExit(exitcode.Usage, fmt.Errorf("log_level: %w", err))
			}
			halted := make(chan error, 1)
			n, err := node.New(cfg, logger, node.Options{OnFatal: func(err error) {
				select {
				case halted <- err:
				default:
				}
			}})
			if err != nil {
				return err
			}
			if err := n.Start(); err != nil {
				_ = n.Stop()
				return err
			}
			logger.Info("ledgerd started", "home", home, "rpc", n.RPCURL())
			select {
			case <-cmd.Context().Done():
				logger.Info("ledgerd stopping")
				return n.Stop()
			case herr := <-halted:
				logger.Error("consensus halted; stopping the node", "err", herr)
				_ = n.Stop()
				return fmt.Errorf("consensus halted: %w", herr)
			}
		},
	}
	cmd.Flags().StringVar(&home, flagHome, defaultNodeHome(), "node home directory")
	return cmd
}
