package main

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/civicledger/civicledger/internal/atomicfile"
	"github.com/civicledger/civicledger/internal/keystore"
)

// keysScryptWorkFactor, when non-zero, overrides the scrypt work factor of
// the file backend. Tests lower it; production leaves it at age's default.
var keysScryptWorkFactor int

// maxImportSize bounds the file read by "keys import"; exports are < 2 KiB.
const maxImportSize = 64 << 10

// openKeyStore opens the key store in g.Home/keys. Passphrase prompts go to
// prompts.
func openKeyStore(g *globalOpts, prompts io.Writer) (*keystore.Store, error) {
	s, err := keystore.Open(filepath.Join(g.Home, "keys"), keystore.Backend(g.KeyringBackend),
		keystore.PassphraseFromEnvOrTerminal(os.Stdin, prompts))
	if err != nil {
		return nil, err
	}
	if keysScryptWorkFactor != 0 {
		if err := s.SetScryptWorkFactor(keysScryptWorkFactor); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// loadSigner returns the private key called name from the key store of g,
// asking for its passphrase (LEDGER_KEY_PASSPHRASE or the terminal, prompts
// on stderr) with the file backend.
func loadSigner(g *globalOpts, name string) (ed25519.PrivateKey, error) {
	s, err := openKeyStore(g, os.Stderr)
	if err != nil {
		return nil, err
	}
	return keysErr(s.PrivKey(name))
}

// keysErr turns a bad key name into a usage error (exit status 2).
func keysErr[T any](v T, err error) (T, error) {
	if errors.Is(err, keystore.ErrBadName) {
		err = withExit(exitUsage, err)
	}
	return v, err
}

// keysArgs is cobra.ExactArgs with a usage-error exit status.
func keysArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return withExit(exitUsage, fmt.Errorf("usage: %s", cmd.UseLine()))
		}
		return nil
	}
}

func newKeysCmd(g *globalOpts) *cobra.Command {
	keys := &cobra.Command{
		Use:   "keys",
		Short: "manage officer signing keys",
		Long: "manage the ed25519 keys that agency officers sign transactions with.\n\n" +
			"keys are stored in <home>/keys. with --keyring-backend file (the default) each\n" +
			"private key is encrypted with a passphrase (age, scrypt); the passphrase is read\n" +
			"from " + keystore.PassphraseEnv + " if set, else from the terminal. with\n" +
			"--keyring-backend test keys are stored unencrypted: for demos and tests only.",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return withExit(exitUsage, fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath()))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	keys.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return withExit(exitUsage, err) })
	keys.AddCommand(
		newKeysAddCmd(g),
		newKeysListCmd(g),
		newKeysShowCmd(g),
		newKeysExportCmd(g),
		newKeysImportCmd(g),
		newKeysDeleteCmd(g),
	)
	return keys
}

func newKeysAddCmd(g *globalOpts) *cobra.Command {
	var agency string
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "generate a new key",
		Long: "generate a new ed25519 key called NAME and store it.\n\n" +
			"names are 1-64 letters, digits, '.', '_' or '-', not starting with '.'.\n" +
			"register the printed public key as an officer of your agency.",
		Args: keysArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openKeyStore(g, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			info, err := keysErr(s.Add(args[0], agency))
			if err != nil {
				return err
			}
			var reminder string
			if s.Backend() == keystore.BackendTest {
				reminder = "warning: the test backend stores this key unencrypted; do not use it for a real officer key"
			} else {
				reminder = "keep your passphrase safe: without it the key cannot be used or recovered (back it up with 'ledger keys export')"
			}
			out := cmd.OutOrStdout()
			if g.Output == "json" {
				fmt.Fprintln(cmd.ErrOrStderr(), reminder)
				return keysWriteJSON(out, info)
			}
			printKeyInfo(out, info)
			fmt.Fprintln(out)
			fmt.Fprintln(out, reminder)
			return nil
		},
	}
	cmd.Flags().StringVar(&agency, "agency", "", "id of the agency the officer belongs to (informational)")
	return cmd
}

func newKeysListCmd(g *globalOpts) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "list stored keys",
		Args:  keysArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openKeyStore(g, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			list, err := s.List()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if g.Output == "json" {
				return keysWriteJSON(out, list)
			}
			// Keys of the other backend in the same directory are not listed:
			// say so, or a user who made them with the other backend thinks
			// them lost.
			other := keystore.BackendTest
			if s.Backend() == keystore.BackendTest {
				other = keystore.BackendFile
			}
			if os2, err := keystore.Open(s.Dir(), other, nil); err == nil {
				if ol, err := os2.List(); err == nil && len(ol) > 0 {
					fmt.Fprintf(cmd.ErrOrStderr(), "note: %d key(s) of the %s backend are in %s too (not listed): add --keyring-backend %s to list or use them\n",
						len(ol), other, s.Dir(), other)
				}
			}
			if len(list) == 0 {
				fmt.Fprintf(out, "no keys (backend %s) in %s\n", s.Backend(), s.Dir())
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tAGENCY\tPUBKEY (BASE64)")
			for _, i := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", i.Name, orDash(i.Agency), i.PubKey)
			}
			return tw.Flush()
		},
	}
}

