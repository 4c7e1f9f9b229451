package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/civicledger/civicledger/client"
	"github.com/civicledger/civicledger/ledger"
)

// txFlags are the flags common to every tx command (persistent flags of
// "ledger tx").
type txFlags struct {
	from      string
	cosign    []string
	agency    string
	noWait    bool
	expiresIn int64
	nonce     uint64
	timeout   time.Duration
}

// txSpec describes one transaction command.
type txSpec struct {
	// payload builds the payload from the command's flags without talking
	// to the node; usage errors carry exit status 2.
	payload func() (ledger.Payload, error)
	// resolve, if set, completes the payload with data read from the node
	// (e.g. a grant's currency) before it is validated and signed.
	resolve func(ctx context.Context, c *client.Client, p ledger.Payload) error
	// report, if set, reads what a tx committed with code 0 created (e.g. a
	// proposal's id) from its events or the node, for the output. It is
	// best effort: the tx is committed whatever it finds.
	report func(ctx context.Context, c *client.Client, res *client.TxResult) *txReport
}

// txReport is what a command adds to the output of a committed tx: JSON
// members beside the TxResult's, and text lines after them.
type txReport struct {
	ProposalID     uint64                `json:"proposal_id,omitempty"`
	ProposalStatus ledger.ProposalStatus `json:"proposal_status,omitempty"`
	VotingEnd      int64                 `json:"voting_end_height,omitempty"`
	Effective      int64                 `json:"effective_height,omitempty"`
	Tally          *ledger.Tally         `json:"tally,omitempty"`
	lines          []string
}

func newTxCmd(g *globalOpts) *cobra.Command {
	o := &txFlags{}
	tx := groupCmd("tx", "sign and submit transactions",
		groupCmd("grant", "award, amend, close and revoke grants",
			newGrantAwardCmd(g, o), newGrantAmendCmd(g, o),
			newGrantEndCmd(g, o, ledger.ActionClose), newGrantEndCmd(g, o, ledger.ActionRevoke)),
		groupCmd("licence", "issue, renew, suspend, reinstate and revoke licences",
			newLicenceIssueCmd(g, o), newLicenceRenewCmd(g, o),
			newLicenceActionCmd(g, o, ledger.ActionSuspend), newLicenceActionCmd(g, o, ledger.ActionReinstate), newLicenceActionCmd(g, o, ledger.ActionRevoke)),
		groupCmd("payment", "record and reverse payments",
			newPaymentRecordCmd(g, o), newPaymentReverseCmd(g, o)),
		groupCmd("agency", "manage the acting agency",
			groupCmd("officer", "add, remove and change officers (admin role)",
				newOfficerAddCmd(g, o), newOfficerRemoveCmd(g, o), newOfficerSetRolesCmd(g, o))),
		newGovTxCmd(g, o),
	)
	tx.Long = "sign a transaction with an officer's key and submit it to the node.\n\n" +
		"exit status: 0 committed with code 0; 1 rejected by the chain (the rule is\n" +
		"printed on stderr); 2 usage error (nothing was sent); 3 the node could not be\n" +
		"reached or the tx was not included within --timeout."
	pf := tx.PersistentFlags()
	pf.StringVar(&o.from, "from", "", "name of the signing officer's key in the keystore (required)")
	pf.StringArrayVar(&o.cosign, "cosign", nil, "name of a co-signing officer's key (repeatable; four-eyes approval)")
	pf.StringVar(&o.agency, "agency", "", "acting agency id (default: the agency recorded with the --from key)")
	pf.BoolVar(&o.noWait, "no-wait", false, "return once the mempool accepted the tx, without waiting for a block")
	pf.Int64Var(&o.expiresIn, "expires-in", 100, "blocks from the current height after which the tx is invalid (the current height is the node's, or the last one this client verified if that is higher)")
	pf.Uint64Var(&o.nonce, "nonce", 0, "transaction nonce (default: random)")
	pf.DurationVar(&o.timeout, "timeout", 30*time.Second, "how long to wait for the node and for inclusion")
	return tx
}

// ---- grants ----

