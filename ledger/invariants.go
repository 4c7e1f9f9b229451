package ledger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
)

// Invariant ids: the stable names of the rules that must hold after every
// block. A broken rule is reported under its id everywhere: by CheckInvariants
// (a node's log and metrics worker, the tests), and by "ledger audit" (its
// JSON discrepancies and the rule column of its CSV). An id is never renamed
// or reused.
const (
	InvRecordDecodes      = "record-decodes"
	InvGrantStatus        = "grant-status"
	InvGrantWithinAward   = "grant-within-award"
	InvGrantDisbursed     = "grant-disbursed"
	InvPaymentStatus      = "payment-status"
	InvPaymentGrant       = "payment-grant"
	InvPaymentGrantAgency = "payment-grant-agency"
	InvPaymentCurrency    = "payment-currency"
	InvAgencyTotals       = "agency-totals"
	InvIndexStatus        = "index-status"
	InvAgencyPower        = "agency-power"
	InvValidatorSet       = "validator-set"
	InvValidatorIndex     = "validator-index"
	InvGovTally           = "gov-tally"
	InvGovStatus          = "gov-status"
	InvGovQueue           = "gov-queue"
	InvGovReservation     = "gov-reservation"
)

// Invariant is one rule of the state, by id.
type Invariant struct {
	ID          string
	Description string
	// Reconciled: the rule reads grants, payments and totals records only,
	// and Reconcile checks it (so does "ledger audit").
	Reconciled bool
}

// Invariants lists every rule CheckInvariants checks, in the order it checks
// them (record by record within a group). The accounting rules (Reconciled)
// are the ones Reconcile recomputes from the records alone; "ledger audit"
// checks those.
var Invariants = []Invariant{
	{InvRecordDecodes, "every stored grant, payment, totals, agency and proposal record decodes", false},
	{InvPaymentGrant, "a recorded payment against a grant references a grant that exists", true},
	{InvPaymentGrantAgency, "a recorded payment against a grant references a grant of its own agency", true},
	{InvPaymentCurrency, "a recorded payment against a grant is in the grant's currency", true},
	{InvPaymentStatus, "a payment's status is recorded or reversed", true},
	{InvGrantStatus, "a grant's status is awarded, amended, closed or revoked", true},
	{InvGrantWithinAward, "a grant's disbursed amount lies in [0, awarded]", true},
	{InvGrantDisbursed, "a grant's disbursed amount and payment count are the sum and number of its recorded payments", true},
	{InvAgencyTotals, "an agency's totals in a currency are the sums over its grants and payments in that currency", true},
	{InvIndexStatus, "a grant's entry in its agency's index holds the grant's status", false},
	{InvAgencyPower, "an active agency has positive power, a removed one none", false},
	{InvValidatorIndex, "each agency's validator key is indexed to the agency", false},
	{InvValidatorSet, "at least one agency is active: the validator set is never empty", false},
	{InvGovTally, "a proposal's tally is the sum of its votes' powers in its electorate", false},
	{InvGovQueue, "a proposal is queued for its voting end exactly while voting, for execution while in notice, and no queue entry is left without an open proposal", false},
	{InvGovReservation, "an agency-add proposal reserves its admin key exactly while it is open, and no reservation is left without one", false},
	{InvGovStatus, "a proposal is in notice exactly when its tally passes, unless it has executed or failed", false},
}

// Violation is one broken rule.
type Violation struct {
	Rule     string // an Invariant id
	Agency   string // the record's agency, if any
	Currency string // the record's currency, if any
	ID       string // the record: grant or payment id, TotalsID for totals, else the key
	Message  string
}

// String is the rule id then the message.
func (v Violation) String() string { return v.Rule + ": " + v.Message }

// TotalsID is the "agency/currency" name of an agency's totals in a currency.
func TotalsID(agency, currency string) string { return agency + "/" + currency }

// Books are the records the accounting rules read: grants, payments and
// stored totals records.
type Books struct {
	Grants   []Grant
	Payments []Payment
	// Referenced holds grants that payments reference but that are not in
	// Grants (another agency's, when only some agencies are read); a nil
	// value means the grant was looked for and does not exist.
	Referenced map[string]*Grant
	// Stored holds the totals records by TotalsID; a missing key and a nil
	// value both mean no totals record.
	Stored map[string]*Totals
}

