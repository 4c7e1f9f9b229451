package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/ledger"
)

// Governance: "ledger tx gov propose KIND" and "ledger tx gov vote", and the
// queries "ledger query proposal ID" and "ledger query proposals".

func newGovTxCmd(g *globalOpts, o *txFlags) *cobra.Command {
	propose := groupCmd("propose", "propose a change of the validator set or of the chain parameters",
		newProposeAgencyAddCmd(g, o), newProposeAgencyRemoveCmd(g, o), newProposeAgencyPowerCmd(g, o),
		newProposeValidatorRotateCmd(g, o), newProposeParamsChangeCmd(g, o))
	propose.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usagef("unknown proposal kind %q for %q (kinds: %s)", args[0], cmd.CommandPath(), strings.Join(ledger.ProposalKinds, ", "))
		}
		return nil
	}
	propose.Long = "propose a change that no agency may make on its own: adding, removing or\n" +
		"re-weighting an agency's validator, rotating a validator key, or changing the\n" +
		"chain parameters. the --from key must be an admin officer of the acting agency.\n\n" +
		"the agencies' admin officers then vote ('ledger tx gov vote'), one vote per\n" +
		"agency weighted by its voting power when the proposal was made. a proposal\n" +
		"passes once more than 2/3 of that power voted yes within the voting period,\n" +
		"and takes effect after the notice period, if its guard rails still hold then\n" +
		"(a change may move at most 1/3 of the voting power; the validator set may\n" +
		"not become empty). every proposal needs --title, --legal-basis and the hash of\n" +
		"the document that sets it out (--document-hash or --document)."
	gov := groupCmd("gov", "propose governance changes and vote on them (admin role)", propose, newGovVoteCmd(g, o))
	gov.Long = "governance of the validator set and the chain parameters by the agencies'\n" +
		"admin officers: see 'ledger tx gov propose --help'. proposals are read with\n" +
		"'ledger query proposal ID' and 'ledger query proposals'."
	return gov
}

// ---- proposals ----

// proposeFlags are the flags every proposal has.
type proposeFlags struct {
	title, legalBasis string
	doc               docFlags
}

func (f *proposeFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.title, "title", "", "short title of the proposal (required)")
	fs.StringVar(&f.legalBasis, "legal-basis", "", "the law or decision under which the change is made (required)")
	f.doc.register(fs, "document", "the document that sets out the proposal")
}

// proposeSpec describes one "tx gov propose KIND" command.
type proposeSpec struct {
	kind, short, long string
	// target, if set, describes the agency the proposal is about: the
	// command has --target, checked and set as the proposal's Target
	// before fill.
	target string
	// flags registers the kind's other flags; required lists the ones that
	// must be set (beside --title and --legal-basis).
	flags    func(fs *pflag.FlagSet)
	required []string
	// fill, if set, sets the kind's other fields of the proposal from the
	// flags, without talking to the node; usage errors carry exit status 2.
	fill func(cmd *cobra.Command, p *ledger.GovPropose) error
	// resolve, if set, completes the proposal with data read from the node.
	resolve func(ctx context.Context, c *client.Client, p *ledger.GovPropose) error
}

func newProposeCmd(g *globalOpts, o *txFlags, s proposeSpec) *cobra.Command {
	var f proposeFlags
	var target string
	cmd := &cobra.Command{Use: s.kind, Short: s.short, Long: s.long, Args: keysArgs(0)}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		spec := txSpec{
			payload: func() (ledger.Payload, error) {
				if err := requireFlags(cmd, append([]string{"title", "legal-basis"}, s.required...)...); err != nil {
					return nil, err
				}
				hash, err := f.doc.hash()
				if err != nil {
					return nil, err
				}
				p := &ledger.GovPropose{Kind: s.kind, Title: f.title, LegalBasis: f.legalBasis, DocumentHash: hash}
				if s.target != "" {
					if err := checkID("--target", target); err != nil {
						return nil, err
					}
					p.Target = target
				}
				if s.fill != nil {
					if err := s.fill(cmd, p); err != nil {
						return nil, err
					}
				}
				return p, nil
			},
			report: proposeReport,
		}
		if s.resolve != nil {
			spec.resolve = func(ctx context.Context, c *client.Client, p ledger.Payload) error {
				return s.resolve(ctx, c, p.(*ledger.GovPropose))
			}
		}
		return runTx(cmd, g, o, spec)
	}
	fs := cmd.Flags()
	f.register(fs)
	if s.target != "" {
		fs.StringVar(&target, "target", "", s.target+" (required)")
	}
	if s.flags != nil {
		s.flags(fs)
	}
	return cmd
}

