package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/ledger"
)

// Listing page sizes.
const (
	defaultListLimit = 50
	maxListLimit     = ledger.MaxPageSize
)

func newQueryCmd(g *globalOpts) *cobra.Command {
	q := groupCmd("query", "read records, listings, totals and history from a node",
		newRecordQueryCmd(g, ledger.KindGrant), newRecordQueryCmd(g, ledger.KindLicence),
		newRecordQueryCmd(g, ledger.KindPayment), newRecordQueryCmd(g, ledger.KindAgency),
		newListQueryCmd(g, ledger.KindGrant), newListQueryCmd(g, ledger.KindLicence), newListQueryCmd(g, ledger.KindPayment),
		newAgenciesQueryCmd(g), newTotalsQueryCmd(g), newParamsQueryCmd(g), newHistoryQueryCmd(g),
		newProposalQueryCmd(g), newProposalsQueryCmd(g),
	)
	q.Long = "read records, listings, totals and history from a node (which is trusted).\n\n" +
		"exit status: 0 ok; 1 not found (or the node refused the query); 2 usage error;\n" +
		"3 the node could not be reached."
	return q
}

// queryExit maps the error of a read to an exit status: not found, or a
// height the node does not keep, 1; an invalid id, an unknown agency or a
// query the node refused 2; a node that could not be reached 3 (nodeError).
func queryExit(err error) error {
	var ue *client.UnknownAgencyError
	var qe *client.QueryError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ue):
		return usagef("unknown agency %q at height %d ('ledger query agencies' lists them)", ue.Agency, ue.Height)
	case errors.Is(err, client.ErrInvalidID), errors.Is(err, client.ErrQueryRefused):
		return withExit(exitUsage, err)
	case errors.Is(err, client.ErrBadResponse):
		return err
	case errors.As(err, &qe):
		return withExit(exitFailed, err)
	}
	return nodeError(err)
}

// fetchRecord reads one record's JSON as stored on chain.
func fetchRecord(ctx context.Context, c *client.Client, kind ledger.Kind, id string, height int64) (json.RawMessage, int64, error) {
	raw, h, err := c.Record(ctx, kind, id, height)
	return raw, h, queryExit(err)
}

// requireAgency fails with a usage error (exit 2) naming an agency the
// state at height does not know, as query and audit both report it.
func requireAgency(ctx context.Context, c *client.Client, agency string, height int64) error {
	err := c.RequireAgency(ctx, agency, height)
	var ue *client.UnknownAgencyError
	if errors.As(err, &ue) {
		return queryExit(err)
	}
	return err
}

// fetchHistory returns the transactions that touched a record, oldest first,
// with what each changed.
func fetchHistory(ctx context.Context, c *client.Client, kind ledger.Kind, id string) ([]client.HistoryEntry, error) {
	hist, err := c.RecordHistory(ctx, kind, id)
	if err != nil {
		return nil, nodeError(err)
	}
	return hist, nil
}

func newQueryClient(g *globalOpts) (*client.Client, error) {
	c, err := client.New(g.Node)
	if err != nil {
		return nil, usagef("--node: %v", err)
	}
	return c, nil
}

func checkHeight(h int64) error {
	if h < 0 {
		return usagef("--height must not be negative")
	}
	return nil
}

// heightClient checks --height, then returns the client of --node.
func heightClient(g *globalOpts, height int64) (*client.Client, error) {
	if err := checkHeight(height); err != nil {
		return nil, err
	}
	return newQueryClient(g)
}

// decodeRecord decodes a record of kind (or a proposal) as the node
// served it.
func decodeRecord[T any](kind ledger.Kind, raw []byte) (*T, error) {
	var r T
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("%s: bad record from node: %w", kind, err)
	}
	return &r, nil
}

// tableRows adds a row of cells to tw for each of items, decoded as records
// of kind.
func tableRows[T any](tw io.Writer, kind ledger.Kind, items []json.RawMessage, cells func(r *T) []string) error {
	for _, it := range items {
		r, err := decodeRecord[T](kind, it)
		if err != nil {
			return err
		}
		row(tw, cells(r)...)
	}
	return nil
}