func newGrantAwardCmd(g *globalOpts, o *txFlags) *cobra.Command {
	var f struct {
		id, programme, purpose                 string
		amount, currency, start, end, decision string
		recipient                              partyFlags
		ind                                    individualFlags
	}
	var doc docFlags
	cmd := &cobra.Command{
		Use:   "award",
		Short: "award a grant",
		Args:  keysArgs(0),
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return runTx(cmd, g, o, txSpec{payload: func() (ledger.Payload, error) {
			if err := requireFlags(cmd, append(requiredParty(cmd, "recipient", f.ind.on), "id", "programme",
				"purpose", "amount", "period-start", "period-end", "decision-date")...); err != nil {
				return nil, err
			}
			minor, cur, err := parseMoney(f.amount, f.currency)
			if err != nil {
				return nil, err
			}
			hash, err := doc.hash()
			if err != nil {
				return nil, err
			}
			return &ledger.GrantAward{
				ID: f.id, Recipient: f.recipient.party(),
				Programme: f.programme, Purpose: f.purpose, Amount: minor, Currency: cur,
				PeriodStart: f.start, PeriodEnd: f.end, DecisionDate: f.decision, DocumentHash: hash,
			}, nil
		}, resolve: func(ctx context.Context, c *client.Client, p ledger.Payload) error {
			a := p.(*ledger.GrantAward)
			return f.ind.individualParty(ctx, cmd, g, c, ledger.KindGrant, a.ID, "", &a.Recipient)
		}})
	}
	fs := cmd.Flags()
	fs.StringVar(&f.id, "id", "", "grant id (required)")
	f.recipient.register(fs, "recipient", ", e.g. GB-COH")
	f.ind.register(fs, "recipient")
	fs.StringVar(&f.programme, "programme", "", "funding programme (required)")
	fs.StringVar(&f.purpose, "purpose", "", "purpose of the grant (required)")
	amountFlags(fs, &f.amount, &f.currency, "awarded amount")
	fs.StringVar(&f.start, "period-start", "", "start of the grant period, YYYY-MM-DD (required)")
	fs.StringVar(&f.end, "period-end", "", "end of the grant period, YYYY-MM-DD (required)")
	fs.StringVar(&f.decision, "decision-date", "", fmt.Sprintf("date of the award decision, YYYY-MM-DD; not after --period-end nor more than %d days after --period-start (required)", ledger.DecisionLagDays))
	doc.register(fs, "document", "the award decision document")
	return cmd
}

func newGrantAmendCmd(g *globalOpts, o *txFlags) *cobra.Command {
	var id, amount, currency, end, reason string
	var doc docFlags
	cmd := &cobra.Command{
		Use:   "amend",
		Short: "change a grant's awarded amount and/or end of period",
		Long: "change a grant's awarded amount (--amount, the new total) and/or its end of\n" +
			"period (--period-end). the grant is read from the node first: its currency is\n" +
			"used to read --amount, and whichever of the two is not given is kept.",
		Args: keysArgs(0),
	}
	var minor string // parsed --amount, when its currency is known locally
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return runTx(cmd, g, o, txSpec{
			payload: func() (ledger.Payload, error) {
				if err := requireFlags(cmd, "id", "reason"); err != nil {
					return nil, err
				}
				if !cmd.Flags().Changed("amount") && !cmd.Flags().Changed("period-end") {
					return nil, usagef("nothing to amend: give --amount and/or --period-end")
				}
				if cmd.Flags().Changed("amount") && strings.TrimSpace(amount) == "" {
					return nil, usagef("--amount must not be empty")
				}
				if cmd.Flags().Changed("period-end") && end == "" {
					return nil, usagef("--period-end must not be empty")
				}
				if err := checkID("--id", id); err != nil {
					return nil, err
				}
				if amount != "" {
					// Check the amount now if its currency is known, so that a
					// bad amount fails before anything is sent.
					if _, cur := splitAmount(amount, currency); cur != "" {
						m, _, err := parseMoney(amount, currency)
						if err != nil {
							return nil, err
						}
						minor = m
					}
				}
				hash, err := doc.hash()
				if err != nil {
					return nil, err
				}
				return &ledger.GrantAmend{ID: id, PeriodEnd: end, DocumentHash: hash, Reason: reason}, nil
			},
			resolve: func(ctx context.Context, c *client.Client, p ledger.Payload) error {
				a := p.(*ledger.GrantAmend)
				var inGrantCurrency func(string) (string, error)
				if amount != "" {
					inGrantCurrency = func(grantCurrency string) (string, error) {
						num, cur := splitAmount(amount, currency)
						if cur != "" && cur != grantCurrency {
							return "", usagef("grant %s is in %s; --amount %q is in %s", a.ID, grantCurrency, amount, cur)
						}
						if minor == "" {
							m, _, err := parseMoney(num, grantCurrency)
							if err != nil {
								return "", err
							}
							minor = m
						}
						return minor, nil
					}
				}
				return queryExit(c.AmendGrant(ctx, a, inGrantCurrency))
			},
		})
	}
	fs := cmd.Flags()
	fs.StringVar(&id, "id", "", "grant id (required)")
	fs.StringVar(&amount, "amount", "", `new awarded total, e.g. "1500.00 EUR" or "1500.00" (in the grant's currency)`)
	fs.StringVar(&currency, "currency", "", "currency of --amount (optional: it must be the grant's)")
	fs.StringVar(&end, "period-end", "", "new end of the grant period, YYYY-MM-DD")
	fs.StringVar(&reason, "reason", "", "reason for the amendment (required)")
	doc.register(fs, "document", "the amendment decision document")
	return cmd
}

