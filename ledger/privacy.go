package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Natural persons on chain. The chain is public, permanent and replicated:
// it must never hold a natural person's identity. A recipient, payee or
// holder who is a person is recorded as an Individual: a salted commitment
// to the identity plus a generic public label. The salt and the identity
// stay with the agency, which may disclose them to an auditor (who
// recomputes the commitment) or destroy them (erasure), and nothing on chain
// changes either way.

// IndividualDomain prefixes every commitment, so that it can never be
// confused with a hash of anything else.
const IndividualDomain = "civic-ledger/individual/v1\n"

// SaltSize is the size of a commitment's random salt, in bytes. A salt of
// 32 random bytes makes the commitment of a guessed name impossible to
// confirm without the salt (an unsalted hash of a name could be).
const SaltSize = 32

// Individual is the on-chain form of a natural person: the commitment and a
// public label, never a name or an identifier.
type Individual struct {
	// Commitment is IndividualCommitment(salt, identity) in lowercase hex.
	Commitment string `json:"commitment"`
	// Label is a generic public description, e.g. "Individual recipient".
	Label string `json:"label"`
	// Region is an optional coarse location (a region, never an address).
	Region string `json:"region,omitempty"`
}

// Identity is what a commitment commits to: a person's identifier in a
// scheme, and name. Its canonical JSON, {"scheme","id","name"} in that
// order, is hashed.
type Identity struct {
	Scheme string `json:"scheme"`
	ID     string `json:"id"`
	Name   string `json:"name"`
}

// IndividualCommitment returns the lowercase hex sha256 of IndividualDomain
// || salt || the canonical JSON of id. The agency (when it records the
// person) and an auditor (when it checks a disclosure) compute it with this
// one function.
func IndividualCommitment(salt []byte, id Identity) (string, error) {
	if len(salt) != SaltSize {
		return "", fmt.Errorf("salt must be %d bytes, got %d", SaltSize, len(salt))
	}
	body, err := Canonical(id)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write([]byte(IndividualDomain))
	h.Write(salt)
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// personSchemePrefixes are the identifier schemes that denote a natural
// person (compared case-insensitively, as prefixes: "GB-NINO", "person",
// "passport-FR" all match). A party in such a scheme must be recorded as an
// Individual. The list is part of the consensus rules: it changes only with
// a chain upgrade.
var personSchemePrefixes = []string{
	"PERSON", "INDIVIDUAL", "NATURAL-PERSON", "CITIZEN", "RESIDENT",
	"PASSPORT", "NATIONAL-ID", "ID-CARD", "DRIVING-LICEN",
	"NINO", "GB-NINO", "SSN", "US-SSN", "TIN-PERSON",
}

// PersonScheme reports whether scheme is an identifier scheme for natural
// persons (see personSchemePrefixes).
func PersonScheme(scheme string) bool {
	u := strings.ToUpper(scheme)
	for _, p := range personSchemePrefixes {
		if strings.HasPrefix(u, p) {
			return true
		}
	}
	return false
}

// PersonSchemes returns the prefixes of the identifier schemes that denote a
// natural person.
func PersonSchemes() []string { return append([]string(nil), personSchemePrefixes...) }

// Ref is how events and messages name a party: "scheme:id" for an
// organisation, "individual:<commitment>" for a person.
func (p Party) Ref() string {
	if p.Individual != nil {
		return "individual:" + p.Individual.Commitment
	}
	return p.Scheme + ":" + p.ID
}

// DisplayName is the party's public name: its name, or an individual's
// label.
func (p Party) DisplayName() string {
	if p.Individual != nil {
		return p.Individual.Label
	}
	return p.Name
}

// IsIndividual reports whether the party is a natural person recorded by
// commitment.
func (p Party) IsIndividual() bool { return p.Individual != nil }

// checkIndividual checks the individual form of a party.
func checkIndividual(field string, p Party) error {
	if p.Name != "" || p.Scheme != "" || p.ID != "" {
		return fieldErr(ErrInvalidField, field, "an individual carries no name, scheme or id, only its commitment and label")
	}
	in := p.Individual
	if err := checkHash(field+".individual.commitment", in.Commitment); err != nil {
		return err
	}
	if err := checkFreeText(field+".individual.label", in.Label, maxNameLen, true); err != nil {
		return err
	}
	return checkFreeText(field+".individual.region", in.Region, maxNameLen, false)
}

// checkFreeText is checkText plus the personal-data check: free text of a
// record must not hold an email address, a phone number, an IBAN or a
// national identifier (findPersonalData).
func checkFreeText(field, s string, max int, required bool) error {
	if err := checkText(field, s, max, required); err != nil {
		return err
	}
	if what := findPersonalData(s); what != "" {
		return fieldErr(ErrPersonalData, field, "looks like %s; personal data must not be written on chain", what)
	}
	return nil
}

// findPersonalData names the first pattern of obvious personal data in s
// ("an email address", "a phone number", "an IBAN", "a UK National
// Insurance number", "a US Social Security number"), or returns "". It is a
// fixed, byte-level matcher (no regular expressions, no Unicode tables), so
// that its answers are part of the consensus rules and never change with the
// Go release. It catches obvious cases only: a name, an address or an
// identifier in a scheme it does not know passes (docs/privacy.md).
func findPersonalData(s string) string {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '@' && isEmailAt(s, i):
			return "an email address"
		case c == '+' && isPhoneAt(s, i):
			return "a phone number"
		case !wordChar(byteAt(s, i-1)) && isDigit(c) && isSSNAt(s, i):
			return "a US Social Security number"
		case !wordChar(byteAt(s, i-1)) && isLetter(c) && isNINOAt(s, i):
			return "a UK National Insurance number"
		case !wordChar(byteAt(s, i-1)) && isUpper(c) && isIBANAt(s, i):
			return "an IBAN"
		}
	}
	return ""
}

