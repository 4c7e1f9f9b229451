package ledger

import (
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func TestISO4217Table(t *testing.T) {
	if n := len(iso4217Table); n < 150 || n > 185 {
		t.Errorf("table has %d codes; ISO 4217 has about 160 active codes with a minor unit", n)
	}
	for i, e := range iso4217Table {
		if len(e.code) != 3 || strings.ToUpper(e.code) != e.code || strings.Trim(e.code, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
			t.Errorf("bad code %q", e.code)
		}
		switch e.exp {
		case 0, 2, 3, 4:
		default:
			t.Errorf("%s: unexpected exponent %d", e.code, e.exp)
		}
		if i > 0 && iso4217Table[i-1].code >= e.code {
			t.Errorf("table not strictly sorted at %s, %s", iso4217Table[i-1].code, e.code)
		}
	}
	// No minor unit (N.A. in ISO 4217), and withdrawn codes.
	for _, c := range []string{
		"XAU", "XAG", "XPT", "XPD", "XDR", "XXX", "XTS", "XUA", "XSU", "XBA", "XBB", "XBC", "XBD",
		"ANG", "BGN", "HRK", "CUC", "SLL", "ZWL", "VEF", "MRO", "STD", "LTL", "LVL", "EEK", "DEM", "FRF",
	} {
		if _, ok := CurrencyExponent(c); ok {
			t.Errorf("%s should not be in the table", c)
		}
	}
}

func TestCurrencyExponent(t *testing.T) {
	want := map[string]int{
		"EUR": 2, "USD": 2, "GBP": 2, "CHF": 2, "SEK": 2, "CNY": 2, "INR": 2, "XCD": 2, "XCG": 2, "ZWG": 2,
		"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0, "UGX": 0, "XOF": 0, "XAF": 0, "XPF": 0, "PYG": 0, "UYI": 0,
		"BHD": 3, "KWD": 3, "JOD": 3, "OMR": 3, "TND": 3, "LYD": 3, "IQD": 3,
		"CLF": 4, "UYW": 4,
	}
	for code, exp := range want {
		got, ok := CurrencyExponent(code)
		if !ok || got != exp {
			t.Errorf("CurrencyExponent(%q) = %d, %v; want %d, true", code, got, ok, exp)
		}
	}
	for _, code := range []string{"", "eur", "Eur", "EU", "EURO", " EUR", "EUR ", "ABC", "AAA", "ZZZ", "XAU"} {
		if exp, ok := CurrencyExponent(code); ok {
			t.Errorf("CurrencyExponent(%q) = %d, true; want unknown", code, exp)
		}
	}
	// Every entry is found by the binary search.
	for _, e := range iso4217Table {
		if exp, ok := CurrencyExponent(e.code); !ok || exp != int(e.exp) {
			t.Errorf("CurrencyExponent(%q) = %d, %v", e.code, exp, ok)
		}
	}
}

func TestParseAmountValid(t *testing.T) {
	cases := []struct {
		s, cur string
		want   int64
	}{
		{"1250.50", "EUR", 125050},
		{"1250.5", "EUR", 125050},
		{"1250", "EUR", 125000},
		{"0", "EUR", 0},
		{"0.00", "EUR", 0},
		{"0.01", "EUR", 1},
		{"0.1", "EUR", 10},
		{"007.5", "EUR", 750},
		{"0000000000000000000000000001", "EUR", 100},
		{"1.00", "USD", 100},
		{"500", "JPY", 500},
		{"0", "JPY", 0},
		{"1.234", "KWD", 1234},
		{"1.2", "KWD", 1200},
		{"1", "BHD", 1000},
		{"1.0001", "CLF", 10001},
		{"3", "UYW", 30000},
		{"92233720368547758.07", "EUR", math.MaxInt64},
		{"92233720368547758.06", "EUR", math.MaxInt64 - 1},
		{"9223372036854775807", "JPY", math.MaxInt64},
		{"9223372036854775.807", "KWD", math.MaxInt64},
		{"922337203685477.5807", "CLF", math.MaxInt64},
	}
	for _, c := range cases {
		got, err := ParseAmount(c.s, c.cur)
		if err != nil || got != c.want {
			t.Errorf("ParseAmount(%q, %s) = %d, %v; want %d", c.s, c.cur, got, err, c.want)
		}
	}
}

func TestParseAmountInvalid(t *testing.T) {
	cases := []struct {
		s, cur string
		msg    string // substring of the error
	}{
		{"", "EUR", "empty"},
		{"-1", "EUR", "invalid character"},
		{"+1", "EUR", "invalid character"},
		{"-0.01", "EUR", "invalid character"},
		{" 1", "EUR", "invalid character"},
		{"1 ", "EUR", "invalid character"},
		{"1\n", "EUR", "invalid character"},
		{"1 000", "EUR", "invalid character"},
		{"1,000", "EUR", "invalid character"},
		{"1,50", "EUR", "invalid character"},
		{"1'000", "CHF", "invalid character"},
		{"1_000", "EUR", "invalid character"},
		{"1e3", "EUR", "invalid character"},
		{"1E3", "EUR", "invalid character"},
		{"0x10", "EUR", "invalid character"},
		{"NaN", "EUR", "invalid character"},
		{"Inf", "EUR", "invalid character"},
		{"１２", "EUR", "invalid character"}, // full-width digits
		{"٣", "EUR", "invalid character"},  // Arabic-Indic digit
		{"\xff", "EUR", "invalid character"},
		{"1.2.3", "EUR", "more than one decimal point"},
		{"1..2", "EUR", "more than one decimal point"},
		{".5", "EUR", "before the decimal point"},
		{".", "EUR", "before the decimal point"},
		{"5.", "EUR", "after the decimal point"},
		{"1.234", "EUR", "at most 2 decimal places"},
		{"1.230", "EUR", "at most 2 decimal places"}, // exact or refuse, even for zeros
		{"1250.500", "EUR", "at most 2 decimal places"},
		{"500.0", "JPY", "no minor unit"},
		{"1.5", "JPY", "no minor unit"},
		{"1.2345", "KWD", "at most 3 decimal places"},
		{"1.00001", "CLF", "at most 4 decimal places"},
	}
	for _, c := range cases {
		got, err := ParseAmount(c.s, c.cur)
		if err == nil {
			t.Errorf("ParseAmount(%q, %s) = %d; want an error", c.s, c.cur, got)
			continue
		}
		if !strings.Contains(err.Error(), c.msg) {
			t.Errorf("ParseAmount(%q, %s): error %q does not mention %q", c.s, c.cur, err, c.msg)
		}
		if errors.Is(err, strconv.ErrRange) {
			t.Errorf("ParseAmount(%q, %s): syntax error wraps strconv.ErrRange", c.s, c.cur)
		}
	}
}

func TestParseAmountOverflow(t *testing.T) {
	cases := []struct{ s, cur string }{
		{"92233720368547758.08", "EUR"},
		{"92233720368547759", "EUR"},
		{"9223372036854775808", "JPY"},
		{"18446744073709551616", "JPY"}, // 2^64
		{"99999999999999999999", "EUR"},
		{"100000000000000000000000000000", "EUR"},
		{"9223372036854775.808", "KWD"},
		{"922337203685477.5808", "CLF"},
		{"922337203685478", "CLF"},
	}
	for _, c := range cases {
		got, err := ParseAmount(c.s, c.cur)
		if !errors.Is(err, strconv.ErrRange) {
			t.Errorf("ParseAmount(%q, %s) = %d, %v; want an error wrapping strconv.ErrRange", c.s, c.cur, got, err)
		}
	}
}

func TestParseAmountUnknownCurrency(t *testing.T) {
	for _, cur := range []string{"", "EURO", "XAU", "XXX", "ABC"} {
		if _, err := ParseAmount("1", cur); err == nil || !strings.Contains(err.Error(), "unknown currency") {
			t.Errorf("ParseAmount(1, %q): %v; want unknown currency", cur, err)
		}
	}
	_, err := ParseAmount("1", "eur")
	if err == nil || !strings.Contains(err.Error(), `"EUR"`) {
		t.Errorf(`ParseAmount(1, "eur"): %v; want a hint to use "EUR"`, err)
	}
}

func TestFormatAmount(t *testing.T) {
	cases := []struct {
		minor int64
		cur   string
		want  string
	}{
		{125050, "EUR", "1250.50"},
		{125000, "EUR", "1250.00"},
		{0, "EUR", "0.00"},
		{1, "EUR", "0.01"},
		{10, "EUR", "0.10"},
		{99, "EUR", "0.99"},
		{100, "EUR", "1.00"},
		{-1205, "EUR", "-12.05"},
		{-1, "EUR", "-0.01"},
		{-100, "USD", "-1.00"},
		{500, "JPY", "500"},
		{0, "JPY", "0"},
		{-7, "JPY", "-7"},
		{1, "KWD", "0.001"},
		{1234, "KWD", "1.234"},
		{1, "CLF", "0.0001"},
		{10001, "CLF", "1.0001"},
		{math.MaxInt64, "EUR", "92233720368547758.07"},
		{math.MaxInt64, "JPY", "9223372036854775807"},
		{math.MaxInt64, "CLF", "922337203685477.5807"},
		{math.MinInt64, "EUR", "-92233720368547758.08"},
		{math.MinInt64, "JPY", "-9223372036854775808"},
		{math.MinInt64 + 1, "EUR", "-92233720368547758.07"},
		{125050, "???", "125050"}, // unknown currency: plain minor units
	}
	for _, c := range cases {
		if got := FormatAmount(c.minor, c.cur); got != c.want {
			t.Errorf("FormatAmount(%d, %s) = %q, want %q", c.minor, c.cur, got, c.want)
		}
	}
}

func TestAmountRoundTrip(t *testing.T) {
	values := []int64{0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 1001, 12345, 125050, 999999,
		1_000_000_007, math.MaxInt32, math.MaxInt64 / 10, math.MaxInt64 - 1, math.MaxInt64}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		values = append(values, rng.Int64(), rng.Int64N(1_000_000_00))
	}
	for _, e := range iso4217Table {
		for _, v := range values {
			s := FormatAmount(v, e.code)
			got, err := ParseAmount(s, e.code)
			if err != nil || got != v {
				t.Fatalf("%s: ParseAmount(FormatAmount(%d) = %q) = %d, %v", e.code, v, s, got, err)
			}
			if neg := FormatAmount(-v, e.code); v != 0 && neg != "-"+s {
				t.Fatalf("%s: FormatAmount(%d) = %q, want %q", e.code, -v, neg, "-"+s)
			}
		}
	}
	// Decimal strings come back in canonical form.
	for _, c := range []struct{ in, cur, want string }{
		{"1250.50", "EUR", "1250.50"},
		{"1250.5", "EUR", "1250.50"},
		{"1250", "EUR", "1250.00"},
		{"0001250", "EUR", "1250.00"},
		{"0.5", "EUR", "0.50"},
		{"500", "JPY", "500"},
		{"1.5", "KWD", "1.500"},
		{"0.0001", "CLF", "0.0001"},
		{"92233720368547758.07", "EUR", "92233720368547758.07"},
	} {
		v, err := ParseAmount(c.in, c.cur)
		if err != nil {
			t.Fatalf("ParseAmount(%q, %s): %v", c.in, c.cur, err)
		}
		if got := FormatAmount(v, c.cur); got != c.want {
			t.Errorf("FormatAmount(ParseAmount(%q, %s)) = %q, want %q", c.in, c.cur, got, c.want)
		}
	}
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"0", "1250.50", "1250.5", "92233720368547758.07", "92233720368547758.08", "1.2.3", "-1", ".5", "1e3"} {
		f.Add(s, "EUR")
	}
	f.Add("500", "JPY")
	f.Add("1.2345", "CLF")
	f.Fuzz(func(t *testing.T, s, cur string) {
		v, err := ParseAmount(s, cur)
		if err != nil {
			return
		}
		if v < 0 {
			t.Fatalf("ParseAmount(%q, %q) = %d < 0", s, cur, v)
		}
		back, err := ParseAmount(FormatAmount(v, cur), cur)
		if err != nil || back != v {
			t.Fatalf("round trip of %d (%q, %q): %d, %v", v, s, cur, back, err)
		}
	})
}

func TestFormatMoney(t *testing.T) {
	for _, c := range []struct {
		minor int64
		cur   string
		want  string
	}{
		{25000000, "EUR", "250,000.00 EUR"},
		{100000, "EUR", "1,000.00 EUR"},
		{99999, "EUR", "999.99 EUR"},
		{0, "EUR", "0.00 EUR"},
		{-1205, "EUR", "-12.05 EUR"},
		{-123456789, "EUR", "-1,234,567.89 EUR"},
		{480000, "JPY", "480,000 JPY"},
		{100, "JPY", "100 JPY"},
		{1234567, "KWD", "1,234.567 KWD"},
		{math.MaxInt64, "JPY", "9,223,372,036,854,775,807 JPY"},
		{math.MinInt64, "EUR", "-92,233,720,368,547,758.08 EUR"},
	} {
		if got := FormatMoney(c.minor, c.cur); got != c.want {
			t.Errorf("FormatMoney(%d, %s) = %q, want %q", c.minor, c.cur, got, c.want)
		}
	}
	if got := MoneyWithMinor(6000000, "EUR"); got != "60,000.00 EUR (6000000 minor units)" {
		t.Errorf("MoneyWithMinor = %q", got)
	}
}
