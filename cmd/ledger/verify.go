package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/ledger"
)

// verifyTimeout bounds a whole verification (waiting for headers included).
const verifyTimeout = 2 * time.Minute

// Results of a verification (the last line of the text output, "result"
// in JSON).
const (
	resultVerified    = "VERIFIED"
	resultAbsent      = "VERIFIED ABSENT"
	resultFailed      = "FAILED"       // exit 1
	resultNotVerified = "NOT VERIFIED" // exit 2
)

const verifyHelp = `verify what a node serves against headers verified from your trust root
('ledger trust init'), cross-checked with witness nodes. nothing the node
says is believed without a proof.

a record or a total is read at state height H and proved against the AppHash
of header H+1 (the state after block H is committed in the next header).
--height 0 (the default) proves the state at L-1, L being the node's latest
block, because header L already commits it: nothing waits for a block. only if
the record changed in block L itself is the state at L proved, waiting for
header L+1 (on a quiet chain, up to the heartbeat interval: 30 s by default).
L is the highest latest block of the node and the witnesses (the node alone
could hide later blocks). a latest state older than the last header this
client verified before is refused (exit 1): the node may be serving an old
state, say a grant before its revocation. an older state is verified only when
asked for with --height, and the output then says OLDER STATE. every report
gives the header's age; past 10 minutes a warning says the state may not be
the current one.

headers are verified from the trust root with the light client's rules, made
stricter: a change of validator set is only ever verified adjacently (more
than 2/3 of the previous set signed the block that commits the new set), and
headers are skipped only inside one set's era, with more than 2/3 of its
power. keys that governance retired can therefore sign nothing a verifier
accepts beyond their own era.

pass --witness URL (repeatable) naming nodes run by other agencies: every
header is compared with theirs, and two different headers signed at one height
are reported as a FORK, with both header hashes and the validators that signed
both. without a witness, headers are verified from the trust root but not
cross-checked: a warning says so. a witness that is the node itself (same URL
or same node id) counts as no witness. a witness that does not answer, or
serves a header that does not verify, fails the cross-check (exit 2).

the last line of the output is VERIFIED, or VERIFIED ABSENT when the record
provably does not exist at H; for listings (grants, licences, payments,
agencies), VERIFIED COMPLETE when every page is proved to leave nothing out. -o json prints a report with every checked step
(step, ok, detail) and the result, also when verification fails.

exit status: 0 verified (present or absent); 1 verification failed: a bad
proof, signature or hash, a fork, a header that conflicts with one verified
before, or a trust root (checkpoint) the chain does not have; 2 could not
verify: usage error, no trust root, node or witnesses unreachable, or no
answer within 2 minutes.`

func newVerifyCmd(g *globalOpts) *cobra.Command {
	c := groupCmd("verify", "verify records, totals and transactions with proofs, trusting no node",
		newVerifyRecordCmd(g, ledger.KindGrant), newVerifyRecordCmd(g, ledger.KindLicence),
		newVerifyRecordCmd(g, ledger.KindPayment), newVerifyRecordCmd(g, ledger.KindAgency),
		newVerifyTotalCmd(g), newVerifyTxCmd(g), newVerifyBundleCmd(g), newVerifyReleaseCmd(g),
		newVerifyDisclosureCmd(g))
	c.AddCommand(newVerifyListCmds(g)...)
	c.Long = verifyHelp
	return c
}

// verifyFlags are the flags of a verify command.
type verifyFlags struct {
	height    int64
	witnesses []string
}

func (o *verifyFlags) register(fs *pflag.FlagSet, height bool) {
	if height {
		fs.Int64Var(&o.height, "height", 0, "state height H to verify at (0: the latest state whose header H+1 exists)")
	}
	fs.StringArrayVar(&o.witnesses, "witness", nil, "RPC URL of a witness node run by another agency (repeatable)")
}

func (o *verifyFlags) check() error {
	if o.height < 0 {
		return usagef("--height must not be negative")
	}
	for _, w := range o.witnesses {
		if strings.TrimSpace(w) == "" {
			return usagef("--witness must be a node's RPC URL")
		}
	}
	return nil
}

