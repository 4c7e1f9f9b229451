package ledger

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// Amount is an integer amount in a currency's minor units. In JSON it is a
// decimal string ("125050") so that JavaScript readers never lose precision.
type Amount int64

// MarshalJSON writes the amount as a decimal string.
func (a Amount) MarshalJSON() ([]byte, error) {
	return []byte(`"` + strconv.FormatInt(int64(a), 10) + `"`), nil
}

// UnmarshalJSON reads a canonical decimal string (no sign, no leading zeros
// except "0" itself). It is used for stored records; transaction payloads
// carry amounts as strings and are checked field by field in ValidateBasic.
func (a *Amount) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("amount must be a decimal string")
	}
	v, err := parseAmountString(s)
	if err != nil {
		return err
	}
	*a = Amount(v)
	return nil
}

// parseAmountString parses a canonical base-10 integer string (optionally
// negative, for stored deltas). Callers enforce positivity.
func parseAmountString(s string) (int64, error) {
	if s == "" {
		return 0, ErrInvalidAmount
	}
	digits := s
	if s[0] == '-' {
		digits = s[1:]
	}
	if digits == "" || (len(digits) > 1 && digits[0] == '0') || (s[0] == '-' && digits == "0") {
		return 0, fmt.Errorf("%q is not a canonical integer: %w", s, ErrInvalidAmount)
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, fmt.Errorf("%q is not an integer in minor units: %w", s, ErrInvalidAmount)
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, ErrAmountOverflow)
	}
	return v, nil
}

// Role is an officer's permission within its agency.
type Role string

// Officer roles.
const (
	RoleAdmin     Role = "admin"     // manages the agency's officers
	RoleGrants    Role = "grants"    // awards and manages grants
	RoleLicensing Role = "licensing" // issues and manages licences
	RoleFinance   Role = "finance"   // records and reverses payments
)

// AllRoles lists the valid roles in canonical order.
var AllRoles = []Role{RoleAdmin, RoleFinance, RoleGrants, RoleLicensing}

// Officer is an agency's ed25519 key with roles.
type Officer struct {
	Key   []byte `json:"key"` // 32-byte ed25519 public key
	Name  string `json:"name"`
	Roles []Role `json:"roles"` // sorted, unique
}

// HasRole reports whether the officer holds r.
func (o *Officer) HasRole(r Role) bool { return slices.Contains(o.Roles, r) }

// Agency is a government body that runs a validator and owns records.
type Agency struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Jurisdiction string    `json:"jurisdiction"`
	ValidatorKey []byte    `json:"validator_key"` // 32-byte ed25519 consensus key
	Power        int64     `json:"power"`
	Officers     []Officer `json:"officers"` // sorted by key
	// Joined is the height at which a governance vote admitted the agency
	// (0 for founding agencies); Removed the height at which one removed it
	// (0 while active). A removed agency keeps its records and history, has
	// power 0, and its officers can no longer act.
	Joined  int64 `json:"joined_height,omitempty"`
	Removed int64 `json:"removed_height,omitempty"`
}

// Active reports whether the agency has not been removed.
func (a *Agency) Active() bool { return a.Removed == 0 }

// Officer returns the officer with the given key, or nil.
func (a *Agency) Officer(key []byte) *Officer {
	for i := range a.Officers {
		if string(a.Officers[i].Key) == string(key) {
			return &a.Officers[i]
		}
	}
	return nil
}

// Party identifies a recipient, holder or payee: a name plus an identifier in
// a named scheme (e.g. a company registry number).
type Party struct {
	Name   string `json:"name"`
	Scheme string `json:"scheme"`
	ID     string `json:"id"`
}

// SameEntity reports whether p and q identify the same legal entity (scheme
// and identifier; names may be spelled differently).
func (p Party) SameEntity(q Party) bool { return p.Scheme == q.Scheme && p.ID == q.ID }