// newGrantEndCmd is "grant close" or "grant revoke".
func newGrantEndCmd(g *globalOpts, o *txFlags, action string) *cobra.Command {
	short := map[string]string{ledger.ActionClose: "close a grant: no further payments", ledger.ActionRevoke: "revoke a grant"}[action]
	return newDecisionCmd(g, o, action, short, ledger.KindGrant, func(id, hash, reason string) ledger.Payload {
		c := ledger.GrantClose{ID: id, DocumentHash: hash, Reason: reason}
		if action == ledger.ActionRevoke {
			r := ledger.GrantRevoke(c)
			return &r
		}
		return &c
	})
}

// newDecisionCmd is a command that changes the status of one record of
// kind by a decision: --id, --reason and the decision document, from which
// payload builds the tx.
func newDecisionCmd(g *globalOpts, o *txFlags, use, short string, kind ledger.Kind, payload func(id, hash, reason string) ledger.Payload) *cobra.Command {
	var id, reason string
	var doc docFlags
	cmd := &cobra.Command{Use: use, Short: short, Args: keysArgs(0)}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return runTx(cmd, g, o, txSpec{payload: func() (ledger.Payload, error) {
			if err := requireFlags(cmd, "id", "reason"); err != nil {
				return nil, err
			}
			hash, err := doc.hash()
			if err != nil {
				return nil, err
			}
			return payload(id, hash, reason), nil
		}})
	}
	fs := cmd.Flags()
	fs.StringVar(&id, "id", "", string(kind)+" id (required)")
	fs.StringVar(&reason, "reason", "", "reason (required)")
	doc.register(fs, "document", "the decision document")
	return cmd
}

// ---- licences ----

func newLicenceIssueCmd(g *globalOpts, o *txFlags) *cobra.Command {
	var f struct {
		id, typ, scope, from, until, decision string
		holder                                partyFlags
		ind                                   individualFlags
	}
	var cond docFlags
	cmd := &cobra.Command{Use: "issue", Short: "issue a licence", Args: keysArgs(0)}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return runTx(cmd, g, o, txSpec{payload: func() (ledger.Payload, error) {
			if err := requireFlags(cmd, append(requiredParty(cmd, "holder", f.ind.on), "id", "type", "scope",
				"valid-from", "valid-until", "decision-date")...); err != nil {
				return nil, err
			}
			hash, err := cond.hash()
			if err != nil {
				return nil, err
			}
			return &ledger.LicenceIssue{
				ID: f.id, Holder: f.holder.party(),
				LicenceType: f.typ, Scope: f.scope, ValidFrom: f.from, ValidUntil: f.until,
				DecisionDate: f.decision, ConditionsHash: hash,
			}, nil
		}, resolve: func(ctx context.Context, c *client.Client, p ledger.Payload) error {
			l := p.(*ledger.LicenceIssue)
			return f.ind.individualParty(ctx, cmd, g, c, ledger.KindLicence, l.ID, "", &l.Holder)
		}})
	}
	fs := cmd.Flags()
	fs.StringVar(&f.id, "id", "", "licence id (required)")
	f.holder.register(fs, "holder", "")
	f.ind.register(fs, "holder")
	fs.StringVar(&f.typ, "type", "", "licence type (required)")
	fs.StringVar(&f.scope, "scope", "", "what the licence permits (required)")
	fs.StringVar(&f.from, "valid-from", "", "first day of validity, YYYY-MM-DD (required)")
	fs.StringVar(&f.until, "valid-until", "", "last day of validity, YYYY-MM-DD (required)")
	fs.StringVar(&f.decision, "decision-date", "", fmt.Sprintf("date of the decision, YYYY-MM-DD; not after --valid-until nor more than %d days after --valid-from (required)", ledger.DecisionLagDays))
	cond.register(fs, "conditions", "the licence conditions")
	return cmd
}