func powerFlag(fs *pflag.FlagSet, power *int64, what string) {
	fs.Int64Var(power, "power", 0, what+fmt.Sprintf(" (1-%d; one change may move at most 1/3 of the total power) (required)", int64(ledger.MaxPower)))
}

func checkPowerFlag(power int64) error {
	if power < 1 || power > ledger.MaxPower {
		return usagef("--power must be between 1 and %d", int64(ledger.MaxPower))
	}
	return nil
}

func newProposeAgencyAddCmd(g *globalOpts, o *txFlags) *cobra.Command {
	var name, jurisdiction, adminName string
	var power int64
	var vk validatorKeyFlags
	var admin officerKeyFlags
	return newProposeCmd(g, o, proposeSpec{
		kind:  ledger.ProposalAgencyAdd,
		short: "propose a new agency with a validator and an admin officer",
		long: "propose a new agency: its id (--target), name, validator key and power, and its\n" +
			"first admin officer. the joining agency gives its validator key: the pub_key of\n" +
			"its node's config/priv_validator_key.json (--validator-key-file reads it there;\n" +
			"the private key in that file is not read), and its admin officer's key.",
		target:   "id of the new agency",
		required: []string{"target", "name", "power", "admin-name"},
		flags: func(fs *pflag.FlagSet) {
			fs.StringVar(&name, "name", "", "name of the new agency (required)")
			fs.StringVar(&jurisdiction, "jurisdiction", "", "jurisdiction of the new agency")
			vk.register(fs, "the new agency's validator")
			powerFlag(fs, &power, "voting power of the new agency's validator")
			admin.registerAs(fs, "admin-key", "the new agency's admin officer")
			fs.StringVar(&adminName, "admin-name", "", "name or title of the new agency's admin officer (required)")
		},
		fill: func(cmd *cobra.Command, p *ledger.GovPropose) error {
			if err := checkPowerFlag(power); err != nil {
				return err
			}
			key, err := vk.resolve(cmd)
			if err != nil {
				return err
			}
			adminKey, err := admin.resolve(cmd, g)
			if err != nil {
				return err
			}
			p.Name, p.Jurisdiction, p.ValidatorKey, p.Power = name, jurisdiction, key, power
			p.AdminKey, p.AdminName = adminKey, adminName
			return nil
		},
	})
}

func newProposeAgencyRemoveCmd(g *globalOpts, o *txFlags) *cobra.Command {
	return newProposeCmd(g, o, proposeSpec{
		kind:  ledger.ProposalAgencyRemove,
		short: "propose removing an agency and its validator",
		long: "propose removing an agency: its validator leaves the validator set and its\n" +
			"officers lose their rights. its records stay on chain; its id is never reused.",
		target:   "id of the agency to remove",
		required: []string{"target"},
	})
}

func newProposeAgencyPowerCmd(g *globalOpts, o *txFlags) *cobra.Command {
	var power int64
	return newProposeCmd(g, o, proposeSpec{
		kind:     ledger.ProposalAgencyPower,
		short:    "propose a new voting power for an agency's validator",
		target:   "id of the agency",
		required: []string{"target", "power"},
		flags:    func(fs *pflag.FlagSet) { powerFlag(fs, &power, "the agency's new voting power") },
		fill: func(_ *cobra.Command, p *ledger.GovPropose) error {
			if err := checkPowerFlag(power); err != nil {
				return err
			}
			p.Power = power
			return nil
		},
	})
}