// pageFlags registers --status (one of the statuses of kind) and --limit
// of a listing of kind.
func pageFlags(fs *pflag.FlagSet, kind ledger.Kind, status *string, limit *int) {
	fs.StringVar(status, "status", "", "only "+pluralOf(kind)+" with this status ("+strings.Join(ledger.StatusesOf(kind), ", ")+")")
	fs.IntVar(limit, "limit", defaultListLimit, fmt.Sprintf("page size (1-%d)", maxListLimit))
}

// checkPageFlags checks --height and --limit of a listing.
func checkPageFlags(height int64, limit int) error {
	if err := checkHeight(height); err != nil {
		return err
	}
	if limit < 1 || limit > maxListLimit {
		return usagef("--limit must be between 1 and %d", maxListLimit)
	}
	return nil
}

// pluralOf names the records of kind in help and messages ("grants").
func pluralOf(kind ledger.Kind) string { return string(kind) + "s" }

// checkStatusFlag checks that --status, if given, is one of the statuses
// of kind.
func checkStatusFlag(kind ledger.Kind, status string) error {
	if statuses := ledger.StatusesOf(kind); status != "" && !slices.Contains(statuses, status) {
		return usagef("--status %q: %s statuses are %s", status, kind, strings.Join(statuses, ", "))
	}
	return nil
}

// pageJSON is a listing page as -o json prints it.
type pageJSON struct {
	Height int64             `json:"height"`
	Items  []json.RawMessage `json:"items"`
	Next   string            `json:"next,omitempty"`
}

// printNextPage names the --after value of the next page, if there is one.
func printNextPage(w io.Writer, next string) {
	if next != "" {
		fmt.Fprintf(w, "next page: --after %s\n", sanitize(next))
	}
}

// ---- one record ----

func newRecordQueryCmd(g *globalOpts, kind ledger.Kind) *cobra.Command {
	var height int64
	var history bool
	cmd := &cobra.Command{
		Use:   string(kind) + " ID",
		Short: "show one " + string(kind),
		Long: "show the " + string(kind) + " ID as recorded on chain. --history adds the transactions that\n" +
			"changed it (from the node's tx index; always the full history, whatever --height).",
		Args: keysArgs(1),
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := heightClient(g, height)
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		raw, h, err := fetchRecord(ctx, c, kind, args[0], height)
		if err != nil {
			return err
		}
		var hist []client.HistoryEntry
		if history {
			if hist, err = fetchHistory(ctx, c, kind, args[0]); err != nil {
				return err
			}
		}
		out := cmd.OutOrStdout()
		if g.Output == "json" {
			v := struct {
				Height  int64                  `json:"height"`
				Record  json.RawMessage        `json:"record"`
				History *[]client.HistoryEntry `json:"history,omitempty"`
			}{Height: h, Record: raw}
			if history {
				v.History = &hist
			}
			return writeJSON(out, v)
		}
		if err := printRecord(out, nodeOfficerNames(ctx, c, h), kind, raw, h); err != nil {
			return err
		}
		if history {
			fmt.Fprintln(out)
			fmt.Fprintln(out, "history:")
			return printHistory(out, signerNames(ctx, c), hist)
		}
		return nil
	}
	fs := cmd.Flags()
	heightFlag(fs, &height)
	fs.BoolVar(&history, "history", false, "also show the transactions that changed the record")
	return cmd
}

// officerNamer returns officer key → name for an agency; a payment's
// approvers are printed with those names.
type officerNamer func(agency string) map[string]string

// nodeOfficerNames looks names up in the agency record the node serves at
// height (best effort, unproved).
func nodeOfficerNames(ctx context.Context, c *client.Client, height int64) officerNamer {
	return func(agency string) map[string]string { return c.OfficerNames(ctx, agency, height) }
}