// Grant is an award of funds by an agency.
type Grant struct {
	ID           string `json:"id"`
	Agency       string `json:"agency"`
	Recipient    Party  `json:"recipient"`
	Programme    string `json:"programme"`
	Purpose      string `json:"purpose"`
	Awarded      Amount `json:"awarded"`
	Currency     string `json:"currency"`
	PeriodStart  string `json:"period_start"`
	PeriodEnd    string `json:"period_end"`
	DecisionDate string `json:"decision_date"`
	// DocumentHash is the sha256 of the award decision; it never changes.
	DocumentHash string `json:"document_hash"`
	// AmendmentHash is the sha256 of the latest amendment's decision (each
	// amendment's is in its tx and its event, in the history).
	AmendmentHash string      `json:"amendment_document_hash,omitempty"`
	Status        GrantStatus `json:"status"`
	Disbursed     Amount      `json:"disbursed"` // sum of recorded, unreversed payments
	Payments      int64       `json:"payments"`  // count of recorded, unreversed payments
	Created       int64       `json:"created_height"`
	Updated       int64       `json:"updated_height"`
}

// Licence is a permission granted by an agency to a holder.
type Licence struct {
	ID           string `json:"id"`
	Agency       string `json:"agency"`
	Holder       Party  `json:"holder"`
	LicenceType  string `json:"licence_type"`
	Scope        string `json:"scope"`
	ValidFrom    string `json:"valid_from"`
	ValidUntil   string `json:"valid_until"`
	DecisionDate string `json:"decision_date"`
	// ConditionsHash is the sha256 of the conditions document the licence
	// was issued with; it never changes.
	ConditionsHash string `json:"conditions_hash"`
	// RenewalHash is the sha256 of the latest renewal's document (each
	// renewal's is in its tx and its event, in the history).
	RenewalHash string        `json:"renewal_document_hash,omitempty"`
	Status      LicenceStatus `json:"status"`
	Created     int64         `json:"created_height"`
	Updated     int64         `json:"updated_height"`
}

// Payment is a disbursement by an agency, optionally against a grant.
type Payment struct {
	ID       string        `json:"id"`
	Agency   string        `json:"agency"`
	Payee    Party         `json:"payee"`
	Amount   Amount        `json:"amount"`
	Currency string        `json:"currency"`
	Date     string        `json:"date"`
	Purpose  string        `json:"purpose"`
	Grant    string        `json:"grant,omitempty"`
	Status   PaymentStatus `json:"status"`
	Approved [][]byte      `json:"approved_by"` // officer keys that signed the recording tx
	Created  int64         `json:"created_height"`
	Updated  int64         `json:"updated_height"`
}

// Totals are the running totals of one agency in one currency, kept as one
// provable record in the meta store.
type Totals struct {
	Agency           string `json:"agency"`
	Currency         string `json:"currency"`
	Awarded          Amount `json:"awarded"`            // sum of current award amounts of all grants
	Grants           int64  `json:"grants"`             // grants awarded
	Paid             Amount `json:"paid"`               // sum of recorded, unreversed payments
	PaidAgainstGrant Amount `json:"paid_against_grant"` // part of Paid that references a grant
	Payments         int64  `json:"payments"`           // recorded, unreversed payments
	Reversed         Amount `json:"reversed"`           // sum of reversed payments
	Reversals        int64  `json:"reversals"`          // reversed payments
}

// Params are the chain parameters, stored in the meta store.
type Params struct {
	MaxTxBytes int64 `json:"max_tx_bytes"`
	// FourEyesThreshold is the default four-eyes threshold: payments above
	// it (in minor units) need two finance officers, in every currency that
	// FourEyesThresholds does not list.
	FourEyesThreshold Amount `json:"four_eyes_threshold"`
	// FourEyesThresholds are thresholds of their own for some currencies (a
	// minor unit is worth very different amounts in JPY and KWD), sorted by
	// currency, at most one per currency. Absent from the JSON when empty,
	// so parameters written before it existed keep their bytes.
	FourEyesThresholds []CurrencyThreshold `json:"four_eyes_thresholds,omitempty"`
	ReplayWindow       int64               `json:"replay_window"` // expires_at may be at most this many blocks ahead
	VotingPeriod       int64               `json:"voting_period"` // blocks during which agencies may vote on a proposal
	NoticePeriod       int64               `json:"notice_period"` // blocks between a proposal passing and taking effect
}

// CurrencyThreshold is the four-eyes threshold of one currency, in its minor
// units.
type CurrencyThreshold struct {
	Currency  string `json:"currency"`
	Threshold Amount `json:"threshold"`
}

