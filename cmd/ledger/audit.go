package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/ledger"
)

const auditHelp = `reconcile the ledger: read, at one state height H, every grant and payment of
every agency (or of --agency), recompute each agency's running totals per
currency (awarded, grants, paid, paid against grants, payments, reversed,
reversals) and each grant's disbursed amount and payment count, exactly as the
chain's own invariant check does (the same recomputation), and compare them with the totals records
(store meta, total/<agency>/<currency>) and the grant records in state.

H is the node's latest block minus one (or --height), used for every listing,
record and totals read. if a trust root exists for the chain ('ledger trust
init'), everything read is also proved against the AppHash of header H+1,
verified from the trust root and cross-checked with --witness nodes (fetched
once): the listings of agencies and of each agency's grants and payments are
proved complete, page by page, as 'ledger verify grants|payments|agencies'
does, so no agency or record can be hidden from the audit; a listing that fails
its proof is a discrepancy (proof_failed). records referenced elsewhere and the
totals records are proved one by one. --no-proofs skips the proofs (faster).
without a trust root the node is trusted, and a warning says so.

the audit also reads the evidence of validator misbehaviour that blocks
--evidence-from..H committed (a validator that signed two different votes at
one height, or a conflicting header): every header of that range is linked by
hash to the verified header H+1, so the node can neither hide nor invent
evidence; each piece names the agency that holds or held the validator key
(proved at H), and a double vote's two signatures are checked against the
validator set of its height. the text report lists it first, under
MISBEHAVIOUR. reading the headers takes one request per 20 blocks: on a long
chain, --evidence-from picks up where an earlier audit left off.

the report lists, per agency and currency, stored against recomputed totals
(OK or MISMATCH), then every discrepancy: totals mismatches, grants whose
disbursed amount or payment count disagrees with their payments, grants
disbursed beyond their award, payments referencing missing grants or grants of
another agency, payments in another currency than their grant, failed proofs.
-o json prints the same as one document; -o csv prints a header row, one row
per agency/currency (type "totals"), one per discrepancy (type "discrepancy")
and one per validator misbehaviour (type "misbehaviour": the agency, the
evidence hash as id, its type as result, the detail); amounts are in minor
units, and again as decimals in the
currency's units in the *_decimal columns, then the id of the ledger invariant
the row checks in the rule column (agency-totals for a totals row, empty for a
failed proof; -o json gives it as "rule"). progress goes to stderr every 500
records.

exit status: 0 everything reconciles and no validator misbehaved; 1 a
discrepancy (or a failed proof, fork, or header conflict; result MISMATCH) or
committed evidence of validator misbehaviour (result MISBEHAVIOUR when the
books reconcile); 2 could not audit: usage error, the node or the
witnesses could not be reached.`

// auditOutput is the JSON report of "ledger audit".
type auditOutput struct {
	Node          string               `json:"node"`
	ChainID       string               `json:"chain_id"`
	Height        int64                `json:"height"`
	Verified      bool                 `json:"verified"` // every record proved against a verified header
	Proofs        *auditProofsOut      `json:"proofs,omitempty"`
	Warnings      []string             `json:"warnings"`
	Agencies      []string             `json:"agencies"`
	Totals        []client.AuditTotals `json:"totals"`
	Discrepancies []client.Discrepancy `json:"discrepancies"`
	// Misbehaviour is the validator misbehaviour committed in the blocks
	// up to Height.
	Misbehaviour *client.MisbehaviourReport `json:"misbehaviour"`
	Summary      auditSummary               `json:"summary"`
	Result       string                     `json:"result"` // OK, MISMATCH or MISBEHAVIOUR
}

type auditProofsOut struct {
	HeaderHeight int64  `json:"header_height"`
	HeaderHash   string `json:"header_hash"`
	AppHash      string `json:"app_hash"`
	VerifiedKeys int    `json:"verified_keys"`
}