func newLicenceRenewCmd(g *globalOpts, o *txFlags) *cobra.Command {
	var id, until string
	var doc docFlags
	cmd := &cobra.Command{Use: "renew", Short: "extend a licence's validity", Args: keysArgs(0)}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return runTx(cmd, g, o, txSpec{payload: func() (ledger.Payload, error) {
			if err := requireFlags(cmd, "id", "valid-until"); err != nil {
				return nil, err
			}
			hash, err := doc.hash()
			if err != nil {
				return nil, err
			}
			return &ledger.LicenceRenew{ID: id, ValidUntil: until, DocumentHash: hash}, nil
		}})
	}
	fs := cmd.Flags()
	fs.StringVar(&id, "id", "", "licence id (required)")
	fs.StringVar(&until, "valid-until", "", "new last day of validity, YYYY-MM-DD (required)")
	doc.register(fs, "document", "the renewal decision document")
	return cmd
}

// newLicenceActionCmd is "licence suspend", "reinstate" or "revoke".
func newLicenceActionCmd(g *globalOpts, o *txFlags, action string) *cobra.Command {
	short := map[string]string{
		ledger.ActionSuspend: "suspend a licence", ledger.ActionReinstate: "lift a licence's suspension", ledger.ActionRevoke: "revoke a licence for good",
	}[action]
	return newDecisionCmd(g, o, action, short, ledger.KindLicence, func(id, hash, reason string) ledger.Payload {
		a := ledger.LicenceAction{ID: id, DocumentHash: hash, Reason: reason}
		switch action {
		case ledger.ActionSuspend:
			p := ledger.LicenceSuspend(a)
			return &p
		case ledger.ActionReinstate:
			p := ledger.LicenceReinstate(a)
			return &p
		default:
			p := ledger.LicenceRevoke(a)
			return &p
		}
	})
}

// ---- payments ----

func newPaymentRecordCmd(g *globalOpts, o *txFlags) *cobra.Command {
	var f struct {
		id, amount, currency, date, purpose, grant string
		payee                                      partyFlags
		ind                                        individualFlags
	}
	cmd := &cobra.Command{
		Use:   "record",
		Short: "record a payment, optionally against a grant",
		Long: "record a payment. payments above the chain's four-eyes threshold need a second\n" +
			"finance officer: add --cosign NAME.",
		Args: keysArgs(0),
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return runTx(cmd, g, o, txSpec{payload: func() (ledger.Payload, error) {
			if err := requireFlags(cmd, append(requiredParty(cmd, "payee", f.ind.on), "id", "amount", "date", "purpose")...); err != nil {
				return nil, err
			}
			minor, cur, err := parseMoney(f.amount, f.currency)
			if err != nil {
				return nil, err
			}
			if cmd.Flags().Changed("grant") && f.grant == "" {
				return nil, usagef("--grant must not be empty")
			}
			return &ledger.PaymentRecord{
				ID: f.id, Payee: f.payee.party(),
				Amount: minor, Currency: cur, Date: f.date, Purpose: f.purpose, Grant: f.grant,
			}, nil
		}, resolve: func(ctx context.Context, c *client.Client, p ledger.Payload) error {
			r := p.(*ledger.PaymentRecord)
			return f.ind.individualParty(ctx, cmd, g, c, ledger.KindPayment, r.ID, r.Grant, &r.Payee)
		}})
	}
	fs := cmd.Flags()
	fs.StringVar(&f.id, "id", "", "payment id (required)")
	f.payee.register(fs, "payee", "")
	f.ind.register(fs, "payee")
	amountFlags(fs, &f.amount, &f.currency, "amount paid")
	fs.StringVar(&f.date, "date", "", fmt.Sprintf("payment date, YYYY-MM-DD; with --grant, from %d days before the grant period to %d days after it (required)", ledger.PaymentLeadDays, ledger.PaymentTailDays))
	fs.StringVar(&f.purpose, "purpose", "", "purpose of the payment (required)")
	fs.StringVar(&f.grant, "grant", "", "id of the grant the payment is made against")
	return cmd
}