// printRecord prints a record as aligned key/value lines.
func printRecord(w io.Writer, names officerNamer, kind ledger.Kind, raw []byte, height int64) error {
	kv := newKV(w)
	kv.add("height", "%d", height)
	// What grants, licences and payments all have: first, then last.
	head := func(id, agency, status string) {
		kv.add("id", "%s", id)
		kv.add("agency", "%s", agency)
		kv.add("status", "%s", status)
	}
	tail := func(created, updated int64) {
		kv.add("created_height", "%d", created)
		kv.add("updated_height", "%d", updated)
	}
	switch kind {
	case ledger.KindGrant:
		r, err := decodeRecord[ledger.Grant](kind, raw)
		if err != nil {
			return err
		}
		head(r.ID, r.Agency, string(r.Status))
		kv.add("recipient", "%s", party(r.Recipient))
		kv.add("programme", "%s", r.Programme)
		kv.add("purpose", "%s", r.Purpose)
		kv.add("currency", "%s", r.Currency)
		kv.add("awarded", "%s", money(r.Awarded, r.Currency))
		kv.add("disbursed", "%s", money(r.Disbursed, r.Currency))
		kv.add("remaining", "%s", money(r.Awarded-r.Disbursed, r.Currency))
		kv.add("payments", "%d", r.Payments)
		kv.add("period_start", "%s", r.PeriodStart)
		kv.add("period_end", "%s", r.PeriodEnd)
		kv.add("decision_date", "%s", r.DecisionDate)
		kv.add("document_hash", "%s (the award decision)", r.DocumentHash)
		if r.AmendmentHash != "" {
			kv.add("amendment_document_hash", "%s (the latest amendment; each is in --history)", r.AmendmentHash)
		}
		tail(r.Created, r.Updated)
	case ledger.KindLicence:
		r, err := decodeRecord[ledger.Licence](kind, raw)
		if err != nil {
			return err
		}
		head(r.ID, r.Agency, string(r.Status))
		kv.add("holder", "%s", party(r.Holder))
		kv.add("licence_type", "%s", r.LicenceType)
		kv.add("scope", "%s", r.Scope)
		kv.add("valid_from", "%s", r.ValidFrom)
		kv.add("valid_until", "%s", r.ValidUntil)
		kv.add("decision_date", "%s", r.DecisionDate)
		kv.add("conditions_hash", "%s (the conditions the licence was issued with)", r.ConditionsHash)
		if r.RenewalHash != "" {
			kv.add("renewal_document_hash", "%s (the latest renewal; each is in --history)", r.RenewalHash)
		}
		tail(r.Created, r.Updated)
	case ledger.KindPayment:
		r, err := decodeRecord[ledger.Payment](kind, raw)
		if err != nil {
			return err
		}
		head(r.ID, r.Agency, string(r.Status))
		kv.add("payee", "%s", party(r.Payee))
		kv.add("amount", "%s", money(r.Amount, r.Currency))
		kv.add("currency", "%s", r.Currency)
		kv.add("date", "%s", r.Date)
		kv.add("purpose", "%s", r.Purpose)
		kv.add("grant", "%s", orDash(r.Grant))
		names := names(r.Agency)
		for i, k := range r.Approved {
			key := "approved_by"
			if i > 0 {
				key = ""
			}
			if n := names[string(k)]; n != "" {
				kv.add(key, "%s (%s)", n, b64(k))
			} else {
				kv.add(key, "%s", b64(k))
			}
		}
		tail(r.Created, r.Updated)
	case ledger.KindAgency:
		r, err := decodeRecord[ledger.Agency](kind, raw)
		if err != nil {
			return err
		}
		kv.add("id", "%s", r.ID)
		kv.add("name", "%s", r.Name)
		kv.add("jurisdiction", "%s", r.Jurisdiction)
		kv.add("power", "%d", r.Power)
		kv.add("validator_key", "%s", b64(r.ValidatorKey))
		kv.add("officers", "%d", len(r.Officers))
		if err := kv.flush(); err != nil {
			return err
		}
		tw := newTable(w)
		row(tw, "  NAME", "ROLES", "KEY")
		for _, o := range r.Officers {
			row(tw, "  "+o.Name, roleList(o.Roles), b64(o.Key))
		}
		return tw.Flush()
	}
	return kv.flush()
}