type auditSummary struct {
	Agencies      int `json:"agencies"`
	Grants        int `json:"grants"`
	Payments      int `json:"payments"`
	Totals        int `json:"totals"`
	TotalsOK      int `json:"totals_ok"`
	Discrepancies int `json:"discrepancies"`
	Misbehaviour  int `json:"misbehaviour"`
}

// Audit results.
const (
	auditOK       = "OK"
	auditMismatch = "MISMATCH"
	// auditMisbehaviour: the books reconcile, but blocks committed evidence
	// that a validator misbehaved.
	auditMisbehaviour = "MISBEHAVIOUR"
)

func newAuditCmd(g *globalOpts) *cobra.Command {
	var (
		agency    string
		height    int64
		witnesses []string
		noProofs  bool
		pageSize  int
		evFrom    int64
	)
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "reconcile every agency's totals with its grants and payments, with proofs",
		Long:  auditHelp,
		Args:  keysArgs(0),
		// Replaces the root's check: audit also writes csv.
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			switch g.Output {
			case "text", "json", "csv":
			default:
				return usagef("--output must be text, json or csv")
			}
			return nil
		},
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOptionalID("--agency", agency); err != nil {
			return err
		}
		if height < 0 {
			return usagef("--height must not be negative")
		}
		if evFrom < 1 {
			return usagef("--evidence-from must be a block height (1 or more)")
		}
		if pageSize < 1 || pageSize > ledger.MaxPageSize {
			return usagef("--page-size must be between 1 and %d", ledger.MaxPageSize)
		}
		for _, w := range witnesses {
			if strings.TrimSpace(w) == "" {
				return usagef("--witness must be a node's RPC URL")
			}
		}
		if noProofs && len(witnesses) > 0 {
			return usagef("--witness cannot be combined with --no-proofs")
		}
		c, err := newQueryClient(g)
		if err != nil {
			return err
		}
		out, err := runAudit(cmd, g, c, agency, height, pageSize, evFrom, witnesses, noProofs)
		if err != nil {
			return verifyExit(err)
		}
		if err := printAudit(cmd.OutOrStdout(), g.Output, out); err != nil {
			return withExit(exitUsage, fmt.Errorf("audit: writing the report: %w", err))
		}
		switch out.Result {
		case auditMismatch:
			return withExit(exitFailed, fmt.Errorf("audit: %d discrepancies at height %d%s", len(out.Discrepancies), out.Height, misbehaviourSuffix(out)))
		case auditMisbehaviour:
			return withExit(exitFailed, fmt.Errorf("audit: the books reconcile at height %d%s", out.Height, misbehaviourSuffix(out)))
		}
		return nil
	}
	fs := cmd.Flags()
	fs.StringVar(&agency, "agency", "", "audit only this agency")
	fs.Int64Var(&height, "height", 0, "state height H to audit (0: the node's latest block minus one)")
	fs.StringArrayVar(&witnesses, "witness", nil, "RPC URL of a witness node run by another agency (repeatable)")
	fs.BoolVar(&noProofs, "no-proofs", false, "do not prove the records (trust the node; faster)")
	fs.Int64Var(&evFrom, "evidence-from", 1, "first block read for evidence of validator misbehaviour")
	fs.IntVar(&pageSize, "page-size", ledger.MaxPageSize, fmt.Sprintf("listing page size (1-%d)", ledger.MaxPageSize))
	return cmd
}