func newProposeValidatorRotateCmd(g *globalOpts, o *txFlags) *cobra.Command {
	var vk validatorKeyFlags
	return newProposeCmd(g, o, proposeSpec{
		kind:  ledger.ProposalValidatorRotate,
		short: "propose a new validator key for an agency",
		long: "propose replacing an agency's validator key (e.g. after a compromise or a move\n" +
			"to new hardware). a validator key is never reused.",
		target:   "id of the agency",
		required: []string{"target"},
		flags:    func(fs *pflag.FlagSet) { vk.register(fs, "the agency's new validator") },
		fill: func(cmd *cobra.Command, p *ledger.GovPropose) error {
			key, err := vk.resolve(cmd)
			if err != nil {
				return err
			}
			p.ValidatorKey = key
			return nil
		},
	})
}

// paramFlags are the integer flags of params-change, in the order of
// ledger.Params (--four-eyes-threshold is a fourEyesValue).
var paramFlags = []struct {
	name, usage string
	field       func(p *ledger.Params) *int64
}{
	{"max-tx-bytes", "largest transaction, in bytes", func(p *ledger.Params) *int64 { return &p.MaxTxBytes }},
	{"replay-window", "blocks ahead a transaction's expiry may be", func(p *ledger.Params) *int64 { return &p.ReplayWindow }},
	{"voting-period", "blocks during which agencies may vote on a proposal", func(p *ledger.Params) *int64 { return &p.VotingPeriod }},
	{"notice-period", "blocks between a proposal passing and taking effect", func(p *ledger.Params) *int64 { return &p.NoticePeriod }},
}

const fourEyesFlag = "four-eyes-threshold"

// fourEyesValue is --four-eyes-threshold, repeatable: a bare integer sets the
// default threshold (in minor units, for every currency without its own),
// CUR=N sets currency CUR's own threshold (N in CUR's minor units), and
// CUR=default removes CUR's own, so that it follows the default again.
type fourEyesValue struct {
	def     int64
	hasDef  bool
	changes []fourEyesChange // in command-line order; a later one for a currency wins
}

type fourEyesChange struct {
	currency string
	amount   int64
	clear    bool
}

func (v *fourEyesValue) Type() string { return "threshold" }

func (v *fourEyesValue) String() string {
	var parts []string
	if v.hasDef {
		parts = append(parts, strconv.FormatInt(v.def, 10))
	}
	for _, c := range v.changes {
		if c.clear {
			parts = append(parts, c.currency+"=default")
		} else {
			parts = append(parts, c.currency+"="+strconv.FormatInt(c.amount, 10))
		}
	}
	return strings.Join(parts, ",")
}

func (v *fourEyesValue) Set(s string) error {
	cur, val, per := strings.Cut(s, "=")
	if !per {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is neither an integer in minor units nor CUR=AMOUNT", s)
		}
		v.def, v.hasDef = n, true
		return nil
	}
	if _, ok := ledger.CurrencyExponent(cur); !ok {
		return fmt.Errorf("%q: unknown currency %q (want an active ISO 4217 code such as EUR)", s, cur)
	}
	if val == "default" {
		v.changes = append(v.changes, fourEyesChange{currency: cur, clear: true})
		return nil
	}
	n, err := strconv.ParseInt(val, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("%q: the threshold must be a non-negative integer in %s minor units (or 'default')", s, cur)
	}
	v.changes = append(v.changes, fourEyesChange{currency: cur, amount: n})
	return nil
}

// apply writes the flag's values into p.
func (v *fourEyesValue) apply(p *ledger.Params) {
	if v.hasDef {
		p.FourEyesThreshold = ledger.Amount(v.def)
	}
	for _, c := range v.changes {
		*p = p.WithFourEyes(c.currency, ledger.Amount(c.amount), c.clear)
	}
}