func newKeysShowCmd(g *globalOpts) *cobra.Command {
	var pubOnly bool
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "show a key's public details",
		Args:  keysArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openKeyStore(g, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			info, err := keysErr(s.Show(args[0]))
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch {
			case pubOnly:
				fmt.Fprintln(out, info.PubKey)
				return nil
			case g.Output == "json":
				return keysWriteJSON(out, info)
			}
			printKeyInfo(out, info)
			return nil
		},
	}
	cmd.Flags().BoolVar(&pubOnly, "pubkey", false, "print only the base64 public key")
	return cmd
}

func newKeysExportCmd(g *globalOpts) *cobra.Command {
	var outFile string
	cmd := &cobra.Command{
		Use:   "export NAME",
		Short: "export a key for backup or transfer",
		Long: "export the key NAME. with the file backend the export is an armored age file\n" +
			"encrypted with a passphrase chosen now (it may differ from the key's own); with\n" +
			"the test backend it is the unencrypted key. read it back with 'ledger keys import'.",
		Args: keysArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openKeyStore(g, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			data, err := keysErr(s.Export(args[0]))
			if err != nil {
				return err
			}
			if s.Backend() == keystore.BackendTest {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning: the export of a test-backend key is not encrypted")
			}
			if outFile == "" {
				_, err := cmd.OutOrStdout().Write(data)
				return err
			}
			if err := keysWriteNewFile(outFile, data); err != nil {
				return err
			}
			if g.Output == "json" {
				return keysWriteJSON(cmd.OutOrStdout(), map[string]string{"name": args[0], "file": outFile})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "exported key %s to %s\n", args[0], outFile)
			return nil
		},
	}
	cmd.Flags().StringVar(&outFile, "out", "", "write the export to this file (created with mode 0600, never overwritten) instead of stdout")
	return cmd
}

func newKeysImportCmd(g *globalOpts) *cobra.Command {
	return &cobra.Command{
		Use:   "import NAME FILE",
		Short: "import a key exported with 'ledger keys export'",
		Args:  keysArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := keysReadFile(args[1], maxImportSize)
			if err != nil {
				return err
			}
			s, err := openKeyStore(g, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			info, err := keysErr(s.Import(args[0], data))
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if g.Output == "json" {
				return keysWriteJSON(out, info)
			}
			printKeyInfo(out, info)
			return nil
		},
	}
}

func newKeysDeleteCmd(g *globalOpts) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete NAME --yes",
		Short: "delete a key (irreversible)",
		Long:  "delete the key NAME. this cannot be undone: export it first if it may be needed again.",
		Args:  keysArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes {
				return withExit(exitUsage, fmt.Errorf("refusing to delete key %q without --yes (this cannot be undone)", args[0]))
			}
			s, err := openKeyStore(g, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if err := s.Delete(args[0]); err != nil {
				_, err = keysErr(struct{}{}, err)
				return err
			}
			if g.Output == "json" {
				return keysWriteJSON(cmd.OutOrStdout(), map[string]string{"deleted": args[0]})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted key %s\n", args[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm the deletion")
	return cmd
}

func printKeyInfo(w io.Writer, i keystore.Info) {
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	fmt.Fprintf(tw, "name:\t%s\n", i.Name)
	fmt.Fprintf(tw, "algo:\t%s\n", i.Algo)
	fmt.Fprintf(tw, "agency:\t%s\n", orDash(i.Agency))
	fmt.Fprintf(tw, "pubkey:\t%s (base64, as agency records show it)\n", i.PubKey)
	fmt.Fprintf(tw, "pubkey hex:\t%s (as events and rule errors show it)\n", i.PubHex)
	fmt.Fprintf(tw, "backend:\t%s\n", i.Backend)
	tw.Flush()
}

func keysWriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// keysWriteNewFile creates path with mode 0600, whole or not at all,
// refusing to overwrite it.
func keysWriteNewFile(path string, data []byte) error {
	err := atomicfile.Write(path, data, 0o600, false)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s already exists; refusing to overwrite it", path)
	}
	return err
}

// keysReadFile reads a key export of at most limit bytes.
func keysReadFile(path string, limit int64) ([]byte, error) {
	data, err := keystore.ReadFile(path, limit)
	if errors.Is(err, keystore.ErrTooLarge) {
		return nil, fmt.Errorf("%s: too large for a key export", path)
	}
	return data, err
}