// signerNames names the officers who signed a history entry's tx, from
// their agency's record in the state before the tx's block; a key the
// record does not name is shown in base64.
func signerNames(ctx context.Context, c *client.Client) func(e client.HistoryEntry) []string {
	cache := map[string]map[string]string{}
	return func(e client.HistoryEntry) []string {
		k := fmt.Sprintf("%s@%d", e.Agency, e.Height-1)
		names, ok := cache[k]
		if !ok && e.Agency != "" && e.Height > 1 {
			names = c.OfficerNames(ctx, e.Agency, e.Height-1)
			cache[k] = names
		}
		var out []string
		for _, s := range e.Signers {
			key, _ := base64.StdEncoding.DecodeString(s)
			if n := names[string(key)]; n != "" {
				out = append(out, n)
			} else {
				out = append(out, s)
			}
		}
		return out
	}
}

// printHistory prints a record's history: one row per transaction, then
// what each changed (old → new), why (the tx's reason) and who signed it.
func printHistory(w io.Writer, who func(client.HistoryEntry) []string, hist []client.HistoryEntry) error {
	if len(hist) == 0 {
		_, err := fmt.Fprintln(w, "no transactions found")
		return err
	}
	tw := newTable(w)
	row(tw, "HEIGHT", "HASH", "TYPE", "ACTION", "STATUS")
	for _, e := range hist {
		row(tw, strconv.FormatInt(e.Height, 10), e.Hash, orDash(e.Type), orDash(e.Action), orDash(e.Status))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "changes:")
	for i, e := range hist {
		var parts []string
		if names := who(e); len(names) > 0 {
			parts = append(parts, "by "+strings.Join(names, ", "))
		}
		if e.Reason != "" {
			parts = append(parts, fmt.Sprintf("reason %q", e.Reason))
		}
		switch {
		case i > 0 && hist[i-1].Height == e.Height:
			parts = append(parts, "in the same block as the line above, whose changes are the block's")
		case e.Created:
			parts = append(parts, "record created")
		case len(e.Changes) == 0:
			parts = append(parts, "no field of the record changed (or the node keeps no old states)")
		}
		if i == 0 || hist[i-1].Height != e.Height {
			for _, c := range e.Changes {
				parts = append(parts, c.String())
			}
		}
		fmt.Fprintf(w, "  %d %s: %s\n", e.Height, orDash(e.Type), sanitize(strings.Join(parts, "; ")))
	}
	return nil
}

// ---- history ----

func newHistoryQueryCmd(g *globalOpts) *cobra.Command {
	return &cobra.Command{
		Use:   "history grant|licence|payment|agency ID",
		Short: "show the transactions that changed a record",
		Long: "show, oldest first, the transactions that changed a record (from the node's tx\n" +
			"index). a grant's history includes the payments made against it; an agency's\n" +
			"history is its officer changes. for each: the officers who signed (named from\n" +
			"their agency's record), the reason the tx gives, and the fields of the record\n" +
			"its block changed, old → new (read from the node's old states: an archive node,\n" +
			"as ledgerd runs by default). the node is trusted; 'ledger verify' proves records.",
		Args: keysArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, id := ledger.Kind(args[0]), args[1]
			if !slices.Contains(ledger.RecordKinds, kind) {
				return usagef("unknown record kind %q (grant, licence, payment or agency)", kind)
			}
			if err := checkID(string(kind)+" id", id); err != nil {
				return err
			}
			c, err := newQueryClient(g)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			hist, err := fetchHistory(ctx, c, kind, id)
			if err != nil {
				return err
			}
			if len(hist) == 0 {
				// No transaction: tell a missing record from one that was
				// never changed (e.g. an agency created at genesis).
				if _, _, err := fetchRecord(ctx, c, kind, id, 0); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			if g.Output == "json" {
				return writeJSON(out, struct {
					Kind    ledger.Kind           `json:"kind"`
					ID      string                `json:"id"`
					History []client.HistoryEntry `json:"history"`
				}{kind, id, hist})
			}
			return printHistory(out, signerNames(ctx, c), hist)
		},
	}
}