func newProposeParamsChangeCmd(g *globalOpts, o *txFlags) *cobra.Command {
	values := make([]int64, len(paramFlags))
	var fourEyes fourEyesValue
	var changed func() []int // indexes of the integer flags set on the command line
	var fourEyesChanged func() bool
	apply := func(p *ledger.Params) {
		for _, i := range changed() {
			*paramFlags[i].field(p) = values[i]
		}
		fourEyes.apply(p)
	}
	names := []string{"--" + paramFlags[0].name, "--" + fourEyesFlag}
	for _, f := range paramFlags[1:] {
		names = append(names, "--"+f.name)
	}
	var witnesses []string
	var errOut io.Writer = io.Discard
	return newProposeCmd(g, o, proposeSpec{
		kind:  ledger.ProposalParamsChange,
		short: "propose new chain parameters",
		long: "propose new chain parameters. give the ones to change:\n  " + strings.Join(names, ", ") + "\n" +
			"the proposal carries the complete new set: the others are the chain's current\n" +
			"parameters, read with a proof and verified like 'ledger verify' does (from the\n" +
			"trust root: run 'ledger trust init' once; --witness cross-checks the headers).\n" +
			"every parameter, old and new, is shown on stderr before the proposal is signed.\n" +
			"--four-eyes-threshold N sets the default threshold in minor units; repeat it as\n" +
			"CUR=N for a currency's own threshold (e.g. JPY=150000000 KWD=3000000), or\n" +
			"CUR=default to make a currency follow the default again.\n\n" +
			"exit status as for every tx; also 1 when the current parameters fail verification,\n" +
			"2 when the chain has no trust root.",
		flags: func(fs *pflag.FlagSet) {
			fs.Int64Var(&values[0], paramFlags[0].name, 0, paramFlags[0].usage)
			fs.Var(&fourEyes, fourEyesFlag, "payments above this amount need two finance officers: N (minor units) sets the default, "+
				"CUR=N a currency's own threshold in its minor units, CUR=default removes it (repeatable)")
			for i, f := range paramFlags[1:] {
				fs.Int64Var(&values[i+1], f.name, 0, f.usage)
			}
			fs.StringArrayVar(&witnesses, "witness", nil, "RPC URL of a witness node run by another agency, to cross-check the headers that prove the current parameters (repeatable)")
			changed = func() []int {
				var out []int
				for i, f := range paramFlags {
					if fs.Changed(f.name) {
						out = append(out, i)
					}
				}
				return out
			}
			fourEyesChanged = func() bool { return fs.Changed(fourEyesFlag) }
		},
		fill: func(cmd *cobra.Command, p *ledger.GovPropose) error {
			errOut = cmd.ErrOrStderr()
			if len(changed()) == 0 && !fourEyesChanged() {
				return usagef("nothing to change: give at least one of %s (see '%s --help')", strings.Join(names, ", "), cmd.CommandPath())
			}
			for _, w := range witnesses {
				if strings.TrimSpace(w) == "" {
					return usagef("--witness must be a node's RPC URL")
				}
			}
			// Check the given values now, against the defaults for the
			// others, so that a bad value fails before the node is asked.
			if err := client.CheckParamsChange(apply); err != nil {
				return usagef("invalid parameter: %v", err)
			}
			return nil
		},
		resolve: func(ctx context.Context, _ *client.Client, p *ledger.GovPropose) error {
			cur, h, note, err := verifiedParams(ctx, g, witnesses)
			if err != nil {
				return err
			}
			np, err := client.ProposedParams(cur, apply)
			if errors.Is(err, client.ErrNoChange) {
				return usagef("the proposal would change nothing: the parameters at height %d already have these values", h)
			}
			if err := writeParamsDiff(errOut, cur, np, h, note); err != nil {
				return err
			}
			p.Params = &np
			return nil
		},
	})
}