func newPaymentReverseCmd(g *globalOpts, o *txFlags) *cobra.Command {
	var id, reason string
	cmd := &cobra.Command{
		Use:   "reverse",
		Short: "reverse a recorded payment",
		Long:  "reverse a recorded payment; above the four-eyes threshold add --cosign NAME.",
		Args:  keysArgs(0),
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return runTx(cmd, g, o, txSpec{payload: func() (ledger.Payload, error) {
			if err := requireFlags(cmd, "id", "reason"); err != nil {
				return nil, err
			}
			return &ledger.PaymentReverse{ID: id, Reason: reason}, nil
		}})
	}
	fs := cmd.Flags()
	fs.StringVar(&id, "id", "", "payment id (required)")
	fs.StringVar(&reason, "reason", "", "reason for the reversal (required)")
	return cmd
}

// ---- officers ----

// officerKeyFlags select an officer's public key: --key or --key-name (or,
// registered with registerAs, --X and --X-name).
type officerKeyFlags struct{ flag, key, keyName string }

func (k *officerKeyFlags) register(fs *pflag.FlagSet) { k.registerAs(fs, "key", "the officer") }

// registerAs registers --flag and --flag-name; who names the key's holder.
func (k *officerKeyFlags) registerAs(fs *pflag.FlagSet, flag, who string) {
	k.flag = flag
	fs.StringVar(&k.key, flag, "", who+"'s ed25519 public key (base64, or 64 hex digits)")
	fs.StringVar(&k.keyName, flag+"-name", "", "take "+who+"'s public key from this key in the local keystore")
}

func (k *officerKeyFlags) resolve(cmd *cobra.Command, g *globalOpts) ([]byte, error) {
	fs := cmd.Flags()
	switch {
	case fs.Changed(k.flag) && fs.Changed(k.flag+"-name"):
		return nil, usagef("give either --%s or --%s-name, not both", k.flag, k.flag)
	case fs.Changed(k.flag + "-name"):
		s, err := openKeyStore(g, cmd.ErrOrStderr())
		if err != nil {
			return nil, withExit(exitUsage, err)
		}
		info, err := s.Show(k.keyName)
		if err != nil {
			return nil, withExit(exitUsage, fmt.Errorf("--%s-name: %w", k.flag, err))
		}
		pub, err := info.PublicKey()
		if err != nil {
			return nil, withExit(exitUsage, err)
		}
		return pub, nil
	case fs.Changed(k.flag):
		return parsePubKey(k.flag, k.key)
	}
	return nil, usagef("required flag --%s (or --%s-name) not set (see '%s --help')", k.flag, k.flag, cmd.CommandPath())
}

// parsePubKey reads an ed25519 public key given as base64 or 64 hex digits
// in the flag --flag (client.ParsePublicKey).
func parsePubKey(flag, s string) ([]byte, error) {
	b, err := client.ParsePublicKey(s)
	switch {
	case errors.Is(err, client.ErrKeyLength):
		return nil, usagef("--%s: %v", flag, err)
	case err != nil:
		return nil, usagef("--%s %v", flag, err)
	}
	return b, nil
}