// MaxFourEyesThresholds bounds the number of per-currency thresholds.
const MaxFourEyesThresholds = 200

// FourEyesFor returns the four-eyes threshold of a currency: its own, or the
// default.
func (p Params) FourEyesFor(currency string) Amount {
	i, ok := slices.BinarySearchFunc(p.FourEyesThresholds, currency, func(t CurrencyThreshold, c string) int {
		return cmp.Compare(t.Currency, c)
	})
	if ok {
		return p.FourEyesThresholds[i].Threshold
	}
	return p.FourEyesThreshold
}

// WithFourEyes returns p with currency's own four-eyes threshold set to t
// (or, with clear, removed, so that the currency follows the default). The
// list stays sorted; p's list is not modified.
func (p Params) WithFourEyes(currency string, t Amount, clear bool) Params {
	out := make([]CurrencyThreshold, 0, len(p.FourEyesThresholds)+1)
	for _, e := range p.FourEyesThresholds {
		if e.Currency != currency {
			out = append(out, e)
		}
	}
	if !clear {
		out = append(out, CurrencyThreshold{Currency: currency, Threshold: t})
		slices.SortFunc(out, func(a, b CurrencyThreshold) int { return cmp.Compare(a.Currency, b.Currency) })
	}
	if len(out) == 0 {
		out = nil
	}
	p.FourEyesThresholds = out
	return p
}

// Equal reports whether p and q are the same parameters.
func (p Params) Equal(q Params) bool {
	return p.MaxTxBytes == q.MaxTxBytes && p.FourEyesThreshold == q.FourEyesThreshold &&
		slices.Equal(p.FourEyesThresholds, q.FourEyesThresholds) && p.ReplayWindow == q.ReplayWindow &&
		p.VotingPeriod == q.VotingPeriod && p.NoticePeriod == q.NoticePeriod
}

// DefaultParams are the parameters of a new chain.
func DefaultParams() Params {
	// At one block per second or so: a voting period of about a week and a
	// public notice period of about two days.
	return Params{MaxTxBytes: 32 * 1024, FourEyesThreshold: 1_000_000, ReplayWindow: 1000, VotingPeriod: 604_800, NoticePeriod: 172_800}
}

// Validate checks the parameters.
func (p Params) Validate() error {
	switch {
	case p.MaxTxBytes < 1024 || p.MaxTxBytes > 4<<20:
		return fieldErr(ErrInvalidField, "params.max_tx_bytes", "must be between 1024 and 4 MiB")
	case p.FourEyesThreshold < 0:
		return fieldErr(ErrInvalidField, "params.four_eyes_threshold", "must not be negative")
	case len(p.FourEyesThresholds) > MaxFourEyesThresholds:
		return fieldErr(ErrInvalidField, "params.four_eyes_thresholds", "at most %d currencies", MaxFourEyesThresholds)
	case p.FourEyesThresholds != nil && len(p.FourEyesThresholds) == 0:
		return fieldErr(ErrInvalidField, "params.four_eyes_thresholds", "omit the list rather than leave it empty")
	case p.ReplayWindow < 1 || p.ReplayWindow > 1_000_000:
		return fieldErr(ErrInvalidField, "params.replay_window", "must be between 1 and 1000000")
	case p.VotingPeriod < 1 || p.VotingPeriod > 10_000_000:
		return fieldErr(ErrInvalidField, "params.voting_period", "must be between 1 and 10000000 blocks")
	case p.NoticePeriod < 1 || p.NoticePeriod > 10_000_000:
		return fieldErr(ErrInvalidField, "params.notice_period", "must be between 1 and 10000000 blocks")
	}
	for i, t := range p.FourEyesThresholds {
		f := fmt.Sprintf("params.four_eyes_thresholds[%d]", i)
		if _, ok := CurrencyExponent(t.Currency); !ok {
			return fieldErr(ErrUnknownCurrency, f+".currency", "%q is not an active ISO 4217 code", t.Currency)
		}
		if i > 0 && t.Currency <= p.FourEyesThresholds[i-1].Currency {
			return fieldErr(ErrInvalidField, f+".currency", "%s: currencies must be sorted and listed once", t.Currency)
		}
		if t.Threshold < 0 {
			return fieldErr(ErrInvalidField, f+".threshold", "must not be negative")
		}
	}
	return nil
}