// fourEyesLines describes the four-eyes thresholds of p for text output.
func fourEyesLines(kv *kvWriter, key string, p *ledger.Params) {
	kv.add(key, "%d minor units (default; payments above it need two finance officers)", int64(p.FourEyesThreshold))
	for _, t := range p.FourEyesThresholds {
		kv.add("", "%s: %s", t.Currency, money(t.Threshold, t.Currency))
	}
}

// verifiedParams reads the chain parameters (meta store, key "params") at
// the latest state with a proof checked against a header verified from the
// trust root. It returns them with their state height and a note on how far
// the headers were cross-checked.
func verifiedParams(ctx context.Context, g *globalOpts, witnesses []string) (ledger.Params, int64, string, error) {
	v, err := newVerifier(ctx, g, witnesses)
	if err != nil {
		return ledger.Params{}, 0, "", paramsVerifyError(err)
	}
	cur, h, err := v.VerifiedParams(ctx)
	switch {
	case errors.Is(err, client.ErrParamsAbsent), errors.Is(err, client.ErrUnknownParams):
		return cur, 0, "", withExit(exitFailed, err)
	case err != nil:
		return cur, 0, "", paramsVerifyError(err)
	}
	note := "headers cross-checked with the witnesses"
	if v.NoIndependentWitness {
		note = "no independent witness: pass --witness URL of a node run by another agency to cross-check the headers"
	}
	return cur, h, note, nil
}

// paramsVerifyError gives a failed verification of the current parameters
// its exit status: 1 when the chain served fails verification, 2 without a
// trust root, 3 (or 1 for a node's own error reply) when the node or the
// witnesses could not be reached, as for any tx.
func paramsVerifyError(err error) error {
	err = fmt.Errorf("verify the current parameters: %w", err)
	switch {
	case client.VerdictOf(err) == client.Failed:
		return withExit(exitFailed, err)
	case errors.Is(err, client.ErrNoTrust):
		return withExit(exitUsage, err)
	}
	return nodeError(err)
}

// writeParamsDiff shows every parameter of a params-change, current and
// proposed, marking the changed ones, before the proposal is signed. It
// compares the JSON fields, so it shows any parameter ledger.Params has.
func writeParamsDiff(w io.Writer, cur, np ledger.Params, h int64, note string) error {
	fields := func(p ledger.Params) ([]string, map[string]string, error) {
		bz, err := json.Marshal(p)
		if err != nil {
			return nil, nil, err
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(bz, &m); err != nil {
			return nil, nil, err
		}
		out := make(map[string]string, len(m))
		for k, v := range m {
			out[k] = string(v)
		}
		return slices.Sorted(maps.Keys(out)), out, nil
	}
	keys, before, err := fields(cur)
	if err != nil {
		return err
	}
	_, after, err := fields(np)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "current parameters verified at height %d (%s); the proposal sets:\n", h, note)
	for _, k := range keys {
		if before[k] == after[k] {
			fmt.Fprintf(w, "    %s: %s (unchanged)\n", k, sanitize(after[k]))
		} else {
			fmt.Fprintf(w, "  * %s: %s -> %s\n", k, sanitize(before[k]), sanitize(after[k]))
		}
	}
	return nil
}

// proposeReport reads the new proposal's id from the tx's gov_proposal event
// and its voting deadline from the node.
func proposeReport(ctx context.Context, c *client.Client, res *client.TxResult) *txReport {
	id, ok := client.ProposalID(res)
	if !ok {
		return &txReport{lines: []string{"proposal submitted (its id is not in the tx's events: see 'ledger query proposals')"}}
	}
	rep := &txReport{ProposalID: id, ProposalStatus: ledger.ProposalVoting}
	p, _, _, err := c.Proposal(ctx, id, res.Height)
	if err != nil {
		rep.lines = []string{fmt.Sprintf("proposal %d submitted (see 'ledger query proposal %d')", id, id)}
		return rep
	}
	rep.ProposalStatus, rep.VotingEnd = p.Status, p.VotingEnd
	rep.lines = []string{fmt.Sprintf("proposal %d submitted: voting until height %d", id, p.VotingEnd)}
	return rep
}