func byteAt(s string, i int) byte {
	if i < 0 || i >= len(s) {
		return 0
	}
	return s[i]
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isUpper(c byte) bool  { return c >= 'A' && c <= 'Z' }
func isLetter(c byte) bool { return isUpper(c) || c >= 'a' && c <= 'z' }
func wordChar(c byte) bool { return isDigit(c) || isLetter(c) }
func toUpper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// isEmailAt: s[at] is '@' with a local part before it and a domain with a
// dot and a top-level label of two letters or more after it.
func isEmailAt(s string, at int) bool {
	local := 0
	for j := at - 1; j >= 0 && (wordChar(s[j]) || strings.IndexByte("._%+-", s[j]) >= 0); j-- {
		local++
	}
	if local == 0 {
		return false
	}
	end := at + 1
	for end < len(s) && (wordChar(s[end]) || s[end] == '.' || s[end] == '-') {
		end++
	}
	domain := strings.TrimRight(s[at+1:end], ".-")
	dot := strings.LastIndexByte(domain, '.')
	if dot <= 0 {
		return false
	}
	tld := domain[dot+1:]
	if len(tld) < 2 {
		return false
	}
	for k := 0; k < len(tld); k++ {
		if !isLetter(tld[k]) {
			return false
		}
	}
	return true
}

// isPhoneAt: s[at] is '+' (not inside a word) followed by a digit and, with
// spaces, dots, hyphens and parentheses between them, at least 8 digits: an
// international (E.164-like) number.
func isPhoneAt(s string, at int) bool {
	if wordChar(byteAt(s, at-1)) || !isDigit(byteAt(s, at+1)) {
		return false
	}
	digits := 0
	for j := at + 1; j < len(s); j++ {
		c := s[j]
		if isDigit(c) {
			digits++
			continue
		}
		if strings.IndexByte(" .-()/", c) < 0 {
			break
		}
	}
	return digits >= 8
}

// isSSNAt: ###-##-#### at i, not followed by a digit or a hyphen.
func isSSNAt(s string, i int) bool {
	const shape = "ddd-dd-dddd"
	if i+len(shape) > len(s) {
		return false
	}
	for k := 0; k < len(shape); k++ {
		c := s[i+k]
		if shape[k] == 'd' && !isDigit(c) || shape[k] == '-' && c != '-' {
			return false
		}
	}
	next := byteAt(s, i+len(shape))
	return !isDigit(next) && next != '-'
}

// isNINOAt: a UK National Insurance number at i: two prefix letters (the
// first not D, F, I, Q, U or V, the second not D, F, I, O, Q, U or V), six
// digits (optionally in pairs separated by single spaces) and a suffix
// letter A to D, as a whole word; letters in either case.
func isNINOAt(s string, i int) bool {
	a, b := toUpper(byteAt(s, i)), toUpper(byteAt(s, i+1))
	if !isUpper(a) || !isUpper(b) || strings.IndexByte("DFIQUV", a) >= 0 || strings.IndexByte("DFIOQUV", b) >= 0 {
		return false
	}
	j := i + 2
	for pair := 0; pair < 3; pair++ {
		if byteAt(s, j) == ' ' {
			j++
		}
		if !isDigit(byteAt(s, j)) || !isDigit(byteAt(s, j+1)) {
			return false
		}
		j += 2
	}
	if byteAt(s, j) == ' ' {
		j++
	}
	suffix := toUpper(byteAt(s, j))
	if suffix < 'A' || suffix > 'D' {
		return false
	}
	return !wordChar(byteAt(s, j+1))
}

// isIBANAt: an IBAN at i: two capital letters, two check digits, then
// capital letters and digits (optionally in groups separated by single
// spaces), 15 to 34 characters in all, ending at a word boundary, whose
// ISO 13616 checksum (mod 97) is 1. The checksum keeps reference numbers
// that merely look alike from matching.
func isIBANAt(s string, i int) bool {
	if !isUpper(byteAt(s, i+1)) || !isDigit(byteAt(s, i+2)) || !isDigit(byteAt(s, i+3)) {
		return false
	}
	var buf [34]byte
	n := 0
	for j := i; j < len(s) && n < len(buf); j++ {
		c := s[j]
		if c == ' ' {
			if !(isUpper(byteAt(s, j+1)) || isDigit(byteAt(s, j+1))) {
				break
			}
			if n >= 15 && ibanValid(buf[:n]) {
				return true
			}
			continue
		}
		if !isUpper(c) && !isDigit(c) {
			if wordChar(c) {
				return false
			}
			break
		}
		buf[n] = c
		n++
	}
	return n >= 15 && ibanValid(buf[:n])
}

// ibanValid computes the ISO 13616 checksum of a candidate IBAN: the first
// four characters moved to the end, letters as 10..35, mod 97 must be 1.
func ibanValid(b []byte) bool {
	rem := 0
	add := func(c byte) {
		if isDigit(c) {
			rem = (rem*10 + int(c-'0')) % 97
			return
		}
		v := int(c-'A') + 10
		rem = (rem*100 + v) % 97
	}
	for _, c := range b[4:] {
		add(c)
	}
	for _, c := range b[:4] {
		add(c)
	}
	return rem == 1
}