// TotalsCheck is the reconciliation of one agency's totals in one currency.
type TotalsCheck struct {
	Agency     string  `json:"agency"`
	Currency   string  `json:"currency"`
	Stored     *Totals `json:"stored"` // nil: no totals record in state
	Recomputed Totals  `json:"recomputed"`
	OK         bool    `json:"ok"`
}

// Reconciliation is the outcome of Reconcile.
type Reconciliation struct {
	Totals     []TotalsCheck // every agency and currency seen, by TotalsID
	Violations []Violation   // payments' rules by payment id, then grants' by grant id, then totals'
}

// Reconcile recomputes every agency's running totals per currency, and each
// grant's disbursed amount and payment count, from the records of b, and
// checks the accounting rules (InvPaymentGrant, InvPaymentGrantAgency,
// InvPaymentCurrency, InvPaymentStatus, InvGrantStatus, InvGrantWithinAward,
// InvGrantDisbursed, InvAgencyTotals). It is pure and deterministic: it reads
// only b.
func Reconcile(b *Books) *Reconciliation {
	rec := &Reconciliation{Totals: []TotalsCheck{}, Violations: []Violation{}}
	fail := func(rule, agency, cur, id, format string, args ...any) {
		rec.Violations = append(rec.Violations, Violation{Rule: rule, Agency: agency, Currency: cur, ID: id, Message: fmt.Sprintf(format, args...)})
	}
	want := map[string]*Totals{}
	tot := func(agency, cur string) *Totals {
		k := TotalsID(agency, cur)
		if want[k] == nil {
			want[k] = &Totals{Agency: agency, Currency: cur}
		}
		return want[k]
	}
	type sum struct {
		amount Amount
		count  int64
	}
	grants := map[string]*Grant{}
	perGrant := map[string]*sum{}
	for i := range b.Grants {
		g := &b.Grants[i]
		grants[g.ID] = g
		t := tot(g.Agency, g.Currency)
		t.Awarded += g.Awarded
		t.Grants++
		perGrant[g.ID] = &sum{}
	}
	payments := append([]Payment{}, b.Payments...)
	sort.SliceStable(payments, func(i, j int) bool { return payments[i].ID < payments[j].ID })
	for _, p := range payments {
		t := tot(p.Agency, p.Currency)
		switch p.Status {
		case PaymentRecorded:
			t.Paid += p.Amount
			t.Payments++
			if p.Grant == "" {
				continue
			}
			t.PaidAgainstGrant += p.Amount
			g := grants[p.Grant]
			if g == nil {
				if fg := b.Referenced[p.Grant]; fg != nil {
					fail(InvPaymentGrantAgency, p.Agency, p.Currency, p.ID, "payment %s of %s references grant %s of %s", p.ID, p.Agency, p.Grant, fg.Agency)
				} else {
					fail(InvPaymentGrant, p.Agency, p.Currency, p.ID, "payment %s references missing grant %s", p.ID, p.Grant)
				}
				continue
			}
			if g.Agency != p.Agency {
				fail(InvPaymentGrantAgency, p.Agency, p.Currency, p.ID, "payment %s of %s references grant %s of %s", p.ID, p.Agency, p.Grant, g.Agency)
			}
			if g.Currency != p.Currency {
				fail(InvPaymentCurrency, p.Agency, p.Currency, p.ID, "payment %s in %s against grant %s in %s", p.ID, p.Currency, g.ID, g.Currency)
			}
			s := perGrant[g.ID]
			s.amount += p.Amount
			s.count++
		case PaymentReversed:
			t.Reversed += p.Amount
			t.Reversals++
		default:
			fail(InvPaymentStatus, p.Agency, p.Currency, p.ID, "payment %s has unknown status %q", p.ID, p.Status)
		}
	}
	for _, id := range sortedKeys(grants) {
		g := grants[id]
		if !slices.Contains(GrantStatuses, g.Status) {
			fail(InvGrantStatus, g.Agency, g.Currency, id, "grant %s has unknown status %q", id, g.Status)
		}
		if g.Disbursed < 0 || g.Disbursed > g.Awarded {
			fail(InvGrantWithinAward, g.Agency, g.Currency, id, "grant %s: disbursed %s outside [0, awarded %s]", id,
				MoneyWithMinor(int64(g.Disbursed), g.Currency), MoneyWithMinor(int64(g.Awarded), g.Currency))
		}
		if s := perGrant[id]; s.amount != g.Disbursed || s.count != g.Payments {
			fail(InvGrantDisbursed, g.Agency, g.Currency, id, "grant %s: disbursed %s in %d payments, but its payments sum to %s in %d", id,
				MoneyWithMinor(int64(g.Disbursed), g.Currency), g.Payments, MoneyWithMinor(int64(s.amount), g.Currency), s.count)
		}
	}
	for k, s := range b.Stored {
		if want[k] == nil && s != nil {
			want[k] = &Totals{Agency: s.Agency, Currency: s.Currency}
		}
	}
	for _, k := range sortedKeys(want) {
		w := *want[k]
		s := b.Stored[k]
		have := Totals{Agency: w.Agency, Currency: w.Currency}
		if s != nil {
			have = *s
		}
		row := TotalsCheck{Agency: w.Agency, Currency: w.Currency, Stored: s, Recomputed: w, OK: have == w}
		if !row.OK {
			fail(InvAgencyTotals, w.Agency, w.Currency, k, "total/%s: stored %+v, recomputed %+v", k, have, w)
		}
		rec.Totals = append(rec.Totals, row)
	}
	return rec
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// CheckInvariants checks every rule of Invariants on the state r holds and
// returns one Violation per broken rule (none if all hold): it reads the
// grants, payments and totals records and reconciles them with Reconcile,
// checks each grant's index entry, then the validator set and the proposals.
// It reads the whole state: use it in tests, audits and the metrics worker,
// not in consensus.
func CheckInvariants(r Reader) ([]Violation, error) {
	var broken []Violation
	undecodable := func(kind string, k []byte, err error) {
		broken = append(broken, Violation{Rule: InvRecordDecodes, ID: string(k), Message: fmt.Sprintf("%s %s: undecodable: %v", kind, k, err)})
	}
	var b Books
	err := r.Iterate(StoreGrants, nil, nil, func(k, v []byte) bool {
		if bytes.Equal(k, SeedKey) {
			return true
		}
		var g Grant
		if err := json.Unmarshal(v, &g); err != nil {
			undecodable(string(KindGrant), k, err)
			return true
		}
		b.Grants = append(b.Grants, g)
		return true
	})
	if err != nil {
		return nil, err
	}
	err = r.Iterate(StorePayments, nil, nil, func(k, v []byte) bool {
		if bytes.Equal(k, SeedKey) {
			return true
		}
		var p Payment
		if err := json.Unmarshal(v, &p); err != nil {
			undecodable(string(KindPayment), k, err)
			return true
		}
		b.Payments = append(b.Payments, p)
		return true
	})
	if err != nil {
		return nil, err
	}
	b.Stored = map[string]*Totals{}
	err = r.Iterate(StoreMeta, []byte(totalsPrefix), PrefixEnd([]byte(totalsPrefix)), func(k, v []byte) bool {
		var t Totals
		if err := json.Unmarshal(v, &t); err != nil {
			undecodable("totals", k, err)
			return true
		}
		b.Stored[string(k[len(totalsPrefix):])] = &t
		return true
	})
	if err != nil {
		return nil, err
	}
	broken = append(broken, Reconcile(&b).Violations...)
	for _, g := range b.Grants {
		st, err := r.Get(StoreIndex, IndexGrantByAgency(g.Agency, g.ID))
		if err != nil {
			return nil, err
		}
		if string(st) != string(g.Status) {
			broken = append(broken, Violation{Rule: InvIndexStatus, Agency: g.Agency, Currency: g.Currency, ID: g.ID,
				Message: fmt.Sprintf("grant %s: index status %q, record status %q", g.ID, st, g.Status)})
		}
	}
	gov, err := govInvariants(r)
	if err != nil {
		return nil, err
	}
	return append(broken, gov...), nil
}