// ---- validator keys ----

// validatorKeyFlags select a validator's consensus public key:
// --validator-key or --validator-key-file.
type validatorKeyFlags struct{ key, file string }

func (k *validatorKeyFlags) register(fs *pflag.FlagSet, who string) {
	fs.StringVar(&k.key, "validator-key", "", who+`'s ed25519 consensus public key: base64, 64 hex digits, or {"type":"tendermint/PubKeyEd25519","value":"<base64>"}`)
	fs.StringVar(&k.file, "validator-key-file", "", "read "+who+"'s key from a file: a CometBFT config/priv_validator_key.json (only its pub_key is read), or any form --validator-key takes")
}

func (k *validatorKeyFlags) resolve(cmd *cobra.Command) ([]byte, error) {
	fs := cmd.Flags()
	switch {
	case fs.Changed("validator-key") && fs.Changed("validator-key-file"):
		return nil, usagef("give either --validator-key or --validator-key-file, not both")
	case fs.Changed("validator-key"):
		return parseValidatorKey("--validator-key", k.key)
	case fs.Changed("validator-key-file"):
		f, err := os.Open(k.file)
		if err != nil {
			return nil, withExit(exitUsage, fmt.Errorf("--validator-key-file: %w", err))
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, 64<<10))
		if err != nil {
			return nil, withExit(exitUsage, fmt.Errorf("--validator-key-file: %w", err))
		}
		return parseValidatorKey("--validator-key-file "+k.file, string(b))
	}
	return nil, usagef("required flag --validator-key (or --validator-key-file) not set (see '%s --help')", cmd.CommandPath())
}

// parseValidatorKey reads a validator key (client.ParseValidatorKey); what
// names where it came from in the usage error.
func parseValidatorKey(what, s string) ([]byte, error) {
	b, err := client.ParseValidatorKey(s)
	if err != nil {
		return nil, usagef("%s: %v", what, err)
	}
	return b, nil
}

// ---- votes ----

var voteOptions = []string{ledger.VoteYes, ledger.VoteNo, ledger.VoteAbstain}

func newGovVoteCmd(g *globalOpts, o *txFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vote ID yes|no|abstain",
		Short: "cast the acting agency's vote on a proposal",
		Long: "cast the acting agency's vote on proposal ID, signed by one of its admin\n" +
			"officers. each agency votes once, with the voting power it had when the proposal\n" +
			"was made; a proposal passes as soon as more than 2/3 of that power voted yes.",
		Args: keysArgs(2),
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		var id uint64
		return runTx(cmd, g, o, txSpec{
			payload: func() (ledger.Payload, error) {
				var err error
				if id, err = parseProposalID(args[0]); err != nil {
					return nil, err
				}
				if !slices.Contains(voteOptions, args[1]) {
					return nil, usagef("vote %q: want yes, no or abstain", args[1])
				}
				return &ledger.GovVote{Proposal: id, Option: args[1]}, nil
			},
			report: func(ctx context.Context, c *client.Client, res *client.TxResult) *txReport {
				rep := &txReport{ProposalID: id}
				_, p, _, err := fetchProposal(ctx, c, id, res.Height)
				if err != nil {
					rep.lines = []string{fmt.Sprintf("voted %s on proposal %d (see 'ledger query proposal %d')", args[1], id, id)}
					return rep
				}
				rep.ProposalStatus, rep.Tally, rep.VotingEnd, rep.Effective = p.Status, &p.Tally, p.VotingEnd, p.Effective
				rep.lines = []string{fmt.Sprintf("voted %s on proposal %d: %s", args[1], id, tallyText(p.Tally))}
				switch p.Status {
				case ledger.ProposalNotice:
					rep.lines = append(rep.lines, fmt.Sprintf("proposal %d passed: it takes effect at height %d", id, p.Effective))
				case ledger.ProposalVoting:
					rep.lines = append(rep.lines, fmt.Sprintf("proposal %d is open for voting until height %d", id, p.VotingEnd))
				}
				return rep
			},
		})
	}
	return cmd
}