// verifyOutput is the report of a verify command (its JSON output).
type verifyOutput struct {
	Command            string                `json:"command"`
	ID                 string                `json:"id,omitempty"`
	ChainID            string                `json:"chain_id,omitempty"`
	Node               string                `json:"node"`
	Trust              *client.TrustState    `json:"trust,omitempty"`
	IndependentWitness bool                  `json:"independent_witness"`
	Witnesses          []client.WitnessCheck `json:"witnesses"`
	Store              string                `json:"store,omitempty"`
	Key                string                `json:"key,omitempty"`
	Height             int64                 `json:"height,omitempty"` // state height H
	Present            *bool                 `json:"present,omitempty"`
	Record             json.RawMessage       `json:"record,omitempty"`
	Summary            any                   `json:"summary,omitempty"`
	Header             *client.HeaderInfo    `json:"header,omitempty"` // header H+1
	Signers            []client.CommitSigner `json:"signers,omitempty"`
	SignedPower        int64                 `json:"signed_power,omitempty"`
	TotalPower         int64                 `json:"total_power,omitempty"`
	Tx                 *client.TxReport      `json:"tx,omitempty"`
	Listing            *client.ListingReport `json:"listing,omitempty"`
	Warnings           []string              `json:"warnings,omitempty"`
	// TrustRootMismatch: the node serves another chain under the trusted
	// chain id (restarted from a new genesis file, or a fork).
	TrustRootMismatch *client.RootMismatchError `json:"trust_root_mismatch,omitempty"`
	Steps             []client.Step             `json:"steps"`
	Result            string                    `json:"result"`
	Error             string                    `json:"error,omitempty"`

	text    func(w io.Writer) error // prints a verified result
	success string                  // the result when verified ("": VERIFIED)
}

// runVerify connects a verifier (trust root, primary, witnesses), runs
// check, prints the report and maps the outcome to an exit status.
func runVerify(cmd *cobra.Command, g *globalOpts, o *verifyFlags, out *verifyOutput, check func(context.Context, *client.Verifier) error) error {
	ctx, cancel := context.WithTimeout(cmd.Context(), verifyTimeout)
	defer cancel()
	out.Node = g.Node
	out.Steps = []client.Step{}
	err := func() error {
		v, err := newVerifier(ctx, g, o.witnesses)
		if err != nil {
			out.Steps = append(out.Steps, client.Step{Name: client.SetupStep(err), Detail: errorText(err)})
			errors.As(err, &out.TrustRootMismatch)
			return err
		}
		out.ChainID, out.Trust = v.ChainID, v.Trust
		out.IndependentWitness = !v.NoIndependentWitness
		if v.NoIndependentWitness {
			w := noWitnessWarning
			out.Warnings = append(out.Warnings, w)
			fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
		}
		prev := v.Trust.LastVerified
		if err := check(ctx, v); err != nil {
			return err
		}
		for _, h := range []*client.HeaderInfo{out.Header, txNext(out.Tx)} {
			if h == nil {
				continue
			}
			if w := client.StaleWarning(*h); w != "" {
				out.Warnings = append(out.Warnings, w)
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
			}
		}
		if out.Header != nil && out.Header.Height < prev.Height {
			w := fmt.Sprintf("OLDER STATE: header %d is older than header %d, verified before; this is the state at height %d as asked, and later blocks may have changed it", out.Header.Height, prev.Height, out.Height)
			out.Warnings = append(out.Warnings, w)
			fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
		}
		return nil
	}()
	out.reword()
	if out.Witnesses == nil {
		out.Witnesses = []client.WitnessCheck{}
	}
	for _, w := range out.Witnesses {
		if !w.OK && err == nil {
			msg := fmt.Sprintf("witness %s: %s", w.URL, w.Detail)
			out.Warnings = append(out.Warnings, msg)
			fmt.Fprintln(cmd.ErrOrStderr(), "warning:", sanitize(msg))
		}
	}
	err = verifyExit(err)
	switch {
	case err == nil && out.Present != nil && !*out.Present:
		out.Result = resultAbsent
	case err == nil && out.success != "":
		out.Result = out.success
	case err == nil:
		out.Result = resultVerified
	case exitCode(err) == exitFailed:
		out.Result = resultFailed
		err = fmt.Errorf("verification FAILED: %w", err)
	default:
		out.Result = resultNotVerified
		err = fmt.Errorf("could not verify: %w", err)
	}
	if err != nil {
		out.Error = errorText(err)
	}
	w := cmd.OutOrStdout()
	if g.Output == "json" {
		if perr := writeJSON(w, out); perr != nil && err == nil {
			return perr
		}
		return err
	}
	if err != nil {
		return err
	}
	if out.text != nil {
		if err := out.text(w); err != nil {
			return err
		}
	}
	_, perr := fmt.Fprintln(w, out.Result)
	return perr
}

