package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/civicledger/civicledger/internal/exitcode"
)

// Flag names shared by several subcommands.
const (
	flagHome           = "home"
	flagNode           = "node"
	flagOutput         = "output"
	flagKeyringBackend = "keyring-backend"
)

// globalOpts holds the persistent flags of the root command. Subcommands
// receive a pointer and read it in RunE, after flags are parsed.
type globalOpts struct {
	Home           string // client home; keys live in Home/keys
	Node           string // CometBFT RPC URL of the node to talk to
	Output         string // "text" or "json"
	KeyringBackend string // "file" (age-encrypted, default) or "test" (plain, for demos and tests)
}

// exitError carries an explicit process exit status (exitcode.Error).
type exitError = exitcode.Error

// withExit wraps err so that the process exits with code.
func withExit(code int, err error) error { return exitcode.With(code, err) }

// exitCode is the exit status for a failed command's err.
func exitCode(err error) int { return exitcode.Of(err) }

func defaultHome() string {
	if h := os.Getenv("LEDGER_HOME"); h != "" {
		return h
	}
	dir, err := os.UserHomeDir()
	if err != nil {
		return ".ledger"
	}
	return filepath.Join(dir, ".ledger")
}

func newRootCmd() *cobra.Command {
	g := &globalOpts{}
	root := &cobra.Command{
		Use:           "ledger",
		Short:         "civic ledger client: keys, transactions, queries",
		SilenceUsage:  true,
		SilenceErrors: true,
		// Unknown subcommands reach here as arguments: a usage error (exit 2).
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return withExit(exitcode.Usage, fmt.Errorf("unknown command %q for \"ledger\"", args[0]))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			switch g.Output {
			case "text", "json":
			default:
				return withExit(exitcode.Usage, errors.New("--output must be text or json"))
			}
			switch g.KeyringBackend {
			case "file", "test":
			default:
				return withExit(exitcode.Usage, errors.New("--keyring-backend must be file or test"))
			}
			return nil
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.Home, flagHome, defaultHome(), "client home directory (keys, trust roots)")
	pf.StringVar(&g.Node, flagNode, "http://127.0.0.1:26657", "CometBFT RPC address of a node")
	pf.StringVarP(&g.Output, flagOutput, "o", "text", "output format: text or json")
	pf.StringVar(&g.KeyringBackend, flagKeyringBackend, "file", "key storage: file (age-encrypted) or test (plain, unsafe)")

	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return withExit(exitcode.Usage, err) })
	root.AddCommand(
		newKeysCmd(g),
		newTxCmd(g),
		newQueryCmd(g),
		newVerifyCmd(g), newTrustCmd(g),
		newProofCmd(g),
		newOpenExportCmd(g),
		newAuditCmd(g),
		newVersionCmd(g),
	)
	return root
}
