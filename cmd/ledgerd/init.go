package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/civicledger/civicledger/genesis"
	"github.com/civicledger/civicledger/internal/exitcode"
	"github.com/civicledger/civicledger/internal/keystore"
	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/node"
)

const flagKeyringBackend = "keyring-backend"

func keyring(backend string) (keystore.Backend, keystore.PassphraseFunc, error) {
	switch backend {
	case "file":
		return keystore.BackendFile, keystore.PassphraseFromEnvOrTerminal(os.Stdin, os.Stderr), nil
	case "test":
		return keystore.BackendTest, nil, nil
	}
	return "", nil, withExit(exitcode.Usage, errors.New("--keyring-backend must be file or test"))
}

func newInitCmd() *cobra.Command {
	var o node.InitOptions
	var backend string
	var j node.JoinOptions
	cmd := &cobra.Command{
		Use:   "init",
		Short: "create a node home: a new single-agency chain, or (--join) a new agency's node for a running chain",
		Long: "Without --join: a single-agency chain (config, node and validator keys, admin officer key, genesis).\n\n" +
			"With --join URL (repeatable: RPC URLs of running nodes of other agencies): fetch the chain's genesis\n" +
			"(identical on every node given), create the node key, a fresh validator key and an admin officer key,\n" +
			"set the nodes as persistent peers, and print the agency-add proposal the agencies must vote on. The node\n" +
			"follows the chain as a full node (block sync, or --state-sync from the nodes' snapshots) until the vote\n" +
			"and its notice period make its key a validator.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(j.Peers) > 0 {
				return runJoin(cmd, o, j, backend)
			}
			if cmd.Flags().Changed("state-sync") {
				return withExit(exitcode.Usage, errors.New("--state-sync needs --join"))
			}
			if err := checkGovPeriods(o.VotingPeriod, o.NoticePeriod); err != nil {
				return err
			}
			var err error
			if o.Keyring, o.Passphrase, err = keyring(backend); err != nil {
				return err
			}
			ah, err := node.InitHome(o)
			if err != nil {
				return err
			}
			h, err := genesis.FileHash(ah.Home + "/config/genesis.json")
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "initialised %s for agency %s on chain %s\n", ah.Home, ah.ID, o.ChainID)
			fmt.Fprintf(out, "node id:        %s\n", ah.NodeID)
			fmt.Fprintf(out, "admin officer:  %x (key \"admin\" in %s/keys)\n", []byte(ah.Officers["admin"]), ah.Home)
			fmt.Fprintf(out, "genesis sha256: %x\n", h)
			fmt.Fprintf(out, "start it with:  ledgerd start --home %s\n", ah.Home)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Home, flagHome, defaultNodeHome(), "node home directory")
	f.StringVar(&o.ChainID, flagChainID, "civic-local", "chain id")
	f.StringVar(&o.AgencyID, "agency", "agency-1", "agency id")
	f.StringVar(&o.AgencyName, "agency-name", "", "agency name (default: the id)")
	f.StringVar(&backend, flagKeyringBackend, "file", "officer key storage: file (age-encrypted) or test (plain, unsafe)")
	govPeriodFlags(f, &o.VotingPeriod, &o.NoticePeriod)
	f.StringArrayVar(&j.Peers, "join", nil, "RPC URL of a running node of the chain to join (repeatable)")
	f.BoolVar(&j.StateSync, "state-sync", false, "with --join: restore the state from the nodes' snapshots instead of replaying every block")
	// The defaults quoted are the ones node.DefaultConfig writes.
	d := node.DefaultConfig("")
	f.StringVar(&j.P2PListen, "p2p-laddr", "", fmt.Sprintf("with --join: P2P listen address host:port (default %s: loopback only; give an address the other agencies' nodes can reach)", strings.TrimPrefix(d.P2P.ListenAddress, "tcp://")))
	f.StringVar(&j.RPCListen, "rpc-laddr", "", fmt.Sprintf("with --join: RPC listen address host:port (default %s)", strings.TrimPrefix(d.RPC.ListenAddress, "tcp://")))
	f.StringVar(&j.MetricsListen, "metrics-laddr", "", fmt.Sprintf("with --join: Prometheus listen address host:port (default %s)", d.Instrumentation.PrometheusListenAddr))
	f.BoolVar(&j.Fast, "fast", false, "with --join: short consensus timeouts (must match a network made with testnet --fast)")
	return cmd
}