func runAudit(cmd *cobra.Command, g *globalOpts, c *client.Client, agency string, height int64, pageSize int, evFrom int64, witnesses []string, noProofs bool) (*auditOutput, error) {
	ctx := cmd.Context()
	stderr := cmd.ErrOrStderr()
	st, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	out := &auditOutput{Node: g.Node, ChainID: st.NodeInfo.Network, Warnings: []string{}}
	warn := func(msg string) {
		out.Warnings = append(out.Warnings, msg)
		fmt.Fprintln(stderr, "warning:", sanitize(msg))
	}
	if height > 0 && height >= st.SyncInfo.LatestBlockHeight && !noProofs {
		// Header H+1 must exist for the proofs: wait for it (bounded by ctx).
		if err := c.WaitForHeight(ctx, height+1); err != nil {
			return nil, err
		}
	}
	o := client.AuditOptions{
		Agency: agency, Height: height, PageSize: pageSize,
		Progress: func(n int) { fmt.Fprintf(stderr, "audit: %d records read\n", n) },
	}
	if !noProofs {
		_, terr := client.LoadTrust(g.Home, out.ChainID)
		switch {
		case terr == nil:
			v, err := newVerifier(ctx, g, witnesses)
			if err != nil {
				return nil, err
			}
			if v.NoIndependentWitness {
				warn(noWitnessWarning)
			}
			o.Verifier = v
		case errors.Is(terr, client.ErrNoTrust):
			warn(fmt.Sprintf("no trust root for chain %s ('ledger trust init'): records are NOT proved, the node is trusted", out.ChainID))
		default:
			return nil, withExit(exitUsage, terr)
		}
	}
	if agency != "" {
		if err := requireAgency(ctx, c, agency, height); err != nil {
			return nil, err
		}
	}
	d, proofs, err := c.CollectAudit(ctx, o)
	if err != nil {
		return nil, err
	}
	rep := client.Reconcile(d)
	out.Height, out.Agencies, out.Totals = rep.Height, rep.Agencies, rep.Totals
	out.Discrepancies = rep.Discrepancies
	if proofs != nil {
		out.Verified = len(proofs.Failures) == 0
		out.Proofs = &auditProofsOut{HeaderHeight: proofs.Header.Height, HeaderHash: fmt.Sprintf("%X", proofs.Header.Hash()),
			AppHash: fmt.Sprintf("%X", proofs.Header.AppHash), VerifiedKeys: proofs.Verified}
		out.Discrepancies = append(out.Discrepancies, proofs.Failures...)
	}
	mo := client.MisbehaviourOptions{From: evFrom, To: d.Height, ChainID: out.ChainID}
	if proofs != nil {
		mo.Anchor = proofs.Header
	}
	mr, err := c.CollectMisbehaviour(ctx, mo)
	if err != nil {
		return nil, err
	}
	out.Misbehaviour = mr
	if len(mr.Failures) > 0 {
		out.Verified = false
		out.Discrepancies = append(out.Discrepancies, mr.Failures...)
	}
	if mr.PrunedBelow > 0 {
		warn(fmt.Sprintf("the node no longer serves blocks below %d: they were not read for evidence of validator misbehaviour", mr.PrunedBelow))
	}
	out.Summary = auditSummary{Agencies: len(rep.Agencies), Grants: rep.Grants, Payments: rep.Payments,
		Totals: len(rep.Totals), Discrepancies: len(out.Discrepancies), Misbehaviour: len(mr.Evidence)}
	for _, t := range rep.Totals {
		if t.OK {
			out.Summary.TotalsOK++
		}
	}
	switch {
	case len(out.Discrepancies) > 0:
		out.Result = auditMismatch
	case len(mr.Evidence) > 0:
		out.Result = auditMisbehaviour
	default:
		out.Result = auditOK
	}
	return out, nil
}

// misbehaviourSuffix names, for the one-line reason of a failed audit, the
// agencies whose validators misbehaved ("" if none did).
func misbehaviourSuffix(out *auditOutput) string {
	if out.Misbehaviour == nil || len(out.Misbehaviour.Evidence) == 0 {
		return ""
	}
	counts := map[string]int{}
	var order []string
	for _, m := range out.Misbehaviour.Evidence {
		k := misbehaver(m) + " " + m.Type
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
	}
	parts := make([]string, len(order))
	for i, k := range order {
		parts[i] = fmt.Sprintf("%s ×%d", k, counts[k])
	}
	return "; VALIDATOR MISBEHAVIOUR committed on chain: " + sanitize(strings.Join(parts, ", "))
}

// misbehaver names the agency of a misbehaving validator, or its address
// when no agency holds or held its key.
func misbehaver(m client.Misbehaviour) string {
	if m.Agency == "" {
		return "validator " + m.Validator + " (no agency)"
	}
	return m.Agency
}