func parseProposalID(s string) (uint64, error) {
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil || id == 0 {
		return 0, usagef("proposal id %q: want a positive integer", s)
	}
	return id, nil
}

func tallyText(t ledger.Tally) string {
	reached := "not reached"
	if t.Passes() {
		reached = "reached"
	}
	return fmt.Sprintf("yes %d, no %d, abstain %d of %d voting power (more than 2/3 yes: %s)", t.Yes, t.No, t.Abstain, t.Total, reached)
}

// ---- queries ----

// fetchProposal reads a proposal; exit statuses as for the other queries (1
// not found, 3 unreachable).
func fetchProposal(ctx context.Context, c *client.Client, id uint64, height int64) (json.RawMessage, *ledger.Proposal, int64, error) {
	p, raw, h, err := c.Proposal(ctx, id, height)
	return raw, p, h, queryExit(err)
}

func newProposalQueryCmd(g *globalOpts) *cobra.Command {
	var height int64
	cmd := &cobra.Command{
		Use:   "proposal ID",
		Short: "show one governance proposal",
		Long: "show governance proposal ID: the change, its status, the tally and each\n" +
			"agency's vote (keys in hex).",
		Args: keysArgs(1),
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		id, err := parseProposalID(args[0])
		if err != nil {
			return err
		}
		c, err := heightClient(g, height)
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		raw, p, h, err := fetchProposal(ctx, c, id, height)
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if g.Output == "json" {
			return writeJSON(out, struct {
				Height int64           `json:"height"`
				Record json.RawMessage `json:"record"`
			}{h, raw})
		}
		return printProposal(out, nodeOfficerNames(ctx, c, h), p, h)
	}
	heightFlag(cmd.Flags(), &height)
	return cmd
}

func heightOrDash(h int64) string {
	if h == 0 {
		return "-"
	}
	return strconv.FormatInt(h, 10)
}

