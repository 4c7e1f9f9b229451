package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/civicledger/civicledger/client"
)

func newTrustCmd(g *globalOpts) *cobra.Command {
	c := groupCmd("trust", "set up and show the trust root that 'ledger verify' starts from",
		newTrustInitCmd(g), newTrustShowCmd(g), newTrustResetCmd(g))
	c.Long = "the trust root of a chain is what 'ledger verify' believes without proof: the\n" +
		"chain's genesis file (as the agencies publish it, by its sha256) or a header\n" +
		"(height and hash) obtained out of band. every header is verified from it. trust\n" +
		"states live in <home>/trust/<chain-id>.json, with the last header verified: a\n" +
		"chain that later contradicts it is refused."
	return c
}

func newTrustInitCmd(g *globalOpts) *cobra.Command {
	var genesis, hash, chainID string
	var height int64
	cmd := &cobra.Command{
		Use:   "init (--genesis FILE | --height H --hash HEX [--chain-id ID])",
		Short: "trust a chain from its genesis file or from a checkpoint header",
		Long: "--genesis FILE: trust the chain of this genesis file. the chain's first header is\n" +
			"fetched from --node and must be signed by more than 2/3 of the genesis validators.\n" +
			"prints the chain id, the file's sha256 (compare it with the one the agencies\n" +
			"publish) and the trusted root header.\n\n" +
			"--height H --hash HEX: trust header H with this hash, obtained out of band (the\n" +
			"chain id is --chain-id, or the node's). it is not checked now: the first\n" +
			"'ledger verify' checks that the chain has this header at H, and fails with exit\n" +
			"status 1 if it has not (a wrong checkpoint, or a node on another chain).\n\n" +
			"a chain is trusted once: initialising it again from the same root keeps the\n" +
			"stored state; from a different root is refused. if the agencies restarted the\n" +
			"chain from a new genesis file (as every demo run does), run 'ledger trust reset\n" +
			"--chain-id ID' first.\n\n" +
			"exit status: 0 trusted; 1 the first header does not match the genesis file, or\n" +
			"the chain is already trusted from a different root; 2 usage error, unreadable\n" +
			"file, or the node could not be reached.",
		Args: keysArgs(0),
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		fs := cmd.Flags()
		byGenesis := fs.Changed("genesis")
		byCheckpoint := fs.Changed("height") || fs.Changed("hash") || fs.Changed("chain-id")
		switch {
		case byGenesis && byCheckpoint:
			return usagef("--genesis cannot be combined with --height, --hash or --chain-id")
		case byGenesis:
			return trustFromGenesis(cmd, g, genesis)
		case byCheckpoint:
			if err := requireFlags(cmd, "height", "hash"); err != nil {
				return err
			}
			return trustFromCheckpoint(cmd, g, chainID, height, hash)
		}
		return usagef("give --genesis FILE, or --height H and --hash HEX (see '%s --help')", cmd.CommandPath())
	}
	fs := cmd.Flags()
	fs.StringVar(&genesis, "genesis", "", "the chain's genesis file")
	fs.Int64Var(&height, "height", 0, "height of a checkpoint header")
	fs.StringVar(&hash, "hash", "", "hash of the checkpoint header (64 hex digits)")
	fs.StringVar(&chainID, "chain-id", "", "chain id of the checkpoint (default: the node's)")
	return cmd
}

// checkNewRoot applies the trust-root replacement policy
// (client.CheckNewRoot): the stored state to keep, nil if the chain is not
// trusted yet; a root that conflicts with the stored one exits 1, with
// conflict's wording of the stored root.
func checkNewRoot(home string, root *client.TrustState, conflict func(stored string) error) (*client.TrustState, error) {
	old, err := client.CheckNewRoot(home, root)
	var rc *client.RootConflictError
	switch {
	case errors.As(err, &rc):
		return nil, withExit(exitFailed, conflict(describeRoot(rc.Stored)))
	case err != nil:
		return nil, withExit(exitUsage, err)
	}
	return old, nil
}

func describeRoot(ts *client.TrustState) string {
	if ts.GenesisSHA256 != "" {
		return fmt.Sprintf("the genesis file with sha256 %s", ts.GenesisSHA256)
	}
	return fmt.Sprintf("a checkpoint (header %d %s)", ts.Root.Height, ts.Root.Hash)
}