// ---- listings ----

func newListQueryCmd(g *globalOpts, kind ledger.Kind) *cobra.Command {
	var f client.ListFilter
	var height int64
	var grant string
	plural := pluralOf(kind)
	cmd := &cobra.Command{
		Use:   plural,
		Short: "list " + plural + ", a page at a time",
		Long: "list " + plural + " in id order, optionally of one agency and/or with one status.\n" +
			"when there are more, the last line names the --after value of the next page.",
		Args: keysArgs(0),
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkPageFlags(height, f.Limit); err != nil {
			return err
		}
		if err := checkOptionalID("--agency", f.Agency); err != nil {
			return err
		}
		if err := checkOptionalID("--after", f.After); err != nil {
			return err
		}
		if err := checkStatusFlag(kind, f.Status); err != nil {
			return err
		}
		byGrant := cmd.Flags().Changed("grant")
		if byGrant {
			if err := checkID("--grant", grant); err != nil {
				return err
			}
			if f.Agency != "" || f.Status != "" {
				return usagef("--grant cannot be combined with --agency or --status")
			}
		}
		c, err := newQueryClient(g)
		if err != nil {
			return err
		}
		var page *client.Page
		if byGrant {
			page, err = c.GrantPayments(cmd.Context(), grant, f, height)
		} else {
			page, err = c.Records(cmd.Context(), kind, f, height)
		}
		if err != nil {
			return queryExit(err)
		}
		out := cmd.OutOrStdout()
		if g.Output == "json" {
			return writeJSON(out, pageJSON{page.Height, page.Items, page.Next})
		}
		if err := printListing(out, kind, page.Items); err != nil {
			return err
		}
		printNextPage(out, page.Next)
		return nil
	}
	fs := cmd.Flags()
	fs.StringVar(&f.Agency, "agency", "", "only "+plural+" of this agency")
	pageFlags(fs, kind, &f.Status, &f.Limit)
	fs.StringVar(&f.After, "after", "", "start after this id (from the previous page's 'next page' line)")
	heightFlag(fs, &height)
	if kind == ledger.KindPayment {
		fs.StringVar(&grant, "grant", "", "only payments made against this grant")
	}
	return cmd
}

func printListing(w io.Writer, kind ledger.Kind, items []json.RawMessage) error {
	if len(items) == 0 {
		_, err := fmt.Fprintf(w, "no %s found\n", pluralOf(kind))
		return err
	}
	tw := newTable(w)
	var err error
	switch kind {
	case ledger.KindGrant:
		row(tw, "ID", "AGENCY", "STATUS", "AWARDED", "DISBURSED", "RECIPIENT", "PROGRAMME")
		err = tableRows(tw, kind, items, func(r *ledger.Grant) []string {
			return []string{r.ID, r.Agency, string(r.Status), shortMoney(r.Awarded, r.Currency), shortMoney(r.Disbursed, r.Currency), party(r.Recipient), r.Programme}
		})
	case ledger.KindLicence:
		row(tw, "ID", "AGENCY", "STATUS", "TYPE", "HOLDER", "VALID FROM", "VALID UNTIL")
		err = tableRows(tw, kind, items, func(r *ledger.Licence) []string {
			return []string{r.ID, r.Agency, string(r.Status), r.LicenceType, party(r.Holder), r.ValidFrom, r.ValidUntil}
		})
	case ledger.KindPayment:
		row(tw, "ID", "AGENCY", "STATUS", "AMOUNT", "DATE", "PAYEE", "GRANT")
		err = tableRows(tw, kind, items, func(r *ledger.Payment) []string {
			return []string{r.ID, r.Agency, string(r.Status), shortMoney(r.Amount, r.Currency), r.Date, party(r.Payee), orDash(r.Grant)}
		})
	}
	if err != nil {
		return err
	}
	return tw.Flush()
}