// runJoin is `ledgerd init --join`.
func runJoin(cmd *cobra.Command, o node.InitOptions, j node.JoinOptions, backend string) error {
	f := cmd.Flags()
	for _, name := range []string{flagChainID, "voting-period", "notice-period"} {
		if f.Changed(name) {
			return withExit(exitcode.Usage, fmt.Errorf("--%s cannot be used with --join: the chain's genesis decides", name))
		}
	}
	if !f.Changed("agency") {
		return withExit(exitcode.Usage, errors.New("--join needs --agency: the id the new agency will propose for itself"))
	}
	var err error
	if j.Keyring, j.Passphrase, err = keyring(backend); err != nil {
		return err
	}
	j.Home, j.AgencyID = o.Home, o.AgencyID
	ctx, cancel := context.WithTimeout(cmd.Context(), 60*time.Second)
	defer cancel()
	res, err := node.JoinHome(ctx, j)
	if err != nil {
		return err
	}
	name := o.AgencyName
	if name == "" {
		name = o.AgencyID
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "initialised %s for agency %s to join chain %s\n", res.Home.Home, res.Home.ID, res.ChainID)
	fmt.Fprintf(out, "genesis sha256: %x (compare it with the published one)\n", res.GenesisHash)
	fmt.Fprintf(out, "node id:        %s\n", res.Home.NodeID)
	fmt.Fprintf(out, "validator key:  %x\n", res.ValidatorKey)
	fmt.Fprintf(out, "admin officer:  %x (key \"admin\" in %s/keys)\n", res.AdminKey, res.Home.Home)
	if j.StateSync {
		if len(j.Peers) > 1 {
			fmt.Fprintf(out, "state sync:     trusting header %d %X (served alike by all %d --join nodes)\n", res.TrustHeight, res.TrustHash, len(j.Peers))
		} else {
			fmt.Fprintf(out, "state sync:     trusting header %d %X from %s (confirm it with another agency)\n", res.TrustHeight, res.TrustHash, j.Peers[0])
		}
		fmt.Fprintf(out, "                the peers must hold a snapshot (one every snapshot_interval blocks, 1000 by default):\n")
		fmt.Fprintf(out, "                on a younger chain, init again without --state-sync\n")
	} else {
		fmt.Fprintf(out, "sync:           block sync from the peers (every block is replayed)\n")
	}
	fmt.Fprintf(out, "start it with:  ledgerd start --home %s\n\n", res.Home.Home)
	fmt.Fprintf(out, "Then an admin officer of an existing agency proposes the admission, and the agencies vote:\n")
	fmt.Fprintf(out, "  ledger --node %s tx gov propose agency-add --from <admin> \\\n", j.Peers[0])
	fmt.Fprintf(out, "      --target %s --name %q --validator-key %x --power <power> \\\n", res.Home.ID, name, res.ValidatorKey)
	fmt.Fprintf(out, "      --admin-key %x --admin-name %q \\\n", res.AdminKey, name+" admin officer")
	fmt.Fprintf(out, "      --title %q --legal-basis <text> --document <decision.pdf>\n", "Admit "+name)
	fmt.Fprintf(out, "  ledger tx gov vote <id> yes --from <admin>     # by each agency's admin\n")
	return nil
}

