package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/ledger"
)

// resultComplete is the last line of a verified listing.
const resultComplete = "VERIFIED COMPLETE"

const verifyListHelp = `verify a whole listing at state height H: every page comes with ICS23 proofs
against the AppHash of header H+1 (verified from your trust root and
cross-checked with --witness nodes) that no entry of the listing was left out:
an existence proof of each entry, a non-existence proof showing each pair of
consecutive entries adjacent in the IAVL tree, and proofs that nothing lies
between the listing's start and the first entry or after the last one. each
entry's record is proved too. prints every entry, then VERIFIED COMPLETE.

--height 0 (the default) proves the state at L-1, L being the node's latest
block (header L already commits it).

exit status: 0 verified complete; 1 verification failed: an entry left out,
added or changed, a bad proof, signature or hash, a fork; 2 could not verify
(usage, no trust root, network).`

// newVerifyListCmds returns "verify grants|licences|payments|agencies".
func newVerifyListCmds(g *globalOpts) []*cobra.Command {
	return []*cobra.Command{
		newVerifyListCmd(g, ledger.ListingGrants, "verify every grant of an agency, proved complete", "agency"),
		newVerifyListCmd(g, ledger.ListingLicences, "verify every licence of an agency, proved complete", "agency"),
		newVerifyListCmd(g, ledger.ListingPayments, "verify every payment of an agency or against a grant, proved complete", "agency", "grant"),
		newVerifyListCmd(g, ledger.ListingAgencies, "verify the list of agencies, proved complete"),
	}
}

func newVerifyListCmd(g *globalOpts, use, short string, owners ...string) *cobra.Command {
	o := &verifyFlags{}
	var agency, grant string
	pageSize := ledger.MaxPageSize
	cmd := &cobra.Command{Use: use, Short: short, Long: verifyListHelp, Args: keysArgs(0)}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := o.check(); err != nil {
			return err
		}
		if pageSize < 1 || pageSize > ledger.MaxPageSize {
			return usagef("--page-size must be between 1 and %d", ledger.MaxPageSize)
		}
		listing, owner := ledger.ListingAgencies, ""
		switch {
		case len(owners) == 0:
		case agency != "" && grant != "":
			return usagef("give --agency or --grant, not both")
		case grant != "":
			listing, owner = ledger.ListingGrantPayments, grant
		case agency != "":
			listing, owner = use, agency
		default:
			if len(owners) == 2 {
				return usagef("--agency or --grant is required")
			}
			return usagef("--agency is required")
		}
		if err := checkOptionalID("", owner); err != nil {
			return err
		}
		out := &verifyOutput{Command: use, ID: owner, success: resultComplete}
		return runVerify(cmd, g, o, out, func(ctx context.Context, v *client.Verifier) error {
			return verifyListing(ctx, v, out, listing, owner, o.height, pageSize)
		})
	}
	o.register(cmd.Flags(), true)
	for _, ow := range owners {
		switch ow {
		case "agency":
			cmd.Flags().StringVar(&agency, "agency", "", "the agency whose "+use+" to list")
		case "grant":
			cmd.Flags().StringVar(&grant, "grant", "", "list the payments made against this grant instead")
		}
	}
	cmd.Flags().IntVar(&pageSize, "page-size", pageSize, "entries per proved page")
	return cmd
}

func verifyListing(ctx context.Context, v *client.Verifier, out *verifyOutput, listing, owner string, height int64, pageSize int) error {
	lv, err := v.VerifyListingComplete(ctx, listing, owner, height, pageSize)
	out.Steps = append(out.Steps, lv.Steps...)
	if r := lv.Report; r != nil {
		out.Listing, out.Height = r, r.Height
		hi := r.Header
		out.Header = &hi
	}
	if lv.Signers != nil {
		out.Signers, out.SignedPower, out.TotalPower = lv.Signers, lv.Signed, lv.TotalPower
	}
	if lv.Witnesses != nil {
		out.Witnesses = lv.Witnesses
	}
	if err != nil {
		return err
	}
	r := lv.Report
	out.text = func(w io.Writer) error {
		if err := printVerifiedListing(w, r); err != nil {
			return err
		}
		kv := newKV(w)
		kv.add("entries", "%d in %d proved pages, complete", len(r.Entries), r.Pages)
		kv.add("state height", "%d (the state after block %d)", r.Height, r.Height)
		kv.add("app hash", "%s (in header %d)", r.Header.AppHash, r.Header.Height)
		kv.add("header", "%d %s (%s)", r.Header.Height, r.Header.Hash, r.Header.Time.UTC().Format(time.RFC3339))
		printSigners(kv, out.Signers, out.SignedPower, out.TotalPower)
		printWitnesses(kv, out)
		printTrust(kv, out.Trust)
		printChecks(kv, out.Steps)
		return kv.flush()
	}
	return nil
}

// printVerifiedListing prints one row per verified entry.
func printVerifiedListing(w io.Writer, r *client.ListingReport) error {
	tw := newTable(w)
	switch r.Listing {
	case ledger.ListingAgencies:
		row(tw, "ID", "NAME", "JURISDICTION", "POWER")
	case ledger.ListingGrants:
		row(tw, "ID", "STATUS", "AWARDED", "DISBURSED", "RECIPIENT", "PROGRAMME")
	case ledger.ListingLicences:
		row(tw, "ID", "STATUS", "TYPE", "HOLDER", "VALID UNTIL")
	default:
		row(tw, "ID", "STATUS", "AMOUNT", "PAYEE", "DATE", "GRANT")
	}
	for _, e := range r.Entries {
		switch r.Listing {
		case ledger.ListingAgencies:
			var a ledger.Agency
			_ = json.Unmarshal(e.Record, &a)
			row(tw, e.ID, a.Name, a.Jurisdiction, strconv.FormatInt(a.Power, 10))
		case ledger.ListingGrants:
			var gr ledger.Grant
			_ = json.Unmarshal(e.Record, &gr)
			row(tw, e.ID, e.Index, shortMoney(gr.Awarded, gr.Currency), shortMoney(gr.Disbursed, gr.Currency), party(gr.Recipient), gr.Programme)
		case ledger.ListingLicences:
			var l ledger.Licence
			_ = json.Unmarshal(e.Record, &l)
			row(tw, e.ID, e.Index, l.LicenceType, party(l.Holder), l.ValidUntil)
		default:
			var p ledger.Payment
			_ = json.Unmarshal(e.Record, &p)
			row(tw, e.ID, e.Index, shortMoney(p.Amount, p.Currency), party(p.Payee), p.Date, orDash(p.Grant))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w)
	return err
}
