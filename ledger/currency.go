package ledger

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// iso4217Entry is a currency code and its exponent: the number of decimal
// places of its minor unit (2 for EUR: 1 EUR = 100 cents).
type iso4217Entry struct {
	code string
	exp  uint8
}

// iso4217Table lists the ISO 4217 currency codes in force (list one as
// published 2026-01-01), sorted by code, with their minor units. Codes whose
// minor unit is "N.A." are left out: precious metals (XAU, XAG, XPD, XPT),
// units of account and bond-market units (XDR, XUA, XSU, XBA-XBD), and the
// testing and no-currency codes (XTS, XXX). Fund codes that have a minor
// unit (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW) are included.
// Withdrawn codes are absent, among them ANG (replaced by XCG), BGN (euro
// since 2026), HRK (euro since 2023), CUC, SLL (replaced by SLE) and ZWL
// (replaced by ZWG).
//
// The table is consensus-critical: transaction validation accepts exactly
// these currencies, so adding or removing a code changes which transactions
// are valid and must ship as a coordinated network upgrade, never as a
// routine edit.
var iso4217Table = [...]iso4217Entry{
	{"AED", 2}, {"AFN", 2}, {"ALL", 2}, {"AMD", 2}, {"AOA", 2}, {"ARS", 2}, {"AUD", 2}, {"AWG", 2}, {"AZN", 2},
	{"BAM", 2}, {"BBD", 2}, {"BDT", 2}, {"BHD", 3}, {"BIF", 0}, {"BMD", 2}, {"BND", 2}, {"BOB", 2}, {"BOV", 2}, {"BRL", 2}, {"BSD", 2}, {"BTN", 2}, {"BWP", 2}, {"BYN", 2}, {"BZD", 2},
	{"CAD", 2}, {"CDF", 2}, {"CHE", 2}, {"CHF", 2}, {"CHW", 2}, {"CLF", 4}, {"CLP", 0}, {"CNY", 2}, {"COP", 2}, {"COU", 2}, {"CRC", 2}, {"CUP", 2}, {"CVE", 2}, {"CZK", 2},
	{"DJF", 0}, {"DKK", 2}, {"DOP", 2}, {"DZD", 2},
	{"EGP", 2}, {"ERN", 2}, {"ETB", 2}, {"EUR", 2},
	{"FJD", 2}, {"FKP", 2},
	{"GBP", 2}, {"GEL", 2}, {"GHS", 2}, {"GIP", 2}, {"GMD", 2}, {"GNF", 0}, {"GTQ", 2}, {"GYD", 2},
	{"HKD", 2}, {"HNL", 2}, {"HTG", 2}, {"HUF", 2},
	{"IDR", 2}, {"ILS", 2}, {"INR", 2}, {"IQD", 3}, {"IRR", 2}, {"ISK", 0},
	{"JMD", 2}, {"JOD", 3}, {"JPY", 0},
	{"KES", 2}, {"KGS", 2}, {"KHR", 2}, {"KMF", 0}, {"KPW", 2}, {"KRW", 0}, {"KWD", 3}, {"KYD", 2}, {"KZT", 2},
	{"LAK", 2}, {"LBP", 2}, {"LKR", 2}, {"LRD", 2}, {"LSL", 2}, {"LYD", 3},
	{"MAD", 2}, {"MDL", 2}, {"MGA", 2}, {"MKD", 2}, {"MMK", 2}, {"MNT", 2}, {"MOP", 2}, {"MRU", 2}, {"MUR", 2}, {"MVR", 2}, {"MWK", 2}, {"MXN", 2}, {"MXV", 2}, {"MYR", 2}, {"MZN", 2},
	{"NAD", 2}, {"NGN", 2}, {"NIO", 2}, {"NOK", 2}, {"NPR", 2}, {"NZD", 2},
	{"OMR", 3},
	{"PAB", 2}, {"PEN", 2}, {"PGK", 2}, {"PHP", 2}, {"PKR", 2}, {"PLN", 2}, {"PYG", 0},
	{"QAR", 2},
	{"RON", 2}, {"RSD", 2}, {"RUB", 2}, {"RWF", 0},
	{"SAR", 2}, {"SBD", 2}, {"SCR", 2}, {"SDG", 2}, {"SEK", 2}, {"SGD", 2}, {"SHP", 2}, {"SLE", 2}, {"SOS", 2}, {"SRD", 2}, {"SSP", 2}, {"STN", 2}, {"SVC", 2}, {"SYP", 2}, {"SZL", 2},
	{"THB", 2}, {"TJS", 2}, {"TMT", 2}, {"TND", 3}, {"TOP", 2}, {"TRY", 2}, {"TTD", 2}, {"TWD", 2}, {"TZS", 2},
	{"UAH", 2}, {"UGX", 0}, {"USD", 2}, {"USN", 2}, {"UYI", 0}, {"UYU", 2}, {"UYW", 4}, {"UZS", 2},
	{"VED", 2}, {"VES", 2}, {"VND", 0}, {"VUV", 0},
	{"WST", 2},
	{"XAD", 2}, {"XAF", 0}, {"XCD", 2}, {"XCG", 2}, {"XOF", 0}, {"XPF", 0},
	{"YER", 2},
	{"ZAR", 2}, {"ZMW", 2}, {"ZWG", 2},
}

