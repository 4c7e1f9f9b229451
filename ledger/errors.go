package ledger

import (
	"errors"
	"fmt"
)

// Code is the ABCI result code of a rejected transaction. Codes are hashed
// into LastResultsHash, so the table below is append-only: never renumber,
// never reuse a code.
type Code uint32

// CodeOK is success. CodeInternal is any error that is not a ledger rule; its
// detail goes to the node log, never into the (consensus-hashed) result.
const (
	CodeOK       Code = 0
	CodeInternal Code = 1
)

// Registered errors. Each has a fixed code; wrap them with context, e.g.
// fmt.Errorf("grant %s: %w", id, ErrNotFound), and map back with CodeOf.
var (
	ErrTxTooLarge          = register(2, "tx too large")
	ErrMalformed           = register(3, "malformed tx")
	ErrUnknownField        = register(4, "unknown field")
	ErrNonCanonical        = register(5, "tx not in canonical form")
	ErrInvalidField        = register(6, "invalid field")
	ErrFieldTooLong        = register(7, "field too long")
	ErrUnknownTxType       = register(8, "unknown tx type")
	ErrWrongChainID        = register(9, "wrong chain id")
	ErrNoSignature         = register(10, "missing signature")
	ErrBadSignature        = register(11, "invalid signature")
	ErrDuplicateSigner     = register(12, "duplicate signer")
	ErrNonceReplayed       = register(13, "nonce already used")
	ErrTxExpired           = register(14, "tx expired")
	ErrExpiryTooFar        = register(15, "expires_at beyond replay window")
	ErrUnknownAgency       = register(16, "unknown agency")
	ErrNotOfficer          = register(17, "signer is not an officer of the agency")
	ErrMissingRole         = register(18, "officer lacks required role")
	ErrWrongAgency         = register(19, "record belongs to another agency")
	ErrNotFound            = register(20, "record not found")
	ErrAlreadyExists       = register(21, "record already exists")
	ErrInvalidAmount       = register(22, "amount must be positive")
	ErrAmountOverflow      = register(23, "amount overflows int64")
	ErrUnknownCurrency     = register(24, "unknown currency")
	ErrCurrencyMismatch    = register(25, "currency mismatch")
	ErrOverpayment         = register(26, "payments would exceed awarded amount")
	ErrIllegalTransition   = register(27, "illegal status transition")
	ErrPayeeMismatch       = register(28, "payee is not the grant recipient")
	ErrGrantNotPayable     = register(29, "grant does not accept payments")
	ErrFourEyes            = register(30, "four-eyes approval required")
	ErrAmendBelowDisbursed = register(31, "amended amount below amount disbursed")
	ErrInvalidDate         = register(32, "invalid date")
	ErrInvalidPeriod       = register(33, "invalid period")
	ErrOfficerExists       = register(34, "officer already exists")
	ErrOfficerNotFound     = register(35, "officer not found")
	ErrLastAdmin           = register(36, "agency would have no admin officer")
	ErrInvalidRole         = register(37, "invalid role")
	ErrInvalidID           = register(38, "invalid identifier")
	ErrInvalidHash         = register(39, "invalid document hash")
	ErrInvalidKey          = register(40, "invalid public key")
	ErrSignerMismatch      = register(41, "first signature is not the signer's")
	ErrAgencyRemoved       = register(42, "agency was removed by governance")
	ErrGovGuard            = register(43, "change breaks a validator-set guard rail")
	ErrKeyInUse            = register(44, "key already in use")
	ErrVotingClosed        = register(45, "proposal is not open for voting")
	ErrNotElector          = register(46, "agency may not vote on this proposal")
	ErrAlreadyVoted        = register(47, "agency already voted")
	ErrImplausibleDate     = register(48, "implausible date")
	ErrPersonalData        = register(49, "free text holds personal data")
	ErrPersonInClear       = register(50, "natural person identified in clear")
)

// Error is a ledger rule violation with a fixed ABCI code.
type Error struct {
	Code Code
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

var registry = map[Code]*Error{}

func register(code Code, msg string) *Error {
	if code <= CodeInternal {
		panic(fmt.Sprintf("ledger: code %d is reserved", code))
	}
	if prev, dup := registry[code]; dup {
		panic(fmt.Sprintf("ledger: code %d registered twice (%q, %q)", code, prev.Msg, msg))
	}
	e := &Error{Code: code, Msg: msg}
	registry[code] = e
	return e
}

// Errors returns every registered error ordered by code.
func Errors() []*Error {
	out := make([]*Error, 0, len(registry))
	for c := Code(2); len(out) < len(registry); c++ {
		if e, ok := registry[c]; ok {
			out = append(out, e)
		}
	}
	return out
}

// CodeOf maps err to its ABCI code: CodeOK for nil, the registered code for a
// wrapped *Error, CodeInternal for anything else.
func CodeOf(err error) Code {
	if err == nil {
		return CodeOK
	}
	var le *Error
	if errors.As(err, &le) {
		return le.Code
	}
	return CodeInternal
}

// fieldErr wraps base with the name of the offending field.
func fieldErr(base *Error, field, format string, args ...any) error {
	if format == "" {
		return fmt.Errorf("%s: %w", field, base)
	}
	return fmt.Errorf("%s: %s: %w", field, fmt.Sprintf(format, args...), base)
}