// parseRoles validates roles and returns them sorted and unique, as the
// chain requires.
func parseRoles(in []string) ([]ledger.Role, error) {
	var out []ledger.Role
	for _, s := range in {
		r := ledger.Role(strings.TrimSpace(s))
		if r == "" {
			continue
		}
		if !slices.Contains(ledger.AllRoles, r) {
			return nil, usagef("--roles: unknown role %q (valid: %s)", string(r), roleList(ledger.AllRoles))
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, usagef("--roles: give at least one role (%s)", roleList(ledger.AllRoles))
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func newOfficerAddCmd(g *globalOpts, o *txFlags) *cobra.Command {
	var name string
	return newOfficerRolesCmd(g, o, "add", "add an officer to the acting agency", []string{"name"},
		func(fs *pflag.FlagSet) { fs.StringVar(&name, "name", "", "the officer's name or title (required)") },
		func(key []byte, roles []ledger.Role) ledger.Payload {
			return &ledger.OfficerAdd{Key: key, Name: name, Roles: roles}
		})
}

// newOfficerRolesCmd is a command that gives an officer (--key or
// --key-name) roles (--roles): "officer add" and "officer set-roles".
// flags registers its other flags, required lists the ones that must be
// set; payload builds the tx.
func newOfficerRolesCmd(g *globalOpts, o *txFlags, use, short string, required []string, flags func(fs *pflag.FlagSet),
	payload func(key []byte, roles []ledger.Role) ledger.Payload) *cobra.Command {
	var k officerKeyFlags
	var roles []string
	cmd := &cobra.Command{Use: use, Short: short, Args: keysArgs(0)}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return runTx(cmd, g, o, txSpec{payload: func() (ledger.Payload, error) {
			if err := requireFlags(cmd, append(slices.Clone(required), "roles")...); err != nil {
				return nil, err
			}
			key, err := k.resolve(cmd, g)
			if err != nil {
				return nil, err
			}
			rs, err := parseRoles(roles)
			if err != nil {
				return nil, err
			}
			return payload(key, rs), nil
		}})
	}
	fs := cmd.Flags()
	k.register(fs)
	if flags != nil {
		flags(fs)
	}
	fs.StringSliceVar(&roles, "roles", nil, "comma-separated roles: "+strings.ReplaceAll(roleList(ledger.AllRoles), ",", ", ")+" (required)")
	return cmd
}

func newOfficerRemoveCmd(g *globalOpts, o *txFlags) *cobra.Command {
	var k officerKeyFlags
	cmd := &cobra.Command{Use: "remove", Short: "remove an officer from the acting agency", Args: keysArgs(0)}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return runTx(cmd, g, o, txSpec{payload: func() (ledger.Payload, error) {
			key, err := k.resolve(cmd, g)
			if err != nil {
				return nil, err
			}
			return &ledger.OfficerRemove{Key: key}, nil
		}})
	}
	k.register(cmd.Flags())
	return cmd
}

func newOfficerSetRolesCmd(g *globalOpts, o *txFlags) *cobra.Command {
	return newOfficerRolesCmd(g, o, "set-roles", "replace an officer's roles", nil, nil,
		func(key []byte, roles []ledger.Role) ledger.Payload {
			return &ledger.OfficerSetRoles{Key: key, Roles: roles}
		})
}

// ---- parties, amounts and documents ----

// partyFlags are --X-name, --X-scheme and --X-id: the party (recipient,
// holder, payee) of a record.
type partyFlags struct{ name, scheme, id string }

// register registers the flags of party who; example, if set, follows the
// scheme's description.
func (p *partyFlags) register(fs *pflag.FlagSet, who, example string) {
	fs.StringVar(&p.name, who+"-name", "", who+"'s name (required)")
	fs.StringVar(&p.scheme, who+"-scheme", "", who+" identifier scheme"+example+" (required)")
	fs.StringVar(&p.id, who+"-id", "", who+" identifier in that scheme (required)")
}

func (p *partyFlags) party() ledger.Party {
	return ledger.Party{Name: p.name, Scheme: p.scheme, ID: p.id}
}

func amountFlags(fs *pflag.FlagSet, amount, currency *string, what string) {
	fs.StringVar(amount, "amount", "", what+` in major units: "1250.50 EUR" (or "EUR 1250.50"), or "1250.50" with --currency; no thousands separators (required)`)
	fs.StringVar(currency, "currency", "", "ISO 4217 currency code, e.g. EUR (optional if --amount names it)")
}

// splitAmount splits "1250.50 EUR" into number and currency; a bare number
// takes the currency flag's value.
func splitAmount(amount, currencyFlag string) (num, currency string) {
	f := amountFields(amount)
	switch len(f) {
	case 1:
		return f[0], currencyFlag
	case 2:
		return f[0], f[1]
	}
	return amount, ""
}

// amountFields splits an --amount into its number and currency code, in
// that order: "1250.50 EUR", and also "EUR 1250.50", as the demo and
// reports print money the other way round.
func amountFields(amount string) []string {
	f := strings.Fields(amount)
	if len(f) == 2 {
		if _, ok := ledger.CurrencyExponent(f[0]); ok {
			if _, ok := ledger.CurrencyExponent(f[1]); !ok {
				f[0], f[1] = f[1], f[0]
			}
		}
	}
	return f
}

// parseMoney reads --amount/--currency and returns the amount in minor units
// (as the payload's decimal string) and the currency. It never rounds.
func parseMoney(amount, currencyFlag string) (minor, currency string, err error) {
	f := amountFields(amount)
	var num string
	switch len(f) {
	case 1:
		num, currency = f[0], currencyFlag
		if currency == "" {
			return "", "", usagef(`--amount %q names no currency: write "%s EUR" or add --currency`, amount, num)
		}
	case 2:
		num, currency = f[0], f[1]
		if currencyFlag != "" && currencyFlag != currency {
			return "", "", usagef("--amount %q is in %s but --currency is %s", amount, currency, currencyFlag)
		}
	default:
		return "", "", usagef(`--amount %q: want "1250.50 EUR" or "1250.50" with --currency`, amount)
	}
	v, err := ledger.ParseAmount(num, currency)
	if err != nil {
		if strings.Contains(num, ",") {
			return "", "", usagef(`--amount %q: write the number without thousands separators and with a '.' for decimals, e.g. "%s %s"`,
				amount, strings.ReplaceAll(num, ",", ""), currency)
		}
		return "", "", usagef("--amount: %v", err)
	}
	if v == 0 {
		return "", "", usagef("--amount must be greater than zero")
	}
	return strconv.FormatInt(v, 10), currency, nil
}

// docFlags are a pair "--X-hash HEX | --X FILE" giving a sha256 document hash.
type docFlags struct {
	name    string // e.g. "document"
	hashHex string
	file    string
	fs      *pflag.FlagSet
}

func (d *docFlags) register(fs *pflag.FlagSet, name, what string) {
	d.name, d.fs = name, fs
	fs.StringVar(&d.hashHex, name+"-hash", "", "sha256 of "+what+" (64 hex digits); or use --"+name)
	fs.StringVar(&d.file, name, "", "file of "+what+": its sha256 is recorded; or use --"+name+"-hash")
}

// hash returns the lowercase hex sha256 from exactly one of the two flags.
func (d *docFlags) hash() (string, error) {
	hashSet, fileSet := d.fs.Changed(d.name+"-hash"), d.fs.Changed(d.name)
	switch {
	case hashSet && fileSet:
		return "", usagef("give either --%s-hash or --%s, not both", d.name, d.name)
	case hashSet:
		h := strings.ToLower(strings.TrimSpace(d.hashHex))
		if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
			return "", usagef("--%s-hash %q: want a sha256 as 64 hex digits", d.name, d.hashHex)
		}
		return h, nil
	case fileSet:
		f, err := os.Open(d.file)
		if err != nil {
			return "", withExit(exitUsage, fmt.Errorf("--%s: %w", d.name, err))
		}
		defer f.Close()
		hs := sha256.New()
		if _, err := io.Copy(hs, f); err != nil {
			return "", withExit(exitUsage, fmt.Errorf("--%s: %w", d.name, err))
		}
		return hex.EncodeToString(hs.Sum(nil)), nil
	}
	return "", usagef("required flag --%s-hash or --%s not set", d.name, d.name)
}