// printProposal prints a proposal as aligned key/value lines, then its
// electorate with each agency's vote.
func printProposal(w io.Writer, names officerNamer, p *ledger.Proposal, height int64) error {
	officer := func(agency string, key []byte) string {
		if n := names(agency)[string(key)]; n != "" {
			return fmt.Sprintf("%s (%x)", n, key)
		}
		return hex.EncodeToString(key)
	}
	c := &p.Change
	kv := newKV(w)
	kv.add("height", "%d", height)
	kv.add("id", "%d", p.ID)
	kv.add("kind", "%s", c.Kind)
	kv.add("title", "%s", c.Title)
	kv.add("legal_basis", "%s", c.LegalBasis)
	kv.add("document_hash", "%s", c.DocumentHash)
	kv.add("proposer", "%s", p.Proposer)
	kv.add("proposer_officer", "%s", officer(p.Proposer, p.ProposerKey))
	kv.add("submitted_height", "%d", p.Submitted)
	kv.add("change", "%s", c.Kind)
	switch c.Kind {
	case ledger.ProposalAgencyAdd:
		kv.add("  target", "%s", c.Target)
		kv.add("  name", "%s", c.Name)
		kv.add("  jurisdiction", "%s", orDash(c.Jurisdiction))
		kv.add("  validator_key", "%x", c.ValidatorKey)
		kv.add("  power", "%d", c.Power)
		kv.add("  admin_key", "%x", c.AdminKey)
		kv.add("  admin_name", "%s", c.AdminName)
	case ledger.ProposalAgencyRemove:
		kv.add("  target", "%s", c.Target)
	case ledger.ProposalAgencyPower:
		kv.add("  target", "%s", c.Target)
		kv.add("  power", "%d", c.Power)
	case ledger.ProposalValidatorRotate:
		kv.add("  target", "%s", c.Target)
		kv.add("  validator_key", "%x", c.ValidatorKey)
	case ledger.ProposalParamsChange:
		if np := c.Params; np != nil {
			kv.add("  max_tx_bytes", "%d", np.MaxTxBytes)
			fourEyesLines(kv, "  four_eyes_threshold", np)
			kv.add("  replay_window", "%d blocks", np.ReplayWindow)
			kv.add("  voting_period", "%d blocks", np.VotingPeriod)
			kv.add("  notice_period", "%d blocks", np.NoticePeriod)
		}
	}
	kv.add("status", "%s", p.Status)
	kv.add("voting_end_height", "%d", p.VotingEnd)
	kv.add("tally", "%s", tallyText(p.Tally))
	kv.add("passed_height", "%s", heightOrDash(p.PassedHeight))
	kv.add("effective_height", "%s", heightOrDash(p.Effective))
	kv.add("closed_height", "%s", heightOrDash(p.ClosedHeight))
	kv.add("result", "%s", orDash(p.Result))
	kv.add("votes", "%d of %d agencies", len(p.Votes), len(p.Electorate))
	if err := kv.flush(); err != nil {
		return err
	}
	votes := map[string]ledger.Vote{}
	for _, v := range p.Votes {
		votes[v.Agency] = v
	}
	tw := newTable(w)
	row(tw, "  AGENCY", "POWER", "VOTE", "HEIGHT", "OFFICER")
	for _, e := range p.Electorate {
		v, ok := votes[e.Agency]
		if !ok {
			row(tw, "  "+e.Agency, strconv.FormatInt(e.Power, 10), "-", "-", "-")
			continue
		}
		row(tw, "  "+e.Agency, strconv.FormatInt(e.Power, 10), v.Option, strconv.FormatInt(v.Height, 10), officer(e.Agency, v.Officer))
	}
	return tw.Flush()
}

func newProposalsQueryCmd(g *globalOpts) *cobra.Command {
	var f client.ProposalFilter
	var height int64
	cmd := &cobra.Command{
		Use:   "proposals",
		Short: "list governance proposals, a page at a time",
		Long: "list governance proposals by id, optionally with one status. when there are\n" +
			"more, the last line names the --after value of the next page.",
		Args: keysArgs(0),
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkPageFlags(height, f.Limit); err != nil {
			return err
		}
		if err := checkStatusFlag(ledger.KindProposal, f.Status); err != nil {
			return err
		}
		c, err := newQueryClient(g)
		if err != nil {
			return err
		}
		page, err := c.Proposals(cmd.Context(), f, height)
		if err != nil {
			return queryExit(err)
		}
		out := cmd.OutOrStdout()
		if g.Output == "json" {
			return writeJSON(out, pageJSON{page.Height, page.Items, page.Next})
		}
		if len(page.Items) == 0 {
			_, err := fmt.Fprintln(out, "no proposals found")
			return err
		}
		tw := newTable(out)
		row(tw, "ID", "KIND", "STATUS", "TARGET", "PROPOSER", "YES/TOTAL", "VOTING END", "EFFECTIVE", "TITLE")
		if err := tableRows(tw, ledger.KindProposal, page.Items, func(p *ledger.Proposal) []string {
			return []string{strconv.FormatUint(p.ID, 10), p.Change.Kind, string(p.Status), orDash(p.Change.Target), p.Proposer,
				fmt.Sprintf("%d/%d", p.Tally.Yes, p.Tally.Total), strconv.FormatInt(p.VotingEnd, 10),
				heightOrDash(p.Effective), p.Change.Title}
		}); err != nil {
			return err
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		printNextPage(out, page.Next)
		return nil
	}
	fs := cmd.Flags()
	pageFlags(fs, ledger.KindProposal, &f.Status, &f.Limit)
	fs.Uint64Var(&f.After, "after", 0, "start after this proposal id (from the previous page's 'next page' line)")
	heightFlag(fs, &height)
	return cmd
}