func trustFromGenesis(cmd *cobra.Command, g *globalOpts, path string) error {
	doc, sum, err := client.LoadGenesisFile(path)
	if err != nil {
		return usagef("--genesis: %v", err)
	}
	old, err := checkNewRoot(g.Home, &client.TrustState{ChainID: doc.ChainID, GenesisSHA256: sum}, func(stored string) error {
		return fmt.Errorf("chain %s is already trusted from %s, not from %s (sha256 %s); %s", doc.ChainID, stored, path, sum, resetHint(doc.ChainID))
	})
	if err != nil {
		return err
	}
	if old != nil {
		return printTrustState(cmd.OutOrStdout(), g, old, "already trusted from this genesis file: the stored state is kept")
	}
	c, err := newQueryClient(g)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), verifyTimeout)
	defer cancel()
	// Fail at once if the node is down (InitTrustFromGenesis would wait).
	if _, err := c.Status(ctx); err != nil {
		return withExit(exitUsage, err)
	}
	ts, err := client.InitTrustFromGenesis(ctx, g.Home, path, g.Node)
	if err != nil {
		return verifyExit(fmt.Errorf("trust %s from %s: %w", doc.ChainID, path, err))
	}
	return printTrustState(cmd.OutOrStdout(), g, ts, fmt.Sprintf("header %d from %s is signed by more than 2/3 of the genesis validators", ts.Root.Height, g.Node))
}

func trustFromCheckpoint(cmd *cobra.Command, g *globalOpts, chainID string, height int64, hash string) error {
	if b, err := hex.DecodeString(hash); err != nil || len(b) != 32 {
		return usagef("--hash must be a 32-byte header hash in hex (64 digits)")
	}
	if height < 1 {
		return usagef("--height must be positive")
	}
	if chainID == "" {
		id, err := nodeChainID(cmd, g, "(or give --chain-id)")
		if err != nil {
			return err
		}
		chainID = id
	}
	root := &client.TrustState{ChainID: chainID, Root: client.Checkpoint{Height: height, Hash: hash}}
	old, err := checkNewRoot(g.Home, root, func(stored string) error {
		return fmt.Errorf("chain %s is already trusted from %s; %s", chainID, stored, resetHint(chainID))
	})
	if err != nil {
		return err
	}
	if old != nil {
		return printTrustState(cmd.OutOrStdout(), g, old, "already trusted from this checkpoint: the stored state is kept")
	}
	ts, err := client.InitTrustCheckpoint(g.Home, chainID, height, hash)
	if err != nil {
		return withExit(exitUsage, err)
	}
	return printTrustState(cmd.OutOrStdout(), g, ts,
		"not checked yet: the first 'ledger verify' checks that the chain has this header (exit status 1 if not)")
}

func newTrustShowCmd(g *globalOpts) *cobra.Command {
	return &cobra.Command{
		Use:   "show",
		Short: "show the trust state of the node's chain",
		Long: "show the stored trust state of the chain --node serves: its root and the last\n" +
			"header verified.\n\nexit status: 0 shown; 2 no trust root for the chain, or the node\n" +
			"could not be reached.",
		Args: keysArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			chainID, err := nodeChainID(cmd, g, "")
			if err != nil {
				return err
			}
			ts, err := client.LoadTrust(g.Home, chainID)
			if err != nil {
				return withExit(exitUsage, err)
			}
			return printTrustState(cmd.OutOrStdout(), g, ts, "")
		},
	}
}

// nodeChainID asks --node which chain it serves (within verifyTimeout). A
// node that does not answer is a usage error (exit 2): nothing could be
// checked; hint, if set, follows its error.
func nodeChainID(cmd *cobra.Command, g *globalOpts, hint string) (string, error) {
	c, err := newQueryClient(g)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), verifyTimeout)
	defer cancel()
	st, err := c.Status(ctx)
	if err != nil {
		if hint != "" {
			err = fmt.Errorf("%w %s", err, hint)
		}
		return "", withExit(exitUsage, err)
	}
	return st.NodeInfo.Network, nil
}

