package main

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/civicledger/civicledger/version"
)

// newVersionCmd prints the build, as ledgerd version does; the same name
// (version.Info.String) is what proof export writes as a bundle's tool.
func newVersionCmd(g *globalOpts) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print the versions of ledger, cometbft, iavl and go (-o json for JSON)",
		Args:  keysArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := version.Get()
			out := cmd.OutOrStdout()
			if g.Output == "json" {
				return writeJSON(out, v)
			}
			_, err := io.WriteString(out, v.Lines("ledger"))
			return err
		},
	}
}
