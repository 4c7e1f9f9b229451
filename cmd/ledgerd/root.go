package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

const (
	flagHome     = "home"
	flagAgencies = "agencies"
	flagOutput   = "output"
	flagChainID  = "chain-id"
)

type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func withExit(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code, err}
}

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
				return withExit(2, fmt.Errorf("unknown command %q for \"ledgerd\"", args[0]))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return withExit(2, err) })
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
