package ledger

import (
	"crypto/ed25519"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Payload is the type-specific part of a transaction body.
type Payload interface {
	// Type is the body.type string, e.g. "grant/award".
	Type() string
	// ValidateBasic checks everything that does not depend on state.
	ValidateBasic() error
}

type txSpec struct {
	new  func() Payload
	role Role
}

// Transaction types and the role each requires of its signers.
var txTypes = map[string]txSpec{
	TypeGrantAward:       {func() Payload { return new(GrantAward) }, RoleGrants},
	TypeGrantAmend:       {func() Payload { return new(GrantAmend) }, RoleGrants},
	TypeGrantClose:       {func() Payload { return new(GrantClose) }, RoleGrants},
	TypeGrantRevoke:      {func() Payload { return new(GrantRevoke) }, RoleGrants},
	TypeLicenceIssue:     {func() Payload { return new(LicenceIssue) }, RoleLicensing},
	TypeLicenceRenew:     {func() Payload { return new(LicenceRenew) }, RoleLicensing},
	TypeLicenceSuspend:   {func() Payload { return new(LicenceSuspend) }, RoleLicensing},
	TypeLicenceReinstate: {func() Payload { return new(LicenceReinstate) }, RoleLicensing},
	TypeLicenceRevoke:    {func() Payload { return new(LicenceRevoke) }, RoleLicensing},
	TypePaymentRecord:    {func() Payload { return new(PaymentRecord) }, RoleFinance},
	TypePaymentReverse:   {func() Payload { return new(PaymentReverse) }, RoleFinance},
	TypeOfficerAdd:       {func() Payload { return new(OfficerAdd) }, RoleAdmin},
	TypeOfficerRemove:    {func() Payload { return new(OfficerRemove) }, RoleAdmin},
	TypeOfficerSetRoles:  {func() Payload { return new(OfficerSetRoles) }, RoleAdmin},
	TypeGovPropose:       {func() Payload { return new(GovPropose) }, RoleAdmin},
	TypeGovVote:          {func() Payload { return new(GovVote) }, RoleAdmin},
}

// Transaction type names (body.type).
const (
	TypeGrantAward       = "grant/award"
	TypeGrantAmend       = "grant/amend"
	TypeGrantClose       = "grant/close"
	TypeGrantRevoke      = "grant/revoke"
	TypeLicenceIssue     = "licence/issue"
	TypeLicenceRenew     = "licence/renew"
	TypeLicenceSuspend   = "licence/suspend"
	TypeLicenceReinstate = "licence/reinstate"
	TypeLicenceRevoke    = "licence/revoke"
	TypePaymentRecord    = "payment/record"
	TypePaymentReverse   = "payment/reverse"
	TypeOfficerAdd       = "agency/officer-add"
	TypeOfficerRemove    = "agency/officer-remove"
	TypeOfficerSetRoles  = "agency/officer-roles"
)

// TxTypes returns every transaction type name, sorted.
func TxTypes() []string {
	out := make([]string, 0, len(txTypes))
	for t := range txTypes {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// RequiredRole returns the role a transaction type requires.
func RequiredRole(txType string) (Role, bool) {
	s, ok := txTypes[txType]
	return s.role, ok
}

// Field size limits (bytes).
const (
	maxIDLen      = 64
	maxNameLen    = 256
	maxTextLen    = 1024
	maxSchemeLen  = 32
	maxPartyIDLen = 128
)

// GrantAward creates a grant.
type GrantAward struct {
	ID           string `json:"id"`
	Recipient    Party  `json:"recipient"`
	Programme    string `json:"programme"`
	Purpose      string `json:"purpose"`
	Amount       string `json:"amount"`
	Currency     string `json:"currency"`
	PeriodStart  string `json:"period_start"`
	PeriodEnd    string `json:"period_end"`
	DecisionDate string `json:"decision_date"`
	DocumentHash string `json:"document_hash"`
}

// GrantAmend changes a grant's awarded amount and/or end of period.
type GrantAmend struct {
	ID           string `json:"id"`
	Amount       string `json:"amount"`     // new awarded total
	PeriodEnd    string `json:"period_end"` // new end of period
	DocumentHash string `json:"document_hash"`
	Reason       string `json:"reason"`
}

// GrantClose closes a grant: no further payments.
type GrantClose struct {
	ID           string `json:"id"`
	DocumentHash string `json:"document_hash"`
	Reason       string `json:"reason"`
}

// GrantRevoke revokes a grant.
type GrantRevoke GrantClose

// LicenceIssue creates a licence.
type LicenceIssue struct {
	ID             string `json:"id"`
	Holder         Party  `json:"holder"`
	LicenceType    string `json:"licence_type"`
	Scope          string `json:"scope"`
	ValidFrom      string `json:"valid_from"`
	ValidUntil     string `json:"valid_until"`
	DecisionDate   string `json:"decision_date"`
	ConditionsHash string `json:"conditions_hash"`
}

// LicenceRenew extends a licence's validity.
type LicenceRenew struct {
	ID           string `json:"id"`
	ValidUntil   string `json:"valid_until"`
	DocumentHash string `json:"document_hash"`
}

// LicenceAction is the payload of suspend, reinstate and revoke.
type LicenceAction struct {
	ID           string `json:"id"`
	DocumentHash string `json:"document_hash"`
	Reason       string `json:"reason"`
}

// LicenceSuspend suspends a licence.
type LicenceSuspend LicenceAction

// LicenceReinstate lifts a suspension.
type LicenceReinstate LicenceAction

// LicenceRevoke revokes a licence for good.
type LicenceRevoke LicenceAction

// PaymentRecord records a payment, optionally against a grant.
type PaymentRecord struct {
	ID       string `json:"id"`
	Payee    Party  `json:"payee"`
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
	Date     string `json:"date"`
	Purpose  string `json:"purpose"`
	Grant    string `json:"grant,omitempty"`
}

// PaymentReverse reverses a recorded payment and restores the totals.
type PaymentReverse struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// OfficerAdd adds an officer to the signing agency.
type OfficerAdd struct {
	Key   []byte `json:"key"`
	Name  string `json:"name"`
	Roles []Role `json:"roles"`
}

// OfficerRemove removes an officer from the signing agency.
type OfficerRemove struct {
	Key []byte `json:"key"`
}

// OfficerSetRoles replaces an officer's roles.
type OfficerSetRoles struct {
	Key   []byte `json:"key"`
	Roles []Role `json:"roles"`
}

func (*GrantAward) Type() string       { return TypeGrantAward }
func (*GrantAmend) Type() string       { return TypeGrantAmend }
func (*GrantClose) Type() string       { return TypeGrantClose }
func (*GrantRevoke) Type() string      { return TypeGrantRevoke }
func (*LicenceIssue) Type() string     { return TypeLicenceIssue }
func (*LicenceRenew) Type() string     { return TypeLicenceRenew }
func (*LicenceSuspend) Type() string   { return TypeLicenceSuspend }
func (*LicenceReinstate) Type() string { return TypeLicenceReinstate }
func (*LicenceRevoke) Type() string    { return TypeLicenceRevoke }
func (*PaymentRecord) Type() string    { return TypePaymentRecord }
func (*PaymentReverse) Type() string   { return TypePaymentReverse }
func (*OfficerAdd) Type() string       { return TypeOfficerAdd }
func (*OfficerRemove) Type() string    { return TypeOfficerRemove }
func (*OfficerSetRoles) Type() string  { return TypeOfficerSetRoles }

func (p *GrantAward) ValidateBasic() error {
	if err := checkID("payload.id", p.ID); err != nil {
		return err
	}
	if err := checkParty("payload.recipient", p.Recipient); err != nil {
		return err
	}
	if err := checkFreeText("payload.programme", p.Programme, maxNameLen, true); err != nil {
		return err
	}
	if err := checkFreeText("payload.purpose", p.Purpose, maxTextLen, true); err != nil {
		return err
	}
	if _, err := checkMoney("payload", p.Amount, p.Currency); err != nil {
		return err
	}
	if err := checkPeriod("payload.period_start", p.PeriodStart, "payload.period_end", p.PeriodEnd); err != nil {
		return err
	}
	if err := checkDate("payload.decision_date", p.DecisionDate); err != nil {
		return err
	}
	if err := checkDecisionDate(p.DecisionDate, "payload.period_start", p.PeriodStart, "payload.period_end", p.PeriodEnd); err != nil {
		return err
	}
	return checkHash("payload.document_hash", p.DocumentHash)
}

func (p *GrantAmend) ValidateBasic() error {
	if err := checkID("payload.id", p.ID); err != nil {
		return err
	}
	if _, err := checkAmount("payload.amount", p.Amount); err != nil {
		return err
	}
	if err := checkDate("payload.period_end", p.PeriodEnd); err != nil {
		return err
	}
	if err := checkFreeText("payload.reason", p.Reason, maxTextLen, true); err != nil {
		return err
	}
	return checkHash("payload.document_hash", p.DocumentHash)
}

func validateAction(id, hash, reason string) error {
	if err := checkID("payload.id", id); err != nil {
		return err
	}
	if err := checkFreeText("payload.reason", reason, maxTextLen, true); err != nil {
		return err
	}
	return checkHash("payload.document_hash", hash)
}

func (p *GrantClose) ValidateBasic() error  { return validateAction(p.ID, p.DocumentHash, p.Reason) }
func (p *GrantRevoke) ValidateBasic() error { return validateAction(p.ID, p.DocumentHash, p.Reason) }
func (p *LicenceSuspend) ValidateBasic() error {
	return validateAction(p.ID, p.DocumentHash, p.Reason)
}
func (p *LicenceReinstate) ValidateBasic() error {
	return validateAction(p.ID, p.DocumentHash, p.Reason)
}
func (p *LicenceRevoke) ValidateBasic() error {
	return validateAction(p.ID, p.DocumentHash, p.Reason)
}

func (p *LicenceIssue) ValidateBasic() error {
	if err := checkID("payload.id", p.ID); err != nil {
		return err
	}
	if err := checkParty("payload.holder", p.Holder); err != nil {
		return err
	}
	if err := checkFreeText("payload.licence_type", p.LicenceType, maxNameLen, true); err != nil {
		return err
	}
	if err := checkFreeText("payload.scope", p.Scope, maxTextLen, true); err != nil {
		return err
	}
	if err := checkPeriod("payload.valid_from", p.ValidFrom, "payload.valid_until", p.ValidUntil); err != nil {
		return err
	}
	if err := checkDate("payload.decision_date", p.DecisionDate); err != nil {
		return err
	}
	if err := checkDecisionDate(p.DecisionDate, "payload.valid_from", p.ValidFrom, "payload.valid_until", p.ValidUntil); err != nil {
		return err
	}
	return checkHash("payload.conditions_hash", p.ConditionsHash)
}

func (p *LicenceRenew) ValidateBasic() error {
	if err := checkID("payload.id", p.ID); err != nil {
		return err
	}
	if err := checkDate("payload.valid_until", p.ValidUntil); err != nil {
		return err
	}
	return checkHash("payload.document_hash", p.DocumentHash)
}

func (p *PaymentRecord) ValidateBasic() error {
	if err := checkID("payload.id", p.ID); err != nil {
		return err
	}
	if err := checkParty("payload.payee", p.Payee); err != nil {
		return err
	}
	if _, err := checkMoney("payload", p.Amount, p.Currency); err != nil {
		return err
	}
	if err := checkDate("payload.date", p.Date); err != nil {
		return err
	}
	if err := checkFreeText("payload.purpose", p.Purpose, maxTextLen, true); err != nil {
		return err
	}
	if p.Grant != "" {
		return checkID("payload.grant", p.Grant)
	}
	return nil
}

func (p *PaymentReverse) ValidateBasic() error {
	if err := checkID("payload.id", p.ID); err != nil {
		return err
	}
	return checkFreeText("payload.reason", p.Reason, maxTextLen, true)
}

func (p *OfficerAdd) ValidateBasic() error {
	if len(p.Key) != ed25519.PublicKeySize {
		return fieldErr(ErrInvalidKey, "payload.key", "must be a 32-byte ed25519 public key")
	}
	if err := checkText("payload.name", p.Name, maxNameLen, true); err != nil {
		return err
	}
	return checkRoles("payload.roles", p.Roles)
}

func (p *OfficerRemove) ValidateBasic() error {
	if len(p.Key) != ed25519.PublicKeySize {
		return fieldErr(ErrInvalidKey, "payload.key", "must be a 32-byte ed25519 public key")
	}
	return nil
}

func (p *OfficerSetRoles) ValidateBasic() error {
	if len(p.Key) != ed25519.PublicKeySize {
		return fieldErr(ErrInvalidKey, "payload.key", "must be a 32-byte ed25519 public key")
	}
	return checkRoles("payload.roles", p.Roles)
}

// ValidID reports whether s is a valid record identifier:
// printable ASCII [A-Za-z0-9._:-]{1,64}.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

func checkID(field, s string) error {
	if len(s) > maxIDLen {
		return fieldErr(ErrFieldTooLong, field, "%d bytes, limit %d", len(s), maxIDLen)
	}
	if !ValidID(s) {
		return fieldErr(ErrInvalidID, field, "%q must match [A-Za-z0-9._:-]{1,64}", s)
	}
	return nil
}

// checkText checks a free-text field: length, no control characters, no
// leading/trailing space.
func checkText(field, s string, max int, required bool) error {
	if len(s) > max {
		return fieldErr(ErrFieldTooLong, field, "%d bytes, limit %d", len(s), max)
	}
	if required && s == "" {
		return fieldErr(ErrInvalidField, field, "must not be empty")
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == '\ufffd' {
			return fieldErr(ErrInvalidField, field, "contains control or invalid character %U", r)
		}
		if IsFormatChar(r) {
			return fieldErr(ErrInvalidField, field, "contains invisible or bidirectional formatting character %U", r)
		}
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if s != "" && (unicode.IsSpace(first) || unicode.IsSpace(last)) {
		return fieldErr(ErrInvalidField, field, "has leading or trailing space")
	}
	return nil
}

// checkParty checks an organisation (name, scheme, id; a scheme for natural
// persons is refused with ErrPersonInClear) or an individual
// (checkIndividual).
func checkParty(field string, p Party) error {
	if p.Individual != nil {
		return checkIndividual(field, p)
	}
	if err := checkFreeText(field+".name", p.Name, maxNameLen, true); err != nil {
		return err
	}
	if err := checkText(field+".scheme", p.Scheme, maxSchemeLen, true); err != nil {
		return err
	}
	if err := checkText(field+".id", p.ID, maxPartyIDLen, true); err != nil {
		return err
	}
	if PersonScheme(p.Scheme) {
		return fieldErr(ErrPersonInClear, field+".scheme", "%q is a scheme for natural persons: record the person as an individual (a commitment and a public label)", p.Scheme)
	}
	return nil
}

// checkAmount parses a positive amount in minor units.
func checkAmount(field, s string) (int64, error) {
	if strings.HasPrefix(s, "-") {
		return 0, fieldErr(ErrInvalidAmount, field, "%q is negative", s)
	}
	if len(s) > 20 {
		// Too long for an int64: an overflow only if it is a canonical number.
		if s[0] == '0' || strings.Trim(s, "0123456789") != "" {
			return 0, fieldErr(ErrInvalidAmount, field, "%q is not a canonical integer in minor units", s)
		}
		return 0, fieldErr(ErrAmountOverflow, field, "%q", s)
	}
	v, err := parseAmountString(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", field, err)
	}
	if v <= 0 {
		return 0, fieldErr(ErrInvalidAmount, field, "%s", s)
	}
	return v, nil
}

func checkMoney(prefix, amount, currency string) (int64, error) {
	if _, ok := CurrencyExponent(currency); !ok {
		return 0, fieldErr(ErrUnknownCurrency, prefix+".currency", "%q is not an ISO 4217 code", currency)
	}
	return checkAmount(prefix+".amount", amount)
}

// DateLayout is the layout of every date: YYYY-MM-DD.
const DateLayout = "2006-01-02"

func checkDate(field, s string) error {
	t, err := time.Parse(DateLayout, s)
	if err != nil || t.Format(DateLayout) != s {
		return fieldErr(ErrInvalidDate, field, "%q is not a YYYY-MM-DD date", s)
	}
	return nil
}

func checkPeriod(fromField, from, toField, to string) error {
	if err := checkDate(fromField, from); err != nil {
		return err
	}
	if err := checkDate(toField, to); err != nil {
		return err
	}
	if to < from {
		return fieldErr(ErrInvalidPeriod, toField, "%s is before %s", to, from)
	}
	return nil
}

// Date plausibility (ErrImplausibleDate). Dates are whole days; the limits
// are in days and part of the consensus rules.
const (
	// DecisionLagDays: a decision (grant award, licence issue) may come at
	// most this long after the start of the period it covers: retroactive
	// awards of a few weeks are common (costs from the first of the month),
	// a decision months into its period is most likely a mistyped date.
	DecisionLagDays = 90
	// PaymentLeadDays and PaymentTailDays: a payment against a grant is
	// dated at most PaymentLeadDays before the grant's period starts (an
	// advance) and at most PaymentTailDays after it ends (a final
	// instalment after the closing report).
	PaymentLeadDays = 90
	PaymentTailDays = 180
)

// checkDecisionDate applies the decision rules to dates already checked as
// YYYY-MM-DD: the decision is not after the end of the period, nor more
// than DecisionLagDays after its start.
func checkDecisionDate(decision, startField, start, endField, end string) error {
	if decision > end {
		return fieldErr(ErrImplausibleDate, "payload.decision_date", "%s is after %s %s: a decision precedes the end of what it decides", decision, endField, end)
	}
	if latest := addDays(start, DecisionLagDays); decision > latest {
		return fieldErr(ErrImplausibleDate, "payload.decision_date", "%s is more than %d days after %s %s (latest %s)", decision, DecisionLagDays, startField, start, latest)
	}
	return nil
}

// checkPaymentDate applies the payment rule: a payment against a grant is
// dated from PaymentLeadDays before its period to PaymentTailDays after.
func checkPaymentDate(date string, g *Grant) error {
	if first := addDays(g.PeriodStart, -PaymentLeadDays); date < first {
		return fieldErr(ErrImplausibleDate, "payload.date", "%s is more than %d days before the period of grant %q (%s to %s; earliest %s)",
			date, PaymentLeadDays, g.ID, g.PeriodStart, g.PeriodEnd, first)
	}
	if last := addDays(g.PeriodEnd, PaymentTailDays); date > last {
		return fieldErr(ErrImplausibleDate, "payload.date", "%s is more than %d days after the period of grant %q (%s to %s; latest %s)",
			date, PaymentTailDays, g.ID, g.PeriodStart, g.PeriodEnd, last)
	}
	return nil
}

// addDays adds n days to a valid YYYY-MM-DD date.
func addDays(date string, n int) string {
	t, err := time.Parse(DateLayout, date)
	if err != nil {
		return date // unreachable: dates are checked before
	}
	return t.AddDate(0, 0, n).Format(DateLayout)
}

func checkHash(field, s string) error {
	if len(s) != 64 {
		return fieldErr(ErrInvalidHash, field, "must be 64 lowercase hex digits (sha256)")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return fieldErr(ErrInvalidHash, field, "must be 64 lowercase hex digits (sha256)")
		}
	}
	return nil
}

func checkRoles(field string, roles []Role) error {
	if len(roles) == 0 {
		return fieldErr(ErrInvalidRole, field, "at least one role")
	}
	for i, r := range roles {
		if !slices.Contains(AllRoles, r) {
			return fieldErr(ErrInvalidRole, field, "%q (valid: admin, finance, grants, licensing)", r)
		}
		if i > 0 && roles[i-1] >= r {
			return fieldErr(ErrInvalidRole, field, "must be sorted and unique")
		}
	}
	return nil
}