// CurrencyExponent returns the number of decimal places of the minor unit of
// the ISO 4217 currency code (upper case), e.g. 2 for EUR, 0 for JPY, 3 for
// KWD, and whether the code is a known, active currency.
func CurrencyExponent(code string) (int, bool) {
	i, ok := slices.BinarySearchFunc(iso4217Table[:], code, func(e iso4217Entry, c string) int {
		return strings.Compare(e.code, c)
	})
	if !ok {
		return 0, false
	}
	return int(iso4217Table[i].exp), true
}

func unknownCurrencyError(code string) error {
	if up := strings.ToUpper(code); up != code {
		if _, ok := CurrencyExponent(up); ok {
			return fmt.Errorf("unknown currency code %q (currency codes are upper case: %q)", code, up)
		}
	}
	return fmt.Errorf("unknown currency code %q (want an active ISO 4217 code such as EUR)", code)
}

// ParseAmount parses a non-negative decimal amount written by a person, such
// as "1250.50", "1250.5" or "1250", in the given currency and returns it in
// minor units exactly (125050 for EUR). It accepts ASCII digits with at most
// one '.', which must have digits on both sides, and at most as many
// fractional digits as the currency has (none for JPY): it never rounds.
// Signs, spaces, exponents and thousands separators are rejected. An amount
// beyond the range of int64 gives an error wrapping [strconv.ErrRange].
func ParseAmount(s, currency string) (int64, error) {
	exp, ok := CurrencyExponent(currency)
	if !ok {
		return 0, unknownCurrencyError(currency)
	}
	if s == "" {
		return 0, fmt.Errorf("empty amount")
	}
	dots := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
		case r == '.':
			dots++
			if dots > 1 {
				return 0, fmt.Errorf("amount %q: more than one decimal point", s)
			}
		default:
			return 0, fmt.Errorf("amount %q: invalid character %q at offset %d; want digits and at most one '.' (no sign, spaces, exponent or thousands separators)", s, r, i)
		}
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	switch {
	case whole == "":
		return 0, fmt.Errorf("amount %q: digits needed before the decimal point", s)
	case hasDot && frac == "":
		return 0, fmt.Errorf("amount %q: digits needed after the decimal point", s)
	case len(frac) > exp && exp == 0:
		return 0, fmt.Errorf("amount %q: %s has no minor unit, so no decimal places are allowed", s, currency)
	case len(frac) > exp:
		return 0, fmt.Errorf("amount %q: %s allows at most %d decimal places", s, currency, exp)
	}
	var v uint64
	push := func(d uint64) bool {
		if v > (math.MaxInt64-d)/10 {
			return false
		}
		v = v*10 + d
		return true
	}
	ok = true
	for i := 0; i < len(whole) && ok; i++ {
		ok = push(uint64(whole[i] - '0'))
	}
	for i := 0; i < exp && ok; i++ {
		var d uint64
		if i < len(frac) {
			d = uint64(frac[i] - '0')
		}
		ok = push(d)
	}
	if !ok {
		return 0, fmt.Errorf("amount %s %s exceeds the maximum %s %s: %w", s, currency, FormatAmount(math.MaxInt64, currency), currency, strconv.ErrRange)
	}
	return int64(v), nil
}

// FormatAmount formats an amount in minor units as a decimal in the given
// currency: 125050 EUR is "1250.50", 500 JPY is "500", -1205 EUR is "-12.05".
// It is the inverse of [ParseAmount] for non-negative amounts. An unknown
// currency is formatted as a plain integer of minor units.
func FormatAmount(minor int64, currency string) string {
	exp, _ := CurrencyExponent(currency)
	u := uint64(minor)
	if minor < 0 {
		u = -u // correct for math.MinInt64 too
	}
	digits := strconv.FormatUint(u, 10)
	if exp > 0 {
		if len(digits) <= exp {
			digits = strings.Repeat("0", exp+1-len(digits)) + digits
		}
		digits = digits[:len(digits)-exp] + "." + digits[len(digits)-exp:]
	}
	if minor < 0 {
		return "-" + digits
	}
	return digits
}

// FormatMoney formats an amount in minor units for people: the decimal in
// the currency's units, thousands grouped with commas, then the code:
// 25000000 EUR is "250,000.00 EUR", 480000 JPY is "480,000 JPY", -1205 EUR
// is "-12.05 EUR". Machines read FormatAmount's form ("250000.00"), which
// ParseAmount and the CLI's --amount accept; FormatMoney's is for messages
// and reports.
func FormatMoney(minor int64, currency string) string {
	s := FormatAmount(minor, currency)
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	intPart, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	b.WriteString(sign)
	for i, r := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if hasFrac {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	b.WriteByte(' ')
	b.WriteString(currency)
	return b.String()
}

// MoneyWithMinor is FormatMoney with the minor units beside it, as rule
// errors state amounts: "250,000.00 EUR (25000000 minor units)".
func MoneyWithMinor(minor int64, currency string) string {
	return fmt.Sprintf("%s (%d minor units)", FormatMoney(minor, currency), minor)
}

// Currencies returns every ISO 4217 code the ledger accepts, sorted.
func Currencies() []string {
	out := make([]string, len(iso4217Table))
	for i, e := range iso4217Table {
		out[i] = e.code
	}
	return out
}