func newAgenciesQueryCmd(g *globalOpts) *cobra.Command {
	var height int64
	cmd := &cobra.Command{Use: "agencies", Short: "list every agency", Args: keysArgs(0)}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := heightClient(g, height)
		if err != nil {
			return err
		}
		page, err := c.AgencyList(cmd.Context(), height)
		if err != nil {
			return queryExit(err)
		}
		out := cmd.OutOrStdout()
		if g.Output == "json" {
			// The agencies come in one page: no next.
			return writeJSON(out, pageJSON{Height: page.Height, Items: page.Items})
		}
		tw := newTable(out)
		row(tw, "ID", "NAME", "JURISDICTION", "POWER", "OFFICERS")
		if err := tableRows(tw, ledger.KindAgency, page.Items, func(a *ledger.Agency) []string {
			return []string{a.ID, a.Name, a.Jurisdiction, strconv.FormatInt(a.Power, 10), strconv.Itoa(len(a.Officers))}
		}); err != nil {
			return err
		}
		return tw.Flush()
	}
	heightFlag(cmd.Flags(), &height)
	return cmd
}

func newTotalsQueryCmd(g *globalOpts) *cobra.Command {
	var height int64
	cmd := &cobra.Command{
		Use:   "totals AGENCY CURRENCY",
		Short: "show an agency's running totals in one currency",
		Args:  keysArgs(2),
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		agency, cur := args[0], args[1]
		if err := checkTotalsArgs(agency, cur); err != nil {
			return err
		}
		c, err := heightClient(g, height)
		if err != nil {
			return err
		}
		t, v, h, err := c.Totals(cmd.Context(), agency, cur, height)
		if err != nil {
			return queryExit(err)
		}
		out := cmd.OutOrStdout()
		if g.Output == "json" {
			return writeJSON(out, struct {
				Height int64           `json:"height"`
				Totals json.RawMessage `json:"totals"`
			}{h, v})
		}
		kv := newKV(out)
		kv.add("height", "%d", h)
		kv.add("agency", "%s", t.Agency)
		kv.add("currency", "%s", t.Currency)
		kv.add("awarded", "%s", money(t.Awarded, t.Currency))
		kv.add("grants", "%d", t.Grants)
		kv.add("paid", "%s", money(t.Paid, t.Currency))
		kv.add("paid_against_grant", "%s", money(t.PaidAgainstGrant, t.Currency))
		kv.add("payments", "%d", t.Payments)
		kv.add("reversed", "%s", money(t.Reversed, t.Currency))
		kv.add("reversals", "%d", t.Reversals)
		return kv.flush()
	}
	heightFlag(cmd.Flags(), &height)
	return cmd
}

func newParamsQueryCmd(g *globalOpts) *cobra.Command {
	var height int64
	cmd := &cobra.Command{Use: "params", Short: "show the chain parameters", Args: keysArgs(0)}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := heightClient(g, height)
		if err != nil {
			return err
		}
		p, v, h, err := c.Params(cmd.Context(), height)
		if err != nil {
			return queryExit(err)
		}
		out := cmd.OutOrStdout()
		if g.Output == "json" {
			return writeJSON(out, struct {
				Height int64           `json:"height"`
				Params json.RawMessage `json:"params"`
			}{h, v})
		}
		kv := newKV(out)
		kv.add("height", "%d", h)
		kv.add("max_tx_bytes", "%d", p.MaxTxBytes)
		fourEyesLines(kv, "four_eyes_threshold", p)
		kv.add("replay_window", "%d blocks", p.ReplayWindow)
		kv.add("voting_period", "%d blocks (agencies may vote on a proposal)", p.VotingPeriod)
		kv.add("notice_period", "%d blocks (between a proposal passing and taking effect)", p.NoticePeriod)
		return kv.flush()
	}
	heightFlag(cmd.Flags(), &height)
	return cmd
}