// verifyExit maps a verification error to an exit status by its verdict
// (client.VerdictOf): 1 when something was checked and found wrong, 2 when
// it could not be checked.
func verifyExit(err error) error {
	if err == nil {
		return nil
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	if client.VerdictOf(err) == client.Failed {
		return withExit(exitFailed, err)
	}
	return withExit(exitUsage, err)
}

// txNext is header H+1 of a tx report, if any.
func txNext(r *client.TxReport) *client.HeaderInfo {
	if r == nil || r.Next.Height == 0 {
		return nil
	}
	return &r.Next
}

// reword puts the library's text in the report (steps, witness answers) in
// the CLI's words (cliText).
func (out *verifyOutput) reword() {
	steps := func(ss []client.Step) {
		for i := range ss {
			ss[i].Detail = cliText(ss[i].Detail)
		}
	}
	witnesses := func(ws []client.WitnessCheck) {
		for i := range ws {
			ws[i].Detail = cliText(ws[i].Detail)
		}
	}
	steps(out.Steps)
	witnesses(out.Witnesses)
	if out.Tx != nil {
		steps(out.Tx.Steps)
		witnesses(out.Tx.Witnesses)
	}
}

// fillKey copies a key report into the output.
func (out *verifyOutput) fillKey(r *client.KeyReport) {
	out.Steps = append(out.Steps, r.Steps...)
	out.Store, out.Key = r.Store, r.Key
	if r.LightBlock == nil {
		return
	}
	present := r.Present
	out.Height, out.Present, out.Record = r.Height, &present, r.Value
	hi := r.Header
	out.Header = &hi
	out.Signers, out.SignedPower, out.TotalPower = r.Signers, r.Signed, r.TotalPower
	out.Witnesses = r.Witnesses
}

// matchStep checks that a proved record is the one asked for
// (client.MatchStep).
func (out *verifyOutput) matchStep(what, got, want string) error {
	step, err := client.MatchStep(what, got, want)
	out.Steps = append(out.Steps, step)
	return err
}

// ---- records ----

func newVerifyRecordCmd(g *globalOpts, kind ledger.Kind) *cobra.Command {
	o := &verifyFlags{}
	store := ledger.StoreOf(kind)
	cmd := &cobra.Command{
		Use:   string(kind) + " ID",
		Short: "verify one " + string(kind) + " (or its absence) with a proof",
		Long: "verify the " + string(kind) + " ID at state height H: its ICS23 proof (store " + store + ", key ID)\n" +
			"against the AppHash of header H+1, verified from your trust root and cross-checked\n" +
			"with --witness nodes. prints the record, H, the header, which agencies' validators\n" +
			"signed it, then VERIFIED (or VERIFIED ABSENT if no such " + string(kind) + " exists at H).\n\n" +
			"--height 0 (the default) proves the latest state whose header H+1 already\n" +
			"exists (see 'ledger verify --help').\n\n" +
			"exit status: 0 verified; 1 verification failed (proof, signature, hash, fork,\n" +
			"conflict with a header verified before); 2 could not verify (usage, no trust\n" +
			"root, network).",
		Args: keysArgs(1),
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		id := args[0]
		if err := checkID(string(kind)+" id", id); err != nil {
			return err
		}
		if err := o.check(); err != nil {
			return err
		}
		out := &verifyOutput{Command: string(kind), ID: id}
		return runVerify(cmd, g, o, out, func(ctx context.Context, v *client.Verifier) error {
			r, names, err := v.VerifyRecord(ctx, kind, id, o.height)
			out.fillKey(r)
			if err != nil {
				return err
			}
			out.text = func(w io.Writer) error {
				if !r.Present {
					fmt.Fprintf(w, "%s %s: ABSENT at state height %d (proof of non-membership in store %s)\n", kind, sanitize(id), r.Height, store)
				} else if err := printVerifiedRecord(w, kind, r.Value, r.Height, names); err != nil {
					return err
				}
				fmt.Fprintln(w)
				return printKeyVerification(w, out, r)
			}
			return nil
		})
	}
	o.register(cmd.Flags(), true)
	return cmd
}

// printVerifiedRecord prints a proved record; a payment's approvers are
// named from the agency record proved at the same height (names), never from
// an unproved answer.
func printVerifiedRecord(w io.Writer, kind ledger.Kind, raw []byte, h int64, names map[string]string) error {
	return printRecord(w, func(string) map[string]string { return names }, kind, raw, h)
}

// printKeyVerification prints how a key was verified: state height, header,
// signers, witnesses, trust root.
func printKeyVerification(w io.Writer, out *verifyOutput, r *client.KeyReport) error {
	kv := newKV(w)
	kv.add("state height", "%d (the state after block %d)", r.Height, r.Height)
	kv.add("app hash", "%s (in header %d)", r.Header.AppHash, r.Header.Height)
	kv.add("header", "%d %s (%s, %s old)", r.Header.Height, r.Header.Hash, r.Header.Time.UTC().Format(time.RFC3339), time.Duration(r.Header.AgeSeconds)*time.Second)
	printSigners(kv, r.Signers, r.Signed, r.TotalPower)
	printWitnesses(kv, out)
	printTrust(kv, out.Trust)
	printChecks(kv, out.Steps)
	return kv.flush()
}

func printSigners(kv *kvWriter, signers []client.CommitSigner, signed, total int64) {
	for i, s := range signers {
		key := "signed by"
		if i > 0 {
			key = ""
		}
		name := s.Name
		if name == "" {
			name = "unnamed validator"
		}
		kv.add(key, "%s (%s): power %d (%.1f%%)", name, s.Address, s.Power, 100*s.Share)
	}
	if total > 0 {
		kv.add("signed power", "%d of %d (%.1f%%; more than 2/3 is required)", signed, total, 100*float64(signed)/float64(total))
	}
}

func printWitnesses(kv *kvWriter, out *verifyOutput) {
	if !out.IndependentWitness {
		kv.add("witnesses", "NONE: WARNING: not cross-checked with any independent node (pass --witness URL)")
		for _, c := range out.Witnesses {
			kv.add("", "%s WARNING: %s", c.URL, c.Detail)
		}
		return
	}
	for i, c := range out.Witnesses {
		key := "witnesses"
		if i > 0 {
			key = ""
		}
		state := "agrees"
		if !c.OK {
			state = "WARNING"
		}
		kv.add(key, "%s %s: %s", c.URL, state, c.Detail)
	}
}

func printTrust(kv *kvWriter, ts *client.TrustState) {
	if ts == nil {
		return
	}
	from := "checkpoint"
	if ts.GenesisSHA256 != "" {
		from = "genesis sha256 " + ts.GenesisSHA256
	}
	kv.add("trust root", "%s, header %d %s", from, ts.Root.Height, ts.Root.Hash)
}

func printChecks(kv *kvWriter, steps []client.Step) {
	var names []string
	for _, s := range steps {
		names = append(names, s.Name)
	}
	kv.add("checks", "%s: all passed", strings.Join(names, ", "))
}

// ---- totals ----

func newVerifyTotalCmd(g *globalOpts) *cobra.Command {
	o := &verifyFlags{}
	var grant string
	cmd := &cobra.Command{
		Use:   "total AGENCY CURRENCY | total --grant ID",
		Short: "verify an agency's running totals in a currency, or a grant's disbursement",
		Long: "verify the running totals of AGENCY in CURRENCY (store meta, key\n" +
			"total/AGENCY/CURRENCY): awarded, paid and reversed; or, with --grant ID, the\n" +
			"grant's record: disbursed against awarded, and what remains. proofs and headers\n" +
			"as for 'ledger verify grant'.\n\n" +
			"--height 0 (the default) proves the latest state whose header H+1 already\n" +
			"exists (see 'ledger verify --help').\n\n" +
			"exit status: 0 verified (VERIFIED ABSENT: no such totals or grant at H); 1\n" +
			"verification failed; 2 could not verify.",
		Args: func(cmd *cobra.Command, args []string) error {
			want := 2
			if cmd.Flags().Changed("grant") {
				want = 0
			}
			if len(args) != want {
				return usagef("usage: %s %s", cmd.CommandPath(), map[int]string{2: "AGENCY CURRENCY", 0: "--grant ID"}[want])
			}
			return nil
		},
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := o.check(); err != nil {
			return err
		}
		if cmd.Flags().Changed("grant") {
			if err := checkID("--grant", grant); err != nil {
				return err
			}
			return verifyGrantTotal(cmd, g, o, grant)
		}
		agency, cur := args[0], args[1]
		if err := checkTotalsArgs(agency, cur); err != nil {
			return err
		}
		id := ledger.TotalsID(agency, cur)
		out := &verifyOutput{Command: "total", ID: id}
		return runVerify(cmd, g, o, out, func(ctx context.Context, v *client.Verifier) error {
			r, err := v.VerifyKeyReport(ctx, ledger.StoreMeta, ledger.TotalsKey(agency, cur), o.height)
			out.fillKey(r)
			if err != nil {
				return err
			}
			var t ledger.Totals
			if r.Present {
				if err := json.Unmarshal(r.Value, &t); err != nil {
					return out.matchStep("totals", client.Undecodable(err), id)
				}
				if err := out.matchStep("totals", ledger.TotalsID(t.Agency, t.Currency), id); err != nil {
					return err
				}
				f := func(a ledger.Amount) string { return ledger.FormatAmount(int64(a), cur) }
				out.Summary = map[string]any{
					"agency": agency, "currency": cur,
					"awarded": f(t.Awarded), "grants": t.Grants,
					"paid": f(t.Paid), "paid_against_grant": f(t.PaidAgainstGrant), "payments": t.Payments,
					"reversed": f(t.Reversed), "reversals": t.Reversals,
				}
			}
			out.text = func(w io.Writer) error {
				if !r.Present {
					fmt.Fprintf(w, "totals of %s in %s: ABSENT at state height %d (the agency has recorded nothing in %s)\n\n", sanitize(agency), cur, r.Height, cur)
				} else {
					kv := newKV(w)
					kv.add("agency", "%s", t.Agency)
					kv.add("currency", "%s", t.Currency)
					kv.add("awarded", "%s %s (grants: %d)", ledger.FormatAmount(int64(t.Awarded), cur), cur, t.Grants)
					kv.add("paid", "%s %s (payments: %d; against grants: %s %s)", ledger.FormatAmount(int64(t.Paid), cur), cur, t.Payments,
						ledger.FormatAmount(int64(t.PaidAgainstGrant), cur), cur)
					kv.add("reversed", "%s %s (reversals: %d)", ledger.FormatAmount(int64(t.Reversed), cur), cur, t.Reversals)
					if err := kv.flush(); err != nil {
						return err
					}
					fmt.Fprintln(w)
				}
				return printKeyVerification(w, out, r)
			}
			return nil
		})
	}
	o.register(cmd.Flags(), true)
	cmd.Flags().StringVar(&grant, "grant", "", "verify this grant's disbursed and remaining amounts instead")
	return cmd
}

func verifyGrantTotal(cmd *cobra.Command, g *globalOpts, o *verifyFlags, id string) error {
	out := &verifyOutput{Command: "total", ID: id}
	return runVerify(cmd, g, o, out, func(ctx context.Context, v *client.Verifier) error {
		r, err := v.VerifyKeyReport(ctx, ledger.StoreGrants, ledger.RecordKey(id), o.height)
		out.fillKey(r)
		if err != nil {
			return err
		}
		var gr ledger.Grant
		if r.Present {
			if err := json.Unmarshal(r.Value, &gr); err != nil {
				return out.matchStep(string(ledger.KindGrant), client.Undecodable(err), id)
			}
			if err := out.matchStep(string(ledger.KindGrant), gr.ID, id); err != nil {
				return err
			}
			f := func(a ledger.Amount) string { return ledger.FormatAmount(int64(a), gr.Currency) }
			out.Summary = map[string]any{
				"grant": id, "agency": gr.Agency, "status": gr.Status, "currency": gr.Currency,
				"awarded": f(gr.Awarded), "disbursed": f(gr.Disbursed), "remaining": f(gr.Awarded - gr.Disbursed), "payments": gr.Payments,
			}
		}
		out.text = func(w io.Writer) error {
			if !r.Present {
				fmt.Fprintf(w, "grant %s: ABSENT at state height %d (proof of non-membership in store %s)\n\n", sanitize(id), r.Height, ledger.StoreGrants)
			} else {
				c := gr.Currency
				kv := newKV(w)
				kv.add("grant", "%s", gr.ID)
				kv.add("agency", "%s", gr.Agency)
				kv.add("status", "%s", gr.Status)
				kv.add("awarded", "%s %s", ledger.FormatAmount(int64(gr.Awarded), c), c)
				kv.add("disbursed", "%s %s (payments: %d)", ledger.FormatAmount(int64(gr.Disbursed), c), c, gr.Payments)
				kv.add("remaining", "%s %s", ledger.FormatAmount(int64(gr.Awarded-gr.Disbursed), c), c)
				if err := kv.flush(); err != nil {
					return err
				}
				fmt.Fprintln(w)
			}
			return printKeyVerification(w, out, r)
		}
		return nil
	})
}

// ---- transactions ----

func newVerifyTxCmd(g *globalOpts) *cobra.Command {
	o := &verifyFlags{}
	cmd := &cobra.Command{
		Use:   "tx HASH",
		Short: "verify a transaction: its block, result and signers",
		Long: "verify the transaction HASH (64 hex digits, as 'ledger tx' prints it): its\n" +
			"inclusion in block H (Merkle proof under the DataHash of header H), its result\n" +
			"(the block's results hash to the LastResultsHash of header H+1; the code must be\n" +
			"the one the node's index claims), and its signatures: each by an officer of the\n" +
			"acting agency with the required role, as the agency's record stood at state H-1\n" +
			"(proved against header H). headers are verified from your trust root and\n" +
			"cross-checked with --witness nodes. a tx the chain rejected in its block is\n" +
			"verified as rejected (its code is shown).\n\n" +
			"exit status: 0 verified; 1 verification failed; 2 could not verify (usage, no\n" +
			"trust root, network, or the node does not know the tx).",
		Args: keysArgs(1),
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		hash, ok := parseTxHash(args[0])
		if !ok {
			return usagef("tx hash %q must be 64 hex digits", args[0])
		}
		if err := o.check(); err != nil {
			return err
		}
		out := &verifyOutput{Command: "tx", ID: fmt.Sprintf("%X", hash)}
		return runVerify(cmd, g, o, out, func(ctx context.Context, v *client.Verifier) error {
			r, err := v.VerifyTx(ctx, hash)
			out.Steps = append(out.Steps, r.Steps...)
			out.Witnesses = r.Witnesses
			short := *r
			short.Steps, short.Witnesses = nil, nil
			out.Tx = &short
			if err != nil {
				return err
			}
			out.Height = r.Height
			out.text = func(w io.Writer) error { return printVerifiedTx(w, out, r) }
			return nil
		})
	}
	o.register(cmd.Flags(), false)
	return cmd
}

func printVerifiedTx(w io.Writer, out *verifyOutput, r *client.TxReport) error {
	kv := newKV(w)
	kv.add("tx", "%s", r.Hash)
	kv.add("type", "%s", r.Type)
	kv.add("agency", "%s", r.Agency)
	for i, s := range r.Signers {
		key := "signed by"
		if i > 0 {
			key = ""
		}
		if s.Name == "" {
			kv.add(key, "%s (not an officer of %s)", b64(s.Key), r.Agency)
		} else {
			kv.add(key, "%s (roles %s; key %s)", s.Name, roleList(s.Roles), b64(s.Key))
		}
	}
	kv.add("height", "%d (index %d)", r.Height, r.Index)
	if r.Code == 0 {
		kv.add("result", "code 0 (ok)")
	} else {
		kv.add("result", "code %d (REJECTED in its block: %s)", r.Code, ruleOf(r.Code))
	}
	if r.Log != "" {
		kv.add("log", "%s (as the node says: the log is not covered by the results hash)", r.Log)
	}
	kv.add("header", "%d %s (data hash %s holds the tx)", r.Header.Height, r.Header.Hash, r.Header.DataHash)
	kv.add("next header", "%d %s (last results hash %s commits the result)", r.Next.Height, r.Next.Hash, r.Next.LastResultsHash)
	switch {
	case r.AgencyRecord == "result":
		kv.add("officers as of", "block %d, before the tx (agency record carried by the tx's result, committed in header %d)", r.Height, r.Next.Height)
	case r.AgencyHeight > 0:
		kv.add("officers as of", "state height %d (agency record proved against header %d)", r.AgencyHeight, r.Height)
	default:
		kv.add("officers as of", "genesis (trusted genesis file)")
	}
	printWitnesses(kv, out)
	printTrust(kv, out.Trust)
	printChecks(kv, out.Steps)
	return kv.flush()
}
