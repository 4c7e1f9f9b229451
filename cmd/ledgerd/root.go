package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/civicledger/civicledger/internal/exitcode"
)

const (
	flagHome     = "home"
	flagAgencies = "agencies"
	flagOutput   = "output"
	flagChainID  = "chain-id"
)

// exitError carries an explicit process exit status (exitcode.Error).
type exitError = exitcode.Error

// withExit wraps err so that the process exits with code.
func withExit(code int, err error) error { return exitcode.With(code, err) }

func defaultNodeHome() string {
	if h := os.Getenv("LEDGERD_HOME"); h != "" {
		return h
	}
	dir, err := os.UserHomeDir()
	if err != nil {
		return ".ledgerd"
	}
	return dir + "/.ledgerd"
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "ledgerd",
		Short:         "civic ledger node for agencies",
		SilenceUsage:  true,
		SilenceErrors: true,
		// Unknown subcommands reach here as arguments: a usage error (exit 2).
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return withExit(exitcode.Usage, fmt.Errorf("unknown command %q for \"ledgerd\"", args[0]))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return withExit(exitcode.Usage, err) })
	root.AddCommand(
		newInitCmd(),
		newTestnetCmd(),
		newStartCmd(),
		newDemoCmd(),
		newBenchCmd(),
		newVersionCmd(),
	)
	return root
}