// ---- signing, submitting, printing ----

// runTx checks the common flags, builds and validates the payload, loads the
// signing keys, then signs, submits and prints the result. Everything that
// can be checked locally is checked before the node is contacted.
func runTx(cmd *cobra.Command, g *globalOpts, o *txFlags, spec txSpec) error {
	if err := o.check(); err != nil {
		return err
	}
	p, err := spec.payload()
	if err != nil {
		return err
	}
	c, err := client.New(g.Node)
	if err != nil {
		return usagef("--node: %v", err)
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
	defer cancel()
	if spec.resolve != nil {
		if err := spec.resolve(ctx, c, p); err != nil {
			return err
		}
	}
	if err := p.ValidateBasic(); err != nil {
		return usagef("invalid %s transaction: %v", p.Type(), err)
	}
	signer, err := o.signer(cmd, g)
	if err != nil {
		return err
	}
	raw, err := c.BuildTx(ctx, signer, p, client.BuildOptions{Nonce: o.nonce, ExpiresIn: o.expiresIn, TrustHome: g.Home})
	if errors.Is(err, client.ErrImplausibleHeight) || errors.Is(err, client.ErrTrustState) {
		return withExit(exitFailed, err)
	}
	if err != nil {
		return nodeError(err)
	}
	res, err := c.Submit(ctx, raw, !o.noWait)
	if err != nil {
		if res != nil && errors.Is(err, context.DeadlineExceeded) {
			return withExit(exitUnreachable, fmt.Errorf("tx %s was accepted by the mempool but not included within --timeout %s; it may still be committed (check with 'ledger query')", res.Hash, o.timeout))
		}
		if res != nil && errors.Is(err, context.Canceled) {
			return withExit(exitUnreachable, fmt.Errorf("interrupted while waiting for tx %s, which the mempool accepted; it may still be committed (check with 'ledger query')", res.Hash))
		}
		return nodeError(err)
	}
	var rep *txReport
	if spec.report != nil && res.OK() && res.Stage == "block" {
		// A fresh deadline: waiting for inclusion may have used up ctx's.
		rctx, rcancel := context.WithTimeout(cmd.Context(), o.timeout)
		rep = spec.report(rctx, c, res)
		rcancel()
	}
	if err := printTxResult(cmd.OutOrStdout(), g, res, o.noWait, rep); err != nil {
		return err
	}
	if !res.OK() {
		where := "by the node's mempool check (CheckTx)"
		if res.Stage == "block" {
			where = fmt.Sprintf("in block %d", res.Height)
		}
		return withExit(exitFailed, fmt.Errorf("tx %s rejected %s with code %d (%s): %s", res.Hash, where, res.Code, ruleOf(res.Code), sanitize(res.Log)))
	}
	return nil
}

func (o *txFlags) check() error {
	if o.from == "" {
		return usagef("required flag --from not set: name the signing officer's key (see 'ledger keys list')")
	}
	if o.expiresIn <= 0 {
		return usagef("--expires-in must be a positive number of blocks")
	}
	if o.timeout <= 0 {
		return usagef("--timeout must be positive")
	}
	if err := checkOptionalID("--agency", o.agency); err != nil {
		return err
	}
	if n := 1 + len(o.cosign); n > ledger.MaxSignatures {
		return usagef("at most %d signers (--from and %d --cosign), got %d", ledger.MaxSignatures, ledger.MaxSignatures-1, n)
	}
	seen := map[string]bool{o.from: true}
	for _, n := range o.cosign {
		if seen[n] {
			return usagef("--cosign %q: each officer signs once (it is already --from or another --cosign)", n)
		}
		seen[n] = true
	}
	return nil
}

// signer loads the --from and --cosign keys and determines the acting agency.
// Any failure to load a key is a usage error (exit 2): nothing was sent.
func (o *txFlags) signer(cmd *cobra.Command, g *globalOpts) (client.Signer, error) {
	s, err := openKeyStore(g, cmd.ErrOrStderr())
	if err != nil {
		return client.Signer{}, withExit(exitUsage, err)
	}
	info, err := s.Show(o.from)
	if err != nil {
		return client.Signer{}, withExit(exitUsage, fmt.Errorf("--from: %w", err))
	}
	agency := o.agency
	if agency == "" {
		agency = info.Agency
	}
	if agency == "" {
		return client.Signer{}, usagef("key %q records no agency: pass --agency ID", o.from)
	}
	if !ledger.ValidID(agency) {
		return client.Signer{}, usagef("agency %q of key %q is not a valid id: pass --agency ID", agency, o.from)
	}
	sg := client.Signer{Agency: agency}
	for i, name := range append([]string{o.from}, o.cosign...) {
		k, err := s.PrivKey(name)
		if err != nil {
			flag := "--from"
			if i > 0 {
				flag = "--cosign"
			}
			return client.Signer{}, withExit(exitUsage, fmt.Errorf("%s: %w", flag, err))
		}
		sg.Keys = append(sg.Keys, k)
	}
	return sg, nil
}

// printTxResult prints a tx's outcome and, if rep is set, what the command
// reported about it.
func printTxResult(w io.Writer, g *globalOpts, r *client.TxResult, noWait bool, rep *txReport) error {
	if g.Output == "json" {
		if rep != nil {
			return writeJSON(w, struct {
				*client.TxResult
				txReport
			}{r, *rep})
		}
		return writeJSON(w, r)
	}
	// Plain "key: value" lines (not aligned): scripts match "code: 0 (ok)".
	height := strconv.FormatInt(r.Height, 10)
	switch {
	case r.Stage == "block":
	case r.Code != 0:
		height = "0 (not included)"
	case noWait:
		height = "0 (pending: --no-wait)"
	}
	code := "0 (ok)"
	if r.Code != 0 {
		code = fmt.Sprintf("%d (rejected: %s)", r.Code, sanitize(r.Log))
	}
	if _, err := fmt.Fprintf(w, "hash: %s\nheight: %s\ncode: %s\n", sanitize(r.Hash), height, code); err != nil {
		return err
	}
	if rep != nil {
		for _, l := range rep.lines {
			if _, err := fmt.Fprintln(w, sanitize(l)); err != nil {
				return err
			}
		}
	}
	return nil
}