func newTestnetCmd() *cobra.Command {
	var o node.TestnetOptions
	var backend string
	cmd := &cobra.Command{
		Use:   "testnet",
		Short: "generate N agency homes for a local network (distinct loopback ports, shared genesis)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkGovPeriods(o.VotingPeriod, o.NoticePeriod); err != nil {
				return err
			}
			var err error
			if o.Keyring, o.Passphrase, err = keyring(backend); err != nil {
				return err
			}
			if o.Output == "" {
				return withExit(exitcode.Usage, errors.New("--output is required"))
			}
			if o.Agencies < 1 || o.Agencies > 50 {
				return withExit(exitcode.Usage, errors.New("--agencies must be between 1 and 50"))
			}
			tn, err := node.GenerateTestnet(o)
			if err != nil {
				return err
			}
			h, err := genesis.FileHash(tn.Genesis)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "generated %d agencies for chain %s in %s (genesis sha256 %x)\n", len(tn.Agencies), tn.ChainID, o.Output, h)
			for _, a := range tn.Agencies {
				fmt.Fprintf(out, "  %-10s rpc %-24s p2p %-18s metrics %s\n", a.ID, a.RPC, a.P2P, a.Metrics)
			}
			fmt.Fprintf(out, "start each node with: ledgerd start --home %s/agency-N\n", o.Output)
			fmt.Fprintf(out, "scrape their metrics with: cd %s && prometheus --config.file=%s\n", o.Output, node.PrometheusConfigFile)
			if a := tn.Auditor; a != nil {
				fmt.Fprintf(out, "auditor full node (psql event sink, not a validator): rpc %s p2p %s\n", a.RPC, a.P2P)
				fmt.Fprintf(out, "load docs/psql-schema.sql into the database first, then: ledgerd start --home %s\n", a.Home)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Agencies, flagAgencies, 4, "number of agencies (validators)")
	f.StringVar(&o.Output, flagOutput, "", "output directory (created; must be empty)")
	f.StringVar(&o.ChainID, flagChainID, "civic-testnet", "chain id")
	f.IntVar(&o.BasePort, "base-port", 26656, "first P2P port; agency i uses base+100i (p2p), +1 (rpc), +4 (metrics); 0 picks free ports")
	f.BoolVar(&o.Fast, "fast", false, "short consensus timeouts (local networks)")
	f.BoolVar(&o.ExtraOfficers, "officers", false, "also create grants, licensing, finance and finance2 officers per agency")
	f.StringVar(&backend, flagKeyringBackend, "file", "officer key storage: file (age-encrypted) or test (plain, unsafe)")
	govPeriodFlags(f, &o.VotingPeriod, &o.NoticePeriod)
	f.StringVar(&o.AuditorPsql, "auditor-psql", "", "also generate a non-validator auditor full node (home \"auditor\") indexing events into this PostgreSQL database (postgres://...; see docs/auditors.md)")
	return cmd
}

// govPeriodFlags registers --voting-period and --notice-period, which set
// the governance periods of the genesis parameters (0: the default).
func govPeriodFlags(f *pflag.FlagSet, voting, notice *int64) {
	d := ledger.DefaultParams()
	f.Int64Var(voting, "voting-period", 0, fmt.Sprintf("blocks during which agencies may vote on a governance proposal (0: the default, %d)", d.VotingPeriod))
	f.Int64Var(notice, "notice-period", 0, fmt.Sprintf("blocks between a proposal passing and taking effect (0: the default, %d)", d.NoticePeriod))
}

func checkGovPeriods(voting, notice int64) error {
	if voting < 0 || voting > maxGovPeriod {
		return withExit(exitcode.Usage, fmt.Errorf("--voting-period must be between 1 and %d blocks (0: the default)", maxGovPeriod))
	}
	if notice < 0 || notice > maxGovPeriod {
		return withExit(exitcode.Usage, fmt.Errorf("--notice-period must be between 1 and %d blocks (0: the default)", maxGovPeriod))
	}
	return nil
}

// maxGovPeriod is the longest governance period ledger.Params accepts.
const maxGovPeriod = 10_000_000
