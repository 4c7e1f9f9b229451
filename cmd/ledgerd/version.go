package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	cmtversion "github.com/cometbft/cometbft/version"
	"github.com/spf13/cobra"

	"github.com/civicledger/civicledger/app"
)

func newVersionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "print the versions of ledgerd, cometbft, iavl and go",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := map[string]string{
				"ledgerd":     app.Version,
				"app_version": fmt.Sprint(app.AppVersion),
				"cometbft":    cmtversion.TMCoreSemVer,
				"abci":        cmtversion.ABCISemVer,
				"block":       fmt.Sprint(cmtversion.BlockProtocol),
				"p2p":         fmt.Sprint(cmtversion.P2PProtocol),
				"go":          runtime.Version(),
			}
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, d := range bi.Deps {
					if d.Path == "github.com/cosmos/iavl" {
						v["iavl"] = d.Version
					}
				}
				if bi.Main.Version != "" {
					v["module"] = bi.Main.Version
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(out).Encode(v)
			}
			for _, k := range []string{"ledgerd", "app_version", "cometbft", "abci", "block", "p2p", "iavl", "go"} {
				if v[k] != "" {
					fmt.Fprintf(out, "%-12s %s\n", k, v[k])
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}