// resetHint says how to trust a chain anew.
func resetHint(chainID string) string {
	return fmt.Sprintf("if the agencies restarted the chain from a new genesis file (as every demo run does), reset trust with 'ledger trust reset --chain-id %s', then 'ledger trust init --genesis NEW_FILE'", chainID)
}

func newTrustResetCmd(g *globalOpts) *cobra.Command {
	var chainID string
	cmd := &cobra.Command{
		Use:   "reset --chain-id ID",
		Short: "forget the trust state of a chain (after the agencies restarted it from a new genesis file)",
		Long: "remove the trust state of chain ID from <home>/trust: its root, the last header\n" +
			"verified and the trusted genesis file. 'ledger verify' then refuses the chain until\n" +
			"'ledger trust init' trusts it again. do this only when the agencies restarted the\n" +
			"chain from a new genesis file that they published (every demo run makes one): a\n" +
			"node that merely serves other headers is not a reason to forget what you verified.\n" +
			"other chains' trust states are untouched. no node is contacted.\n\n" +
			"exit status: 0 removed; 2 usage error, or the chain is not trusted.",
		Args: keysArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "chain-id"); err != nil {
				return err
			}
			old, err := client.ResetTrust(g.Home, chainID)
			if err != nil {
				return withExit(exitUsage, err)
			}
			w := cmd.OutOrStdout()
			if g.Output == "json" {
				return writeJSON(w, struct {
					Removed *client.TrustState `json:"removed"`
					File    string             `json:"file"`
				}{old, trustFile(g.Home, chainID)})
			}
			_, err = fmt.Fprintf(w, "removed the trust state of chain %s (root: %s; last verified: header %d %s)\nto trust the chain again: ledger trust init --genesis FILE (or --height H --hash HEX)\n",
				chainID, describeRoot(old), old.LastVerified.Height, old.LastVerified.Hash)
			return err
		},
	}
	cmd.Flags().StringVar(&chainID, "chain-id", "", "the chain whose trust state to remove (required)")
	return cmd
}

func trustFile(home, chainID string) string {
	return filepath.Join(client.TrustDir(home), chainID+".json")
}

func printTrustState(w io.Writer, g *globalOpts, ts *client.TrustState, note string) error {
	if g.Output == "json" {
		return writeJSON(w, struct {
			*client.TrustState
			File string `json:"file"`
			Note string `json:"note,omitempty"`
		}{ts, trustFile(g.Home, ts.ChainID), note})
	}
	kv := newKV(w)
	kv.add("chain id", "%s", ts.ChainID)
	if ts.GenesisSHA256 != "" {
		kv.add("genesis sha256", "%s", ts.GenesisSHA256)
	} else {
		kv.add("genesis sha256", "- (checkpoint root)")
	}
	kv.add("trusted root", "height %d hash %s", ts.Root.Height, ts.Root.Hash)
	kv.add("last verified", "height %d hash %s", ts.LastVerified.Height, ts.LastVerified.Hash)
	kv.add("trust file", "%s", trustFile(g.Home, ts.ChainID))
	if note != "" {
		kv.add("note", "%s", note)
	}
	return kv.flush()
}

// newVerifier is client.NewVerifier for g's home and node; when the node
// does not serve the trusted chain, the error says how to recover if the
// agencies restarted it.
func newVerifier(ctx context.Context, g *globalOpts, witnesses []string) (*client.Verifier, error) {
	v, err := client.NewVerifier(ctx, g.Home, g.Node, witnesses)
	var rm *client.RootMismatchError
	if errors.As(err, &rm) {
		if rm.Restarted {
			return nil, fmt.Errorf("%w; if the agencies published that new genesis file, reset trust with 'ledger trust reset --chain-id %s', then 'ledger trust init --genesis NEW_FILE'", err, rm.ChainID)
		}
		if rm.Checkpoint {
			return nil, fmt.Errorf("%w; a wrong checkpoint (compare its hash with the one the agencies published), or a node on another chain; to trust anew: 'ledger trust reset --chain-id %s', then 'ledger trust init'", err, rm.ChainID)
		}
		return nil, fmt.Errorf("%w; do not trust this node unless the agencies say they restarted the chain (then: 'ledger trust reset --chain-id %s' and 'ledger trust init --genesis NEW_FILE')", err, rm.ChainID)
	}
	return v, err
}