func printAudit(w io.Writer, format string, out *auditOutput) error {
	switch format {
	case "json":
		return writeJSON(w, out)
	case "csv":
		return writeAuditCSV(w, out)
	}
	kv := newKV(w)
	kv.add("chain", "%s", out.ChainID)
	kv.add("node", "%s", out.Node)
	kv.add("state height", "%d", out.Height)
	if out.Proofs != nil {
		kv.add("proofs", "%d keys proved against header %d %s (app hash %s)", out.Proofs.VerifiedKeys, out.Proofs.HeaderHeight, out.Proofs.HeaderHash, out.Proofs.AppHash)
	} else {
		kv.add("proofs", "none: the node is trusted")
	}
	kv.add("agencies", "%s", strings.Join(out.Agencies, ", "))
	if mr := out.Misbehaviour; mr != nil && len(mr.Evidence) == 0 {
		kv.add("misbehaviour", "none committed in blocks %d..%d", max(mr.From, mr.PrunedBelow), mr.To)
	}
	if err := kv.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if mr := out.Misbehaviour; mr != nil && len(mr.Evidence) > 0 {
		fmt.Fprintf(w, "MISBEHAVIOUR: blocks %d..%d committed evidence that validators misbehaved:\n", max(mr.From, mr.PrunedBelow), mr.To)
		for _, m := range mr.Evidence {
			checked := "verified"
			if !m.Verified {
				checked = "NOT verified: the node is trusted"
			}
			fmt.Fprintf(w, "  %s: %s by validator %s (power %d) at height %d: %s; committed in block %d (%s)\n",
				sanitize(misbehaver(m)), m.Type, m.Validator, m.Power, m.Height, sanitize(m.Detail), m.Block, checked)
		}
		fmt.Fprintln(w)
	}
	tw := newTable(w)
	row(tw, "AGENCY", "CURRENCY", "", "AWARDED", "GRANTS", "PAID", "AGAINST GRANTS", "PAYMENTS", "REVERSED", "REVERSALS", "RESULT")
	for _, t := range out.Totals {
		c := t.Currency
		f := func(a ledger.Amount) string { return ledger.FormatAmount(int64(a), c) }
		res := "OK"
		if !t.OK {
			res = "MISMATCH"
		}
		if t.Stored != nil {
			s := t.Stored
			row(tw, t.Agency, c, "stored", f(s.Awarded), strconv.FormatInt(s.Grants, 10), f(s.Paid), f(s.PaidAgainstGrant),
				strconv.FormatInt(s.Payments, 10), f(s.Reversed), strconv.FormatInt(s.Reversals, 10), res)
		} else {
			row(tw, t.Agency, c, "stored", "-", "-", "-", "-", "-", "-", "-", res)
		}
		r := t.Recomputed
		row(tw, "", "", "recomputed", f(r.Awarded), strconv.FormatInt(r.Grants, 10), f(r.Paid), f(r.PaidAgainstGrant),
			strconv.FormatInt(r.Payments, 10), f(r.Reversed), strconv.FormatInt(r.Reversals, 10), "")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if len(out.Discrepancies) == 0 {
		fmt.Fprintln(w, "discrepancies: none")
	} else {
		fmt.Fprintln(w, "discrepancies:")
		for _, d := range out.Discrepancies {
			fmt.Fprintf(w, "  %s: %s\n", d.Kind, sanitize(d.Detail))
		}
	}
	fmt.Fprintln(w)
	s := out.Summary
	fmt.Fprintf(w, "summary: %d agencies, %d grants, %d payments; %d of %d totals reconcile; %d discrepancies; %d validator misbehaviour\n",
		s.Agencies, s.Grants, s.Payments, s.TotalsOK, s.Totals, s.Discrepancies, s.Misbehaviour)
	_, err := fmt.Fprintln(w, out.Result)
	return err
}

// auditCSVHeader is the header row of "ledger audit -o csv".
var auditCSVHeader = []string{"type", "agency", "currency", "id", "result",
	"stored_awarded", "recomputed_awarded", "stored_grants", "recomputed_grants",
	"stored_paid", "recomputed_paid", "stored_paid_against_grant", "recomputed_paid_against_grant",
	"stored_payments", "recomputed_payments", "stored_reversed", "recomputed_reversed",
	"stored_reversals", "recomputed_reversals", "height", "detail",
	// The amounts again as decimals in the currency's units ("250000.00"),
	// after the columns above so that their positions stay as they were.
	"stored_awarded_decimal", "recomputed_awarded_decimal", "stored_paid_decimal", "recomputed_paid_decimal",
	"stored_paid_against_grant_decimal", "recomputed_paid_against_grant_decimal",
	"stored_reversed_decimal", "recomputed_reversed_decimal",
	// The id of the ledger invariant the row checks (ledger.Invariants),
	// last for the same reason; empty for a failed proof.
	"rule"}

func writeAuditCSV(w io.Writer, out *auditOutput) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(auditCSVHeader)
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	h := i(out.Height)
	for _, t := range out.Totals {
		res := auditOK
		if !t.OK {
			res = auditMismatch
		}
		r := t.Recomputed
		s := []string{"", "", "", "", "", "", ""}
		if t.Stored != nil {
			st := t.Stored
			s = []string{i(int64(st.Awarded)), i(st.Grants), i(int64(st.Paid)), i(int64(st.PaidAgainstGrant)), i(st.Payments), i(int64(st.Reversed)), i(st.Reversals)}
		}
		rc := []string{i(int64(r.Awarded)), i(r.Grants), i(int64(r.Paid)), i(int64(r.PaidAgainstGrant)), i(r.Payments), i(int64(r.Reversed)), i(r.Reversals)}
		rec := []string{"totals", t.Agency, t.Currency, client.TotalsID(t.Agency, t.Currency), res}
		for k := range rc {
			rec = append(rec, s[k], rc[k])
		}
		rec = append(rec, h, "")
		dec := func(a ledger.Amount) string { return ledger.FormatAmount(int64(a), t.Currency) }
		for _, field := range []func(*ledger.Totals) ledger.Amount{
			func(x *ledger.Totals) ledger.Amount { return x.Awarded },
			func(x *ledger.Totals) ledger.Amount { return x.Paid },
			func(x *ledger.Totals) ledger.Amount { return x.PaidAgainstGrant },
			func(x *ledger.Totals) ledger.Amount { return x.Reversed },
		} {
			stored := ""
			if t.Stored != nil {
				stored = dec(field(t.Stored))
			}
			rec = append(rec, stored, dec(field(&r)))
		}
		rec = append(rec, ledger.InvAgencyTotals)
		_ = cw.Write(rec)
	}
	for _, d := range out.Discrepancies {
		// The totals' columns stay empty.
		rec := make([]string, len(auditCSVHeader))
		copy(rec, []string{"discrepancy", d.Agency, d.Currency, d.ID, d.Kind})
		rec[slices.Index(auditCSVHeader, "height")] = h
		rec[slices.Index(auditCSVHeader, "detail")] = sanitize(d.Detail)
		rec[slices.Index(auditCSVHeader, "rule")] = d.Rule
		_ = cw.Write(rec)
	}
	if out.Misbehaviour != nil {
		for _, m := range out.Misbehaviour.Evidence {
			rec := make([]string, len(auditCSVHeader))
			copy(rec, []string{"misbehaviour", m.Agency, "", m.Evidence, m.Type})
			rec[slices.Index(auditCSVHeader, "height")] = h
			rec[slices.Index(auditCSVHeader, "detail")] = sanitize(fmt.Sprintf("validator %s (power %d) at height %d: %s; committed in block %d",
				m.Validator, m.Power, m.Height, m.Detail, m.Block))
			_ = cw.Write(rec)
		}
	}
	cw.Flush()
	return cw.Error()
}
