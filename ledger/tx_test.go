package ledger_test

// Decoding tests (DecodeTx): malformed and non-canonical encodings, the
// stateless rules of every payload, round trips; and the error code table.

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/civicledger/civicledger/ledger"
)

// basePayment is a valid payment/record tx: it has a party, an amount, a
// currency, a date, free text and an optional field.
func basePayment(t testing.TB) []byte {
	t.Helper()
	b, err := ledger.NewBody(testChainID, agCulture, cultFin1.pub, 7, 50, pay("p-1", "g-open", "1000"))
	if err != nil {
		t.Fatal(err)
	}
	return sign(t, b, cultFin1)
}

func decode(raw []byte) (*ledger.Tx, error) {
	return ledger.DecodeTx(raw, ledger.DefaultParams().MaxTxBytes)
}

func TestDecodeBase(t *testing.T) {
	raw := basePayment(t)
	want := `{"body":{"chain_id":"civic-test-1","type":"payment/record","agency":"ministry-culture","signer":"` +
		base64.StdEncoding.EncodeToString(cultFin1.pub) + `","nonce":7,"expires_at":50,"payload":{"id":"p-1",` +
		`"payee":{"name":"Acme Theatre Ltd","scheme":"companies-house","id":"01234567"},"amount":"1000","currency":"EUR",` +
		`"date":"2025-03-10","purpose":"Instalment & travel costs <Q1>","grant":"g-open"}},"signatures":[{"pub_key":"` +
		base64.StdEncoding.EncodeToString(cultFin1.pub) + `","signature":"`
	if !strings.HasPrefix(string(raw), want) || !strings.HasSuffix(string(raw), `"}]}`) {
		t.Fatalf("unexpected wire form:\n%s", raw)
	}
	tx, err := decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := tx.Payload.(*ledger.PaymentRecord)
	if !ok || p.ID != "p-1" || p.Grant != "g-open" || p.Payee != acme || tx.Body.Nonce != 7 || tx.Body.ExpiresAt != 50 {
		t.Fatalf("decoded %+v %+v", tx.Body, tx.Payload)
	}
	if err := tx.VerifySignatures(); err != nil {
		t.Fatal(err)
	}
}

// tweakB64 returns a non-canonical base64 encoding of the same bytes: the
// unused low bits of the last data character are set.
func tweakB64(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	i := len(strings.TrimRight(s, "=")) - 1
	v := strings.IndexByte(alphabet, s[i])
	return s[:i] + string(alphabet[v|1]) + s[i+1:]
}

func TestDecodeMalformedAndNonCanonical(t *testing.T) {
	raw := string(basePayment(t))
	key := base64.StdEncoding.EncodeToString(cultFin1.pub)
	var env ledger.Envelope
	if err := json.Unmarshal([]byte(raw), &env); err != nil {
		t.Fatal(err)
	}
	sig := base64.StdEncoding.EncodeToString(env.Signatures[0].Signature)
	if tweakB64(key) == key || tweakB64(sig) == sig {
		t.Fatal("tweakB64 did not change anything")
	}
	for _, s := range []string{tweakB64(key), tweakB64(sig)} {
		// Go's base64 decoder accepts the tweaked form as the same bytes,
		// which is exactly why the canonical check must catch it.
		if _, err := base64.StdEncoding.DecodeString(s); err != nil {
			t.Fatalf("tweaked base64 %q does not decode: %v", s, err)
		}
	}
	envelopeTail := raw[strings.Index(raw, `,"signatures":`):]
	bodyJSON := raw[len(`{"body":`) : len(raw)-len(envelopeTail)]
	payloadJSON := bodyJSON[strings.Index(bodyJSON, `"payload":`)+len(`"payload":`) : len(bodyJSON)-1]

	type mutation struct {
		name     string
		from, to string // replace the first from with to; from "" = the whole tx becomes to
		want     *ledger.Error
	}
	cases := []mutation{
		// Malformed JSON.
		{"empty input", "", "", ledger.ErrMalformed},
		{"only whitespace", "", " ", ledger.ErrMalformed},
		{"open brace", "", "{", ledger.ErrMalformed},
		{"close brace", "", "}", ledger.ErrMalformed},
		{"array", "", "[]", ledger.ErrMalformed},
		{"string", "", `"tx"`, ledger.ErrMalformed},
		{"number", "", `42`, ledger.ErrMalformed},
		{"truncated", "", raw[:len(raw)-1], ledger.ErrMalformed},
		{"trailing garbage", "", raw + "x", ledger.ErrMalformed},
		{"second value", "", raw + "{}", ledger.ErrMalformed},
		{"missing value", `"nonce":7`, `"nonce":`, ledger.ErrMalformed},
		{"trailing comma", `"nonce":7,`, `"nonce":7,,`, ledger.ErrMalformed},
		{"single quotes", `"nonce":7`, `'nonce':7`, ledger.ErrMalformed},
		{"comment", `"nonce":7`, `/*n*/"nonce":7`, ledger.ErrMalformed},
		{"raw tab in string", "Instalment &", "Instalment\t&", ledger.ErrMalformed},
		{"raw newline in string", "Instalment &", "Instalment\n&", ledger.ErrMalformed},
		{"bad escape", "Instalment &", `Instalment \q&`, ledger.ErrMalformed},

		// Invalid UTF-8, anywhere.
		{"invalid UTF-8 in purpose", "Instalment", "Instal\xffment", ledger.ErrMalformed},
		{"overlong UTF-8", "Instalment", "Instal\xc0\xafment", ledger.ErrMalformed},
		{"UTF-8 surrogate", "Instalment", "Instal\xed\xa0\x80ment", ledger.ErrMalformed},
		{"truncated UTF-8", "Instalment", "Instal\xc3", ledger.ErrMalformed},
		{"invalid UTF-8 in key", `"purpose":`, "\"purp\xffose\":", ledger.ErrMalformed},

		// Unknown fields.
		{"unknown envelope field", "", raw[:len(raw)-1] + `,"memo":"hi"}`, ledger.ErrUnknownField},
		{"unknown body field", `"chain_id":`, `"memo":"hi","chain_id":`, ledger.ErrUnknownField},
		{"unknown payload field", `{"id":"p-1"`, `{"id":"p-1","note":"hi"`, ledger.ErrUnknownField},
		{"unknown party field", `"scheme":"companies-house"`, `"scheme":"companies-house","vat":"x"`, ledger.ErrUnknownField},
		{"unknown signature field", `"signature":"`, `"alg":"ed25519","signature":"`, ledger.ErrUnknownField},
		{"field of another payload type", `"grant":"g-open"`, `"grant":"g-open","reason":"x"`, ledger.ErrUnknownField},

		// Duplicate keys.
		{"duplicate envelope key", "", raw[:len(raw)-1] + `,"signatures":[]}`, ledger.ErrMalformed},
		{"duplicate body key", `"nonce":7,`, `"nonce":7,"nonce":7,`, ledger.ErrMalformed},
		{"duplicate body key, other value", `"nonce":7,`, `"nonce":8,"nonce":7,`, ledger.ErrMalformed},
		{"duplicate payload key", `"amount":"1000",`, `"amount":"1000","amount":"1000",`, ledger.ErrMalformed},
		{"duplicate party key", `"name":"Acme Theatre Ltd",`, `"name":"Acme Theatre Ltd","name":"Acme Theatre Ltd",`, ledger.ErrMalformed},
		{"duplicate key by escape", `"amount":"1000",`, `"amount":"1000","\u0061mount":"1000",`, ledger.ErrMalformed},
		{"case-folded key", `"amount":`, `"AMOUNT":`, ledger.ErrNonCanonical},
		{"case-folded duplicate key", `"amount":"1000",`, `"amount":"1000","Amount":"9999",`, ledger.ErrNonCanonical},

		// Wrong types.
		{"nonce as string", `"nonce":7`, `"nonce":"7"`, ledger.ErrMalformed},
		{"nonce negative", `"nonce":7`, `"nonce":-7`, ledger.ErrMalformed},
		{"nonce fractional", `"nonce":7`, `"nonce":7.5`, ledger.ErrMalformed},
		{"nonce 7.0", `"nonce":7`, `"nonce":7.0`, ledger.ErrMalformed},
		{"nonce exponent", `"nonce":7`, `"nonce":7e0`, ledger.ErrMalformed},
		{"nonce leading zero", `"nonce":7`, `"nonce":07`, ledger.ErrMalformed},
		{"nonce plus sign", `"nonce":7`, `"nonce":+7`, ledger.ErrMalformed},
		{"nonce beyond uint64", `"nonce":7`, `"nonce":18446744073709551616`, ledger.ErrMalformed},
		{"expires_at as bool", `"expires_at":50`, `"expires_at":true`, ledger.ErrMalformed},
		{"expires_at beyond int64", `"expires_at":50`, `"expires_at":9223372036854775808`, ledger.ErrMalformed},
		{"amount as number", `"amount":"1000"`, `"amount":1000`, ledger.ErrMalformed},
		{"payee as string", `"payee":{"name":"Acme Theatre Ltd","scheme":"companies-house","id":"01234567"}`, `"payee":"Acme"`, ledger.ErrMalformed},
		{"body as string", "", `{"body":"x"` + envelopeTail, ledger.ErrMalformed},
		{"body as array", "", `{"body":[]` + envelopeTail, ledger.ErrMalformed},
		{"payload as array", `"payload":` + payloadJSON, `"payload":[]`, ledger.ErrMalformed},
		{"payload as string", `"payload":` + payloadJSON, `"payload":"{}"`, ledger.ErrMalformed},
		{"signatures as object", "", `{"body":` + bodyJSON + `,"signatures":{}}`, ledger.ErrMalformed},
		{"pub_key as number", `"pub_key":"` + key + `"`, `"pub_key":1`, ledger.ErrMalformed},
		{"signer as array of numbers", `"signer":"` + key + `"`, `"signer":[1,2]`, ledger.ErrNonCanonical}, // encoding/json accepts it as bytes
		{"signer as object", `"signer":"` + key + `"`, `"signer":{}`, ledger.ErrMalformed},

		// Non-canonical encodings of a valid transaction.
		{"space after envelope brace", `{"body":`, `{ "body":`, ledger.ErrNonCanonical},
		{"trailing newline", "", raw + "\n", ledger.ErrNonCanonical},
		{"leading space", "", " " + raw, ledger.ErrNonCanonical},
		{"space in body", `"nonce":7`, `"nonce": 7`, ledger.ErrNonCanonical},
		{"newline in body", `,"type":`, ",\n\"type\":", ledger.ErrNonCanonical},
		{"space in payload", `"amount":"1000"`, `"amount" :"1000"`, ledger.ErrNonCanonical},
		{"pretty-printed", "", indent(t, raw), ledger.ErrNonCanonical},
		{"envelope fields reordered", "", `{"signatures":` + envelopeTail[len(`,"signatures":`):len(envelopeTail)-1] + `,"body":` + bodyJSON + `}`, ledger.ErrNonCanonical},
		{"body fields reordered", `"type":"payment/record","agency":"ministry-culture"`, `"agency":"ministry-culture","type":"payment/record"`, ledger.ErrNonCanonical},
		{"payload fields reordered", `"amount":"1000","currency":"EUR"`, `"currency":"EUR","amount":"1000"`, ledger.ErrNonCanonical},
		{"party fields reordered", `"name":"Acme Theatre Ltd","scheme":"companies-house"`, `"scheme":"companies-house","name":"Acme Theatre Ltd"`, ledger.ErrNonCanonical},
		{"signature fields reordered", "", `{"body":` + bodyJSON + `,"signatures":[{"signature":"` + sig + `","pub_key":"` + key + `"}]}`, ledger.ErrNonCanonical},
		{"missing envelope field", "", `{"body":` + bodyJSON + `}`, ledger.ErrNonCanonical},
		{"missing body field", `"nonce":7,`, ``, ledger.ErrNonCanonical},
		{"payload under another key", `,"payload":{`, `,"x":{`, ledger.ErrUnknownField},
		{"missing payload", `,"payload":` + payloadJSON, ``, ledger.ErrNonCanonical},
		{"missing payload field", `"date":"2025-03-10",`, ``, ledger.ErrNonCanonical},
		{"missing party field", `"scheme":"companies-house",`, ``, ledger.ErrNonCanonical},
		{"empty optional field present", `"grant":"g-open"`, `"grant":""`, ledger.ErrNonCanonical},
		{"null field", `"currency":"EUR"`, `"currency":null`, ledger.ErrNonCanonical},
		{"empty object", "", `{}`, ledger.ErrNonCanonical},
		{"null", "", `null`, ledger.ErrNonCanonical},
		{"null body", "", `{"body":null` + envelopeTail, ledger.ErrNonCanonical},
		{"non-canonical base64 signer", `"signer":"` + key, `"signer":"` + tweakB64(key), ledger.ErrNonCanonical},
		{"non-canonical base64 signature", sig, tweakB64(sig), ledger.ErrNonCanonical},
		{"base64 with escaped newline", `"signer":"` + key[:8], `"signer":"` + key[:4] + `\n` + key[4:8], ledger.ErrNonCanonical},
		{"base64 without padding", `"signer":"` + key, `"signer":"` + strings.TrimRight(key, "="), ledger.ErrMalformed},
		{"base64 URL alphabet", `"signer":"` + key[:4], `"signer":"` + "-_-_", ledger.ErrMalformed},
		{"escaped letter", `"agency":"ministry-culture"`, `"agency":"ministry\u002dculture"`, ledger.ErrNonCanonical},
		{"escaped slash", `"type":"payment/record"`, `"type":"payment\/record"`, ledger.ErrNonCanonical},
		{"HTML-escaped ampersand", `Instalment & travel`, `Instalment \u0026 travel`, ledger.ErrNonCanonical},
		{"HTML-escaped angle bracket", `<Q1>`, `\u003cQ1>`, ledger.ErrNonCanonical},
		{"escaped DEL", `costs`, `costs\u007f`, ledger.ErrNonCanonical},
		{"escaped ASCII letter in purpose", `"purpose":"Instalment`, `"purpose":"\u0049nstalment`, ledger.ErrNonCanonical},
		{"escaped lone surrogate", `costs`, `costs\ud800`, ledger.ErrNonCanonical},
		{"raw line separator", `costs`, "costs\u2028x", ledger.ErrNonCanonical},

		// Canonical, but text the rules reject.
		{"escaped control character", `costs`, `costs\u0001x`, ledger.ErrInvalidField},
		{"escaped newline", `costs`, `costs\nx`, ledger.ErrInvalidField},
		{"escaped tab", `costs`, `costs\tx`, ledger.ErrInvalidField},
		{"raw DEL", `costs`, "costs\x7fx", ledger.ErrInvalidField},
		{"escaped line separator", `costs`, `costs\u2028x`, ledger.ErrInvalidField},
		{"replacement character", `costs`, "costs\ufffdx", ledger.ErrInvalidField},
		{"control character in party name", `"name":"Acme Theatre Ltd"`, `"name":"Acme\u001bTheatre Ltd"`, ledger.ErrInvalidField},
		{"control character in chain id", `"chain_id":"civic-test-1"`, `"chain_id":"civic-test-1\u0000"`, ledger.ErrInvalidField},

		// Deep nesting.
		{"nesting beyond the limit", "", raw[:len(raw)-1] + `,"x":[[[[[[[[1]]]]]]]]}`, ledger.ErrMalformed},
		{"nesting at the limit", "", raw[:len(raw)-1] + `,"x":[[[[[[[1]]]]]]]}`, ledger.ErrUnknownField},
		{"deep nesting in payload", `"purpose":"Instalment & travel costs <Q1>"`, `"purpose":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`, ledger.ErrMalformed},
		{"deep objects in payload", `"purpose":"Instalment & travel costs <Q1>"`, `"purpose":{"a":{"a":{"a":{"a":{"a":{"a":{}}}}}}}`, ledger.ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.to
			if tc.from != "" {
				if !strings.Contains(raw, tc.from) {
					t.Fatalf("%q not found in base tx", tc.from)
				}
				in = strings.Replace(raw, tc.from, tc.to, 1)
			}
			tx, err := decode([]byte(in))
			if tx != nil {
				t.Fatal("tx returned with an error")
			}
			expectErr(t, err, tc.want)
		})
	}
	// The deep-nesting case is rejected as such, not as something else.
	_, err := decode([]byte(raw[:len(raw)-1] + `,"x":[[[[[[[[1]]]]]]]]}`))
	if err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Fatalf("deep nesting: %v", err)
	}
	_, err = decode([]byte(strings.Replace(raw, `"nonce":7,`, `"nonce":7,"nonce":7,`, 1)))
	if err == nil || !strings.Contains(err.Error(), "duplicate key") {
		t.Fatalf("duplicate key: %v", err)
	}
}

func indent(t *testing.T, raw string) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, []byte(raw), "", "  "); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// payloadCase is a payload and the error DecodeTx must give for it.
type payloadCase struct {
	name string
	p    ledger.Payload
	want *ledger.Error
}

func runPayloadCases(t *testing.T, cases []payloadCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := ledger.NewBody(testChainID, agCulture, cultAdmin.pub, 1, 10, tc.p)
			if err != nil {
				t.Fatal(err)
			}
			_, err = decode(sign(t, b, cultAdmin))
			expectErr(t, err, tc.want)
		})
	}
}

func with[T any](p *T, mod func(p *T)) *T {
	q := *p
	mod(&q)
	return &q
}

var (
	s64   = strings.Repeat("a", 64)
	s65   = strings.Repeat("a", 65)
	t256  = strings.Repeat("n", 256)
	t257  = strings.Repeat("n", 257)
	t1024 = strings.Repeat("x", 1024)
	t1025 = strings.Repeat("x", 1025)
)

func TestDecodeIDs(t *testing.T) {
	runPayloadCases(t, []payloadCase{
		{"64 chars", award(s64, "1"), nil},
		{"all allowed characters", award("Az09._:-", "1"), nil},
		{"65 chars", award(s65, "1"), ledger.ErrFieldTooLong},
		{"1000 chars", award(strings.Repeat("g", 1000), "1"), ledger.ErrFieldTooLong},
		{"empty", award("", "1"), ledger.ErrInvalidID},
		{"space", award("g 1", "1"), ledger.ErrInvalidID},
		{"slash", award("g/1", "1"), ledger.ErrInvalidID},
		{"seed key", award("!store", "1"), ledger.ErrInvalidID},
		{"non-ASCII", award("gé", "1"), ledger.ErrInvalidID},
		{"payment grant reference", pay("p-1", "g 1", "1"), ledger.ErrInvalidID},
		{"payment grant reference too long", pay("p-1", s65, "1"), ledger.ErrFieldTooLong},
		{"payment without grant", pay("p-1", "", "1"), nil},
		{"reverse id", reverse("p/1"), ledger.ErrInvalidID},
		{"licence id too long", issue(s65, "2026-01-01"), ledger.ErrFieldTooLong},
		{"renew id", renew("", "2026-01-01"), ledger.ErrInvalidID},
		{"suspend id", suspend("l 1"), ledger.ErrInvalidID},
		{"close id", closeGrant(s65), ledger.ErrFieldTooLong},
		{"amend id", amend("", "1"), ledger.ErrInvalidID},
	})
}

func TestDecodeText(t *testing.T) {
	runPayloadCases(t, []payloadCase{
		{"purpose 1024 bytes", with(award("g", "1"), func(p *ledger.GrantAward) { p.Purpose = t1024 }), nil},
		{"purpose 1025 bytes", with(award("g", "1"), func(p *ledger.GrantAward) { p.Purpose = t1025 }), ledger.ErrFieldTooLong},
		{"purpose 513 two-byte runes", with(award("g", "1"), func(p *ledger.GrantAward) { p.Purpose = strings.Repeat("é", 513) }), ledger.ErrFieldTooLong},
		{"purpose empty", with(award("g", "1"), func(p *ledger.GrantAward) { p.Purpose = "" }), ledger.ErrInvalidField},
		{"purpose leading space", with(award("g", "1"), func(p *ledger.GrantAward) { p.Purpose = " Touring" }), ledger.ErrInvalidField},
		{"purpose trailing space", with(award("g", "1"), func(p *ledger.GrantAward) { p.Purpose = "Touring " }), ledger.ErrInvalidField},
		{"purpose trailing newline", with(award("g", "1"), func(p *ledger.GrantAward) { p.Purpose = "Touring\n" }), ledger.ErrInvalidField},
		{"purpose control character", with(award("g", "1"), func(p *ledger.GrantAward) { p.Purpose = "Tour\x01ing" }), ledger.ErrInvalidField},
		{"purpose C1 control character", with(award("g", "1"), func(p *ledger.GrantAward) { p.Purpose = "Tour\u0085ing" }), ledger.ErrInvalidField},
		{"purpose paragraph separator", with(award("g", "1"), func(p *ledger.GrantAward) { p.Purpose = "Tour\u2029ing" }), ledger.ErrInvalidField},
		{"purpose inner spaces", with(award("g", "1"), func(p *ledger.GrantAward) { p.Purpose = "Touring   theatre" }), nil},
		{"programme 256 bytes", with(award("g", "1"), func(p *ledger.GrantAward) { p.Programme = t256 }), nil},
		{"programme 257 bytes", with(award("g", "1"), func(p *ledger.GrantAward) { p.Programme = t257 }), ledger.ErrFieldTooLong},
		{"programme empty", with(award("g", "1"), func(p *ledger.GrantAward) { p.Programme = "" }), ledger.ErrInvalidField},
		{"recipient name empty", with(award("g", "1"), func(p *ledger.GrantAward) { p.Recipient.Name = "" }), ledger.ErrInvalidField},
		{"recipient name 257 bytes", with(award("g", "1"), func(p *ledger.GrantAward) { p.Recipient.Name = t257 }), ledger.ErrFieldTooLong},
		{"recipient scheme 33 bytes", with(award("g", "1"), func(p *ledger.GrantAward) { p.Recipient.Scheme = strings.Repeat("s", 33) }), ledger.ErrFieldTooLong},
		{"recipient scheme empty", with(award("g", "1"), func(p *ledger.GrantAward) { p.Recipient.Scheme = "" }), ledger.ErrInvalidField},
		{"recipient id 128 bytes", with(award("g", "1"), func(p *ledger.GrantAward) { p.Recipient.ID = strings.Repeat("9", 128) }), nil},
		{"recipient id 129 bytes", with(award("g", "1"), func(p *ledger.GrantAward) { p.Recipient.ID = strings.Repeat("9", 129) }), ledger.ErrFieldTooLong},
		{"recipient id empty", with(award("g", "1"), func(p *ledger.GrantAward) { p.Recipient.ID = "" }), ledger.ErrInvalidField},
		{"payee id trailing tab", with(pay("p", "", "1"), func(p *ledger.PaymentRecord) { p.Payee.ID = "123\t" }), ledger.ErrInvalidField},
		{"payment purpose 1025", with(pay("p", "", "1"), func(p *ledger.PaymentRecord) { p.Purpose = t1025 }), ledger.ErrFieldTooLong},
		{"payment purpose empty", with(pay("p", "", "1"), func(p *ledger.PaymentRecord) { p.Purpose = "" }), ledger.ErrInvalidField},
		{"amend reason empty", with(amend("g", "1"), func(p *ledger.GrantAmend) { p.Reason = "" }), ledger.ErrInvalidField},
		{"amend reason 1025", with(amend("g", "1"), func(p *ledger.GrantAmend) { p.Reason = t1025 }), ledger.ErrFieldTooLong},
		{"close reason control", with(closeGrant("g"), func(p *ledger.GrantClose) { p.Reason = "done\x00" }), ledger.ErrInvalidField},
		{"revoke reason empty", with(revokeGrant("g"), func(p *ledger.GrantRevoke) { p.Reason = "" }), ledger.ErrInvalidField},
		{"licence type 257", with(issue("l", "2026-01-01"), func(p *ledger.LicenceIssue) { p.LicenceType = t257 }), ledger.ErrFieldTooLong},
		{"licence scope empty", with(issue("l", "2026-01-01"), func(p *ledger.LicenceIssue) { p.Scope = "" }), ledger.ErrInvalidField},
		{"licence holder name control", with(issue("l", "2026-01-01"), func(p *ledger.LicenceIssue) { p.Holder.Name = "Caf\x1b" }), ledger.ErrInvalidField},
		{"suspend reason 1025", with(suspend("l"), func(p *ledger.LicenceSuspend) { p.Reason = t1025 }), ledger.ErrFieldTooLong},
		{"reinstate reason empty", with(reinstate("l"), func(p *ledger.LicenceReinstate) { p.Reason = "" }), ledger.ErrInvalidField},
		{"licence revoke reason leading space", with(revokeLicence("l"), func(p *ledger.LicenceRevoke) { p.Reason = " x" }), ledger.ErrInvalidField},
		{"reverse reason empty", with(reverse("p"), func(p *ledger.PaymentReverse) { p.Reason = "" }), ledger.ErrInvalidField},
		{"officer name 257", with(addOfficer(newcomer, ledger.RoleAdmin), func(p *ledger.OfficerAdd) { p.Name = t257 }), ledger.ErrFieldTooLong},
	})
}

// TestDecodeTextNonASCII: the leading/trailing space rule must look at whole
// characters, not bytes: text ending in "à" (C3 A0) or "х" (D1 85) is not
// space-terminated, while a no-break space or ideographic space is.
func TestDecodeTextNonASCII(t *testing.T) {
	runPayloadCases(t, []payloadCase{
		{"ends in à", with(award("g", "1"), func(p *ledger.GrantAward) { p.Purpose = "Restauro del teatro della città" }), nil},
		{"ends in Cyrillic х", with(award("g", "1"), func(p *ledger.GrantAward) { p.Purpose = "Поддержка малых" }), nil},
		{"recipient ends in Å", with(award("g", "1"), func(p *ledger.GrantAward) { p.Recipient.Name = "Teater Å" }), nil},
		{"starts with É", with(award("g", "1"), func(p *ledger.GrantAward) { p.Purpose = "École de musique" }), nil},
		{"leading no-break space", with(award("g", "1"), func(p *ledger.GrantAward) { p.Purpose = "\u00a0Touring" }), ledger.ErrInvalidField},
		{"trailing no-break space", with(award("g", "1"), func(p *ledger.GrantAward) { p.Purpose = "Touring\u00a0" }), ledger.ErrInvalidField},
		{"leading ideographic space", with(award("g", "1"), func(p *ledger.GrantAward) { p.Purpose = "\u3000Touring" }), ledger.ErrInvalidField},
		{"trailing ideographic space", with(award("g", "1"), func(p *ledger.GrantAward) { p.Purpose = "Touring\u3000" }), ledger.ErrInvalidField},
		{"trailing em space in payee", with(pay("p", "", "1"), func(p *ledger.PaymentRecord) { p.Payee.Name = "Acme\u2003" }), ledger.ErrInvalidField},
	})
}

func TestDecodeAmounts(t *testing.T) {
	cases := []struct {
		amount string
		want   *ledger.Error
	}{
		{"1", nil},
		{"1000", nil},
		{"9223372036854775807", nil},
		{"0", ledger.ErrInvalidAmount},
		{"-5", ledger.ErrInvalidAmount},
		{"-0", ledger.ErrInvalidAmount},
		{"007", ledger.ErrInvalidAmount},
		{"00", ledger.ErrInvalidAmount},
		{"1.5", ledger.ErrInvalidAmount},
		{"1.0", ledger.ErrInvalidAmount},
		{"", ledger.ErrInvalidAmount},
		{"+5", ledger.ErrInvalidAmount},
		{" 5", ledger.ErrInvalidAmount},
		{"5 ", ledger.ErrInvalidAmount},
		{"1e3", ledger.ErrInvalidAmount},
		{"0x10", ledger.ErrInvalidAmount},
		{"1_000", ledger.ErrInvalidAmount},
		{"1,000", ledger.ErrInvalidAmount},
		{"١٢", ledger.ErrInvalidAmount},
		{"NaN", ledger.ErrInvalidAmount},
		{"9223372036854775808", ledger.ErrAmountOverflow},
		{"18446744073709551616", ledger.ErrAmountOverflow},
		{"99999999999999999999", ledger.ErrAmountOverflow},
		{"999999999999999999999", ledger.ErrAmountOverflow},
		{strings.Repeat("9", 500), ledger.ErrAmountOverflow},
		// Longer than any int64, but not a number at all: invalid, not overflow.
		{"abcdefghijklmnopqrstuvwxyz", ledger.ErrInvalidAmount},
		{"0000000000000000000000001", ledger.ErrInvalidAmount},
		{"1.000000000000000000000", ledger.ErrInvalidAmount},
		// Negative amounts are invalid whatever their size.
		{"-9223372036854775808", ledger.ErrInvalidAmount},
		{"-9223372036854775809", ledger.ErrInvalidAmount},
		{"-99999999999999999999999", ledger.ErrInvalidAmount},
	}
	var pcs []payloadCase
	for _, tc := range cases {
		pcs = append(pcs,
			payloadCase{"award " + tc.amount, award("g", tc.amount), tc.want},
			payloadCase{"pay " + tc.amount, pay("p", "", tc.amount), tc.want},
			payloadCase{"amend " + tc.amount, amend("g", tc.amount), tc.want},
		)
	}
	runPayloadCases(t, pcs)
}

func TestDecodeCurrencies(t *testing.T) {
	var pcs []payloadCase
	for _, cur := range []string{"EUR", "JPY", "KWD", "CHF", "XOF"} {
		pcs = append(pcs, payloadCase{"award " + cur, awardIn("g", "1", cur), nil})
	}
	for _, cur := range []string{"", "eur", "Eur", "EURO", "EU", "€", "XXX", "XAU", "XTS", "HRK", " EUR", "ABC"} {
		pcs = append(pcs,
			payloadCase{"award " + cur, awardIn("g", "1", cur), ledger.ErrUnknownCurrency},
			payloadCase{"pay " + cur, with(pay("p", "", "1"), func(p *ledger.PaymentRecord) { p.Currency = cur }), ledger.ErrUnknownCurrency},
		)
	}
	runPayloadCases(t, pcs)
}

func TestDecodeDates(t *testing.T) {
	var pcs []payloadCase
	good := []string{"2024-02-29", "2025-12-31", "2000-01-01"}
	bad := []string{"2024-02-30", "2023-02-29", "2025-13-01", "2025-00-10", "2025-01-00", "2025-04-31", "2024-2-3", "24-02-03",
		"2024-02-03T00:00:00Z", "2024/02/03", " 2024-02-03", "2024-02-03 ", "", "tomorrow", "2024-02-3"}
	for _, d := range good {
		pcs = append(pcs,
			payloadCase{"decision " + d, with(award("g", "1"), func(p *ledger.GrantAward) { p.DecisionDate, p.PeriodStart, p.PeriodEnd = d, d, "2030-12-31" }), nil},
			payloadCase{"payment " + d, with(pay("p", "", "1"), func(p *ledger.PaymentRecord) { p.Date = d }), nil},
		)
	}
	for _, d := range bad {
		pcs = append(pcs,
			payloadCase{"decision " + d, with(award("g", "1"), func(p *ledger.GrantAward) { p.DecisionDate = d }), ledger.ErrInvalidDate},
			payloadCase{"period start " + d, with(award("g", "1"), func(p *ledger.GrantAward) { p.PeriodStart = d }), ledger.ErrInvalidDate},
			payloadCase{"period end " + d, with(award("g", "1"), func(p *ledger.GrantAward) { p.PeriodEnd = d }), ledger.ErrInvalidDate},
			payloadCase{"payment " + d, with(pay("p", "", "1"), func(p *ledger.PaymentRecord) { p.Date = d }), ledger.ErrInvalidDate},
			payloadCase{"amend end " + d, with(amend("g", "1"), func(p *ledger.GrantAmend) { p.PeriodEnd = d }), ledger.ErrInvalidDate},
			payloadCase{"valid from " + d, with(issue("l", "2026-01-01"), func(p *ledger.LicenceIssue) { p.ValidFrom = d }), ledger.ErrInvalidDate},
			payloadCase{"valid until " + d, issue("l", d), ledger.ErrInvalidDate},
			payloadCase{"licence decision " + d, with(issue("l", "2026-01-01"), func(p *ledger.LicenceIssue) { p.DecisionDate = d }), ledger.ErrInvalidDate},
			payloadCase{"renew " + d, renew("l", d), ledger.ErrInvalidDate},
		)
	}
	pcs = append(pcs,
		payloadCase{"grant period end before start", with(award("g", "1"), func(p *ledger.GrantAward) { p.PeriodStart, p.PeriodEnd = "2025-06-01", "2025-05-31" }), ledger.ErrInvalidPeriod},
		payloadCase{"grant period of one day", with(award("g", "1"), func(p *ledger.GrantAward) { p.PeriodStart, p.PeriodEnd = "2025-06-01", "2025-06-01" }), nil},
		payloadCase{"grant period across years", with(award("g", "1"), func(p *ledger.GrantAward) { p.PeriodStart, p.PeriodEnd = "2025-12-31", "2026-01-01" }), nil},
		payloadCase{"licence validity before start", with(issue("l", "2026-01-01"), func(p *ledger.LicenceIssue) { p.ValidFrom = "2026-01-02" }), ledger.ErrInvalidPeriod},
		payloadCase{"licence validity of one day", with(issue("l", "2026-01-01"), func(p *ledger.LicenceIssue) { p.ValidFrom = "2026-01-01" }), nil},
	)
	// Plausibility: a decision at most 90 days into its period, never after
	// its end (the award's period is 2025-01-01 to 2025-12-31, the licence's
	// validity from 2025-03-01).
	pcs = append(pcs,
		payloadCase{"decision before the period", with(award("g", "1"), func(p *ledger.GrantAward) { p.DecisionDate = "2020-06-01" }), nil},
		payloadCase{"decision 90 days into the period", with(award("g", "1"), func(p *ledger.GrantAward) { p.DecisionDate = "2025-04-01" }), nil},
		payloadCase{"decision 91 days into the period", with(award("g", "1"), func(p *ledger.GrantAward) { p.DecisionDate = "2025-04-02" }), ledger.ErrImplausibleDate},
		payloadCase{"decision after the period", with(award("g", "1"), func(p *ledger.GrantAward) {
			p.PeriodStart, p.PeriodEnd, p.DecisionDate = "2025-01-01", "2025-01-31", "2025-02-01"
		}), ledger.ErrImplausibleDate},
		payloadCase{"licence decided 90 days into its validity", with(issue("l", "2027-01-01"), func(p *ledger.LicenceIssue) { p.DecisionDate = "2025-05-30" }), nil},
		payloadCase{"licence decided 91 days into its validity", with(issue("l", "2027-01-01"), func(p *ledger.LicenceIssue) { p.DecisionDate = "2025-05-31" }), ledger.ErrImplausibleDate},
		payloadCase{"licence decided after its validity", with(issue("l", "2025-03-10"), func(p *ledger.LicenceIssue) { p.DecisionDate = "2025-03-11" }), ledger.ErrImplausibleDate},
	)
	runPayloadCases(t, pcs)
}

func TestDecodeHashes(t *testing.T) {
	var pcs []payloadCase
	bad := map[string]string{
		"empty":      "",
		"63 digits":  docHash[:63],
		"65 digits":  docHash + "0",
		"upper case": strings.ToUpper(docHash),
		"non-hex":    "g" + docHash[1:],
		"0x prefix":  "0x" + docHash[2:],
		"base64":     base64.StdEncoding.EncodeToString(make([]byte, 48)),
	}
	for _, name := range sortedKeys(bad) {
		h := bad[name]
		pcs = append(pcs,
			payloadCase{"award " + name, with(award("g", "1"), func(p *ledger.GrantAward) { p.DocumentHash = h }), ledger.ErrInvalidHash},
			payloadCase{"amend " + name, with(amend("g", "1"), func(p *ledger.GrantAmend) { p.DocumentHash = h }), ledger.ErrInvalidHash},
			payloadCase{"close " + name, with(closeGrant("g"), func(p *ledger.GrantClose) { p.DocumentHash = h }), ledger.ErrInvalidHash},
			payloadCase{"revoke " + name, with(revokeGrant("g"), func(p *ledger.GrantRevoke) { p.DocumentHash = h }), ledger.ErrInvalidHash},
			payloadCase{"issue " + name, with(issue("l", "2026-01-01"), func(p *ledger.LicenceIssue) { p.ConditionsHash = h }), ledger.ErrInvalidHash},
			payloadCase{"renew " + name, with(renew("l", "2026-01-01"), func(p *ledger.LicenceRenew) { p.DocumentHash = h }), ledger.ErrInvalidHash},
			payloadCase{"suspend " + name, with(suspend("l"), func(p *ledger.LicenceSuspend) { p.DocumentHash = h }), ledger.ErrInvalidHash},
			payloadCase{"reinstate " + name, with(reinstate("l"), func(p *ledger.LicenceReinstate) { p.DocumentHash = h }), ledger.ErrInvalidHash},
			payloadCase{"licence revoke " + name, with(revokeLicence("l"), func(p *ledger.LicenceRevoke) { p.DocumentHash = h }), ledger.ErrInvalidHash},
		)
	}
	pcs = append(pcs, payloadCase{"all zeros", with(award("g", "1"), func(p *ledger.GrantAward) { p.DocumentHash = strings.Repeat("0", 64) }), nil})
	runPayloadCases(t, pcs)
}

func TestDecodeOfficerPayloads(t *testing.T) {
	runPayloadCases(t, []payloadCase{
		{"add ok", addOfficer(newcomer, ledger.RoleAdmin, ledger.RoleFinance, ledger.RoleGrants, ledger.RoleLicensing), nil},
		{"add no key", with(addOfficer(newcomer, ledger.RoleAdmin), func(p *ledger.OfficerAdd) { p.Key = nil }), ledger.ErrInvalidKey},
		{"add 31-byte key", with(addOfficer(newcomer, ledger.RoleAdmin), func(p *ledger.OfficerAdd) { p.Key = p.Key[:31] }), ledger.ErrInvalidKey},
		{"add 33-byte key", with(addOfficer(newcomer, ledger.RoleAdmin), func(p *ledger.OfficerAdd) { p.Key = append(slices.Clone(p.Key), 0) }), ledger.ErrInvalidKey},
		{"add empty name", with(addOfficer(newcomer, ledger.RoleAdmin), func(p *ledger.OfficerAdd) { p.Name = "" }), ledger.ErrInvalidField},
		{"add no roles", addOfficer(newcomer), ledger.ErrInvalidRole},
		{"add unknown role", addOfficer(newcomer, "superuser"), ledger.ErrInvalidRole},
		{"add role in upper case", addOfficer(newcomer, "Admin"), ledger.ErrInvalidRole},
		{"add unsorted roles", addOfficer(newcomer, ledger.RoleLicensing, ledger.RoleAdmin), ledger.ErrInvalidRole},
		{"add duplicate roles", addOfficer(newcomer, ledger.RoleAdmin, ledger.RoleAdmin), ledger.ErrInvalidRole},
		{"remove ok", removeOfficer(cultFin1), nil},
		{"remove short key", &ledger.OfficerRemove{Key: []byte{1, 2, 3}}, ledger.ErrInvalidKey},
		{"set roles ok", setRoles(cultFin1, ledger.RoleFinance), nil},
		{"set roles no key", &ledger.OfficerSetRoles{Roles: []ledger.Role{ledger.RoleAdmin}}, ledger.ErrInvalidKey},
		{"set roles none", setRoles(cultFin1), ledger.ErrInvalidRole},
		{"set roles empty role", setRoles(cultFin1, ""), ledger.ErrInvalidRole},
		{"set roles unsorted", setRoles(cultFin1, ledger.RoleGrants, ledger.RoleFinance), ledger.ErrInvalidRole},
	})
}

func TestDecodeBody(t *testing.T) {
	type bodyCase struct {
		name string
		mod  func(b *ledger.Body)
		keys []*officer
		want *ledger.Error
	}
	cases := []bodyCase{
		{"ok", func(*ledger.Body) {}, nil, nil},
		{"empty agency", func(b *ledger.Body) { b.Agency = "" }, nil, ledger.ErrInvalidID},
		{"agency with space", func(b *ledger.Body) { b.Agency = "ministry culture" }, nil, ledger.ErrInvalidID},
		{"agency 65 chars", func(b *ledger.Body) { b.Agency = s65 }, nil, ledger.ErrFieldTooLong},
		{"empty chain id", func(b *ledger.Body) { b.ChainID = "" }, nil, ledger.ErrInvalidField},
		{"chain id 65 bytes", func(b *ledger.Body) { b.ChainID = s65 }, nil, ledger.ErrFieldTooLong},
		{"chain id 64 bytes", func(b *ledger.Body) { b.ChainID = s64 }, nil, nil},
		{"chain id with control character", func(b *ledger.Body) { b.ChainID = "civic\x01" }, nil, ledger.ErrInvalidField},
		{"no signer", func(b *ledger.Body) { b.Signer = nil }, nil, ledger.ErrInvalidKey},
		{"31-byte signer", func(b *ledger.Body) { b.Signer = b.Signer[:31] }, nil, ledger.ErrInvalidKey},
		{"zero expires_at", func(b *ledger.Body) { b.ExpiresAt = 0 }, nil, ledger.ErrInvalidField},
		{"negative expires_at", func(b *ledger.Body) { b.ExpiresAt = -1 }, nil, ledger.ErrInvalidField},
		{"nonce zero", func(b *ledger.Body) { b.Nonce = 0 }, nil, nil},
		{"nonce max", func(b *ledger.Body) { b.Nonce = 1<<64 - 1 }, nil, nil},
		{"unknown type", func(b *ledger.Body) { b.Type = "grant/delete" }, nil, ledger.ErrUnknownTxType},
		{"empty type", func(b *ledger.Body) { b.Type = "" }, nil, ledger.ErrUnknownTxType},
		{"type in upper case", func(b *ledger.Body) { b.Type = "GRANT/AWARD" }, nil, ledger.ErrUnknownTxType},
		{"type with trailing space", func(b *ledger.Body) { b.Type = "grant/award " }, nil, ledger.ErrUnknownTxType},
		{"type of another payload", func(b *ledger.Body) { b.Type = ledger.TypeGrantClose }, nil, ledger.ErrUnknownField},
		{"null payload", func(b *ledger.Body) { b.Payload = json.RawMessage("null") }, nil, ledger.ErrNonCanonical},
		{"empty payload", func(b *ledger.Body) { b.Payload = json.RawMessage("{}") }, nil, ledger.ErrNonCanonical},
		{"signer mismatch", func(*ledger.Body) {}, []*officer{cultFin2}, ledger.ErrSignerMismatch},
		{"signer second", func(*ledger.Body) {}, []*officer{cultFin2, cultAdmin}, ledger.ErrSignerMismatch},
		{"duplicate signer", func(*ledger.Body) {}, []*officer{cultAdmin, cultFin1, cultAdmin}, ledger.ErrDuplicateSigner},
		{"four signers", func(*ledger.Body) {}, []*officer{cultAdmin, cultFin1, cultFin2, cultGrants}, nil},
		{"five signers", func(*ledger.Body) {}, []*officer{cultAdmin, cultFin1, cultFin2, cultGrants, cultLic}, ledger.ErrInvalidField},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := ledger.NewBody(testChainID, agCulture, cultAdmin.pub, 1, 10, award("g-1", "1"))
			if err != nil {
				t.Fatal(err)
			}
			tc.mod(&b)
			keys := tc.keys
			if keys == nil {
				keys = []*officer{cultAdmin}
			}
			_, err = decode(sign(t, b, keys...))
			expectErr(t, err, tc.want)
		})
	}
}

// TestRoundTrip: the output of SignTx for every transaction type decodes,
// verifies, and re-encodes byte for byte.
func TestRoundTrip(t *testing.T) {
	seeds := seedTxs(t)
	if got, want := sortedKeys(seeds), ledger.TxTypes(); !slices.Equal(got, want) {
		t.Fatalf("seed types %v, ledger types %v", got, want)
	}
	for _, typ := range sortedKeys(seeds) {
		t.Run(typ, func(t *testing.T) {
			raw := seeds[typ]
			tx, err := decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			if err := tx.VerifySignatures(); err != nil {
				t.Fatal(err)
			}
			if tx.Body.Type != typ || tx.Payload.Type() != typ {
				t.Fatalf("type %s / %s", tx.Body.Type, tx.Payload.Type())
			}
			env, err := ledger.Canonical(ledger.Envelope{Body: tx.BodyBytes, Signatures: tx.Signatures})
			if err != nil || !bytes.Equal(env, raw) {
				t.Fatalf("envelope re-encodes as\n%s\nnot\n%s (%v)", env, raw, err)
			}
			body, err := ledger.Canonical(tx.Body)
			if err != nil || !bytes.Equal(body, tx.BodyBytes) {
				t.Fatalf("body re-encodes as %s (%v)", body, err)
			}
			payload, err := ledger.Canonical(tx.Payload)
			if err != nil || !bytes.Equal(payload, tx.Body.Payload) {
				t.Fatalf("payload re-encodes as %s (%v)", payload, err)
			}
			if tx.Hash != sha256.Sum256(raw) {
				t.Fatal("hash is not sha256 of the raw bytes")
			}
			// Decoding the re-encoded form gives the same tx.
			tx2, err := decode(env)
			if err != nil || tx2.Hash != tx.Hash {
				t.Fatalf("second decode: %v", err)
			}
			// The stored payload round-trips through json too.
			p2 := reflectNew(tx.Payload)
			if err := json.Unmarshal(tx.Body.Payload, p2); err != nil {
				t.Fatal(err)
			}
			if again, _ := ledger.Canonical(p2); !bytes.Equal(again, tx.Body.Payload) {
				t.Fatalf("payload does not round-trip: %s", again)
			}
		})
	}
}

func reflectNew(p ledger.Payload) ledger.Payload {
	switch p.Type() {
	case ledger.TypeGrantAward:
		return new(ledger.GrantAward)
	case ledger.TypeGrantAmend:
		return new(ledger.GrantAmend)
	case ledger.TypeGrantClose:
		return new(ledger.GrantClose)
	case ledger.TypeGrantRevoke:
		return new(ledger.GrantRevoke)
	case ledger.TypeLicenceIssue:
		return new(ledger.LicenceIssue)
	case ledger.TypeLicenceRenew:
		return new(ledger.LicenceRenew)
	case ledger.TypeLicenceSuspend:
		return new(ledger.LicenceSuspend)
	case ledger.TypeLicenceReinstate:
		return new(ledger.LicenceReinstate)
	case ledger.TypeLicenceRevoke:
		return new(ledger.LicenceRevoke)
	case ledger.TypePaymentRecord:
		return new(ledger.PaymentRecord)
	case ledger.TypePaymentReverse:
		return new(ledger.PaymentReverse)
	case ledger.TypeOfficerAdd:
		return new(ledger.OfficerAdd)
	case ledger.TypeOfficerRemove:
		return new(ledger.OfficerRemove)
	case ledger.TypeOfficerSetRoles:
		return new(ledger.OfficerSetRoles)
	case ledger.TypeGovPropose:
		return new(ledger.GovPropose)
	case ledger.TypeGovVote:
		return new(ledger.GovVote)
	}
	panic("unknown type " + p.Type())
}

func TestRequiredRoles(t *testing.T) {
	want := map[string]ledger.Role{
		ledger.TypeGrantAward: ledger.RoleGrants, ledger.TypeGrantAmend: ledger.RoleGrants,
		ledger.TypeGrantClose: ledger.RoleGrants, ledger.TypeGrantRevoke: ledger.RoleGrants,
		ledger.TypeLicenceIssue: ledger.RoleLicensing, ledger.TypeLicenceRenew: ledger.RoleLicensing,
		ledger.TypeLicenceSuspend: ledger.RoleLicensing, ledger.TypeLicenceReinstate: ledger.RoleLicensing,
		ledger.TypeLicenceRevoke: ledger.RoleLicensing,
		ledger.TypePaymentRecord: ledger.RoleFinance, ledger.TypePaymentReverse: ledger.RoleFinance,
		ledger.TypeOfficerAdd: ledger.RoleAdmin, ledger.TypeOfficerRemove: ledger.RoleAdmin, ledger.TypeOfficerSetRoles: ledger.RoleAdmin,
		ledger.TypeGovPropose: ledger.RoleAdmin, ledger.TypeGovVote: ledger.RoleAdmin,
	}
	types := ledger.TxTypes()
	if len(types) != len(want) || !slices.IsSorted(types) {
		t.Fatalf("TxTypes() = %v", types)
	}
	for _, typ := range types {
		r, ok := ledger.RequiredRole(typ)
		if !ok || r != want[typ] {
			t.Errorf("RequiredRole(%s) = %s, %v; want %s", typ, r, ok, want[typ])
		}
	}
	if _, ok := ledger.RequiredRole("grant/delete"); ok {
		t.Error("RequiredRole of an unknown type")
	}
}

// ---- error table ----

// TestErrorCodes pins every code: codes are hashed into LastResultsHash, so
// renumbering one is a consensus change and must fail this test.
func TestErrorCodes(t *testing.T) {
	pinned := []struct {
		err  *ledger.Error
		code ledger.Code
	}{
		{ledger.ErrTxTooLarge, 2}, {ledger.ErrMalformed, 3}, {ledger.ErrUnknownField, 4}, {ledger.ErrNonCanonical, 5},
		{ledger.ErrInvalidField, 6}, {ledger.ErrFieldTooLong, 7}, {ledger.ErrUnknownTxType, 8}, {ledger.ErrWrongChainID, 9},
		{ledger.ErrNoSignature, 10}, {ledger.ErrBadSignature, 11}, {ledger.ErrDuplicateSigner, 12}, {ledger.ErrNonceReplayed, 13},
		{ledger.ErrTxExpired, 14}, {ledger.ErrExpiryTooFar, 15}, {ledger.ErrUnknownAgency, 16}, {ledger.ErrNotOfficer, 17},
		{ledger.ErrMissingRole, 18}, {ledger.ErrWrongAgency, 19}, {ledger.ErrNotFound, 20}, {ledger.ErrAlreadyExists, 21},
		{ledger.ErrInvalidAmount, 22}, {ledger.ErrAmountOverflow, 23}, {ledger.ErrUnknownCurrency, 24}, {ledger.ErrCurrencyMismatch, 25},
		{ledger.ErrOverpayment, 26}, {ledger.ErrIllegalTransition, 27}, {ledger.ErrPayeeMismatch, 28}, {ledger.ErrGrantNotPayable, 29},
		{ledger.ErrFourEyes, 30}, {ledger.ErrAmendBelowDisbursed, 31}, {ledger.ErrInvalidDate, 32}, {ledger.ErrInvalidPeriod, 33},
		{ledger.ErrOfficerExists, 34}, {ledger.ErrOfficerNotFound, 35}, {ledger.ErrLastAdmin, 36}, {ledger.ErrInvalidRole, 37},
		{ledger.ErrInvalidID, 38}, {ledger.ErrInvalidHash, 39}, {ledger.ErrInvalidKey, 40}, {ledger.ErrSignerMismatch, 41},
	}
	isPinned := map[*ledger.Error]bool{}
	for _, p := range pinned {
		isPinned[p.err] = true
		if p.err.Code != p.code {
			t.Errorf("%q has code %d, pinned %d", p.err.Msg, p.err.Code, p.code)
		}
		if ledger.CodeOf(p.err) != p.code {
			t.Errorf("CodeOf(%q) = %d", p.err.Msg, ledger.CodeOf(p.err))
		}
	}
	if ledger.CodeOK != 0 || ledger.CodeInternal != 1 {
		t.Fatalf("CodeOK %d, CodeInternal %d", ledger.CodeOK, ledger.CodeInternal)
	}

	all := ledger.Errors()
	byCode := map[ledger.Code]*ledger.Error{}
	msgs := map[string]bool{}
	for i, e := range all {
		if e.Code <= ledger.CodeInternal {
			t.Errorf("%q uses reserved code %d", e.Msg, e.Code)
		}
		if prev := byCode[e.Code]; prev != nil {
			t.Errorf("code %d used by %q and %q", e.Code, prev.Msg, e.Msg)
		}
		byCode[e.Code] = e
		if e.Msg == "" || msgs[e.Msg] {
			t.Errorf("empty or duplicate message %q", e.Msg)
		}
		msgs[e.Msg] = true
		if i > 0 && all[i-1].Code >= e.Code {
			t.Errorf("Errors() not sorted by code at %d", e.Code)
		}
	}
	for _, p := range pinned {
		if byCode[p.code] != p.err {
			t.Errorf("Errors() lacks %q at code %d", p.err.Msg, p.code)
		}
	}
	// The table is append-only: anything not pinned here is newer.
	for _, e := range all {
		if e.Code <= 41 && !isPinned[e] {
			t.Errorf("unpinned error %q reuses old code %d", e.Msg, e.Code)
		}
	}
}

func TestCodeOf(t *testing.T) {
	if ledger.CodeOf(nil) != ledger.CodeOK {
		t.Error("CodeOf(nil)")
	}
	if ledger.CodeOf(errors.New("disk on fire")) != ledger.CodeInternal {
		t.Error("CodeOf(plain error)")
	}
	if ledger.CodeOf(ledger.ErrStorage) != ledger.CodeInternal {
		t.Error("CodeOf(ErrStorage)")
	}
	wrapped := fmt.Errorf("grant g-1: %w", fmt.Errorf("payload.id: %w", ledger.ErrNotFound))
	if ledger.CodeOf(wrapped) != ledger.ErrNotFound.Code || !errors.Is(wrapped, ledger.ErrNotFound) {
		t.Error("CodeOf(wrapped)")
	}
	if errors.Is(wrapped, ledger.ErrAlreadyExists) {
		t.Error("sentinels compare by identity")
	}
}

// ---- misc types ----

func TestAmountJSON(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ledger.Amount
		ok   bool
	}{
		{`"0"`, 0, true}, {`"125050"`, 125050, true}, {`"-5"`, -5, true}, {`"9223372036854775807"`, 1<<63 - 1, true},
		{`"-0"`, 0, false}, {`"007"`, 0, false}, {`5`, 0, false}, {`"1.5"`, 0, false}, {`""`, 0, false},
		{`"9223372036854775808"`, 0, false},
	} {
		var a ledger.Amount
		err := json.Unmarshal([]byte(tc.in), &a)
		if (err == nil) != tc.ok || (tc.ok && a != tc.want) {
			t.Errorf("Unmarshal(%s) = %d, %v", tc.in, a, err)
		}
		if tc.ok {
			out, _ := json.Marshal(a)
			if string(out) != tc.in {
				t.Errorf("Marshal(%d) = %s", a, out)
			}
		}
	}
}

func TestValidIDAndPrefixEnd(t *testing.T) {
	for s, want := range map[string]bool{"a": true, s64: true, s65: false, "": false, "a b": false, "a/b": false, "Az09._:-": true, "!": false, "ä": false} {
		if ledger.ValidID(s) != want {
			t.Errorf("ValidID(%q) != %v", s, want)
		}
	}
	if got := ledger.PrefixEnd([]byte("abc")); string(got) != "abd" {
		t.Errorf("PrefixEnd(abc) = %q", got)
	}
	if got := ledger.PrefixEnd([]byte{'a', 0xff, 0xff}); !bytes.Equal(got, []byte{'b'}) {
		t.Errorf("PrefixEnd(a ff ff) = %q", got)
	}
	if got := ledger.PrefixEnd([]byte{0xff}); got != nil {
		t.Errorf("PrefixEnd(ff) = %q", got)
	}
}

// TestDecodeCodeIgnoresErrorText: the code of a decoding failure is hashed
// into LastResultsHash, so it must come from the ledger's own checks, never
// from the wording of encoding/json's error, which a Go release may change.
// The classifier is given errors worded as a future release might word them.
func TestDecodeCodeIgnoresErrorText(t *testing.T) {
	cases := []struct {
		name string
		data string
		v    any
		err  error
		want *ledger.Error
	}{
		{"unknown key, reworded error", `{"id":"p-1","note":"x"}`, new(ledger.GrantClose),
			errors.New(`json: field "note" not recognised`), ledger.ErrUnknownField},
		{"unknown nested key, reworded error", `{"id":"g-1","recipient":{"name":"A","scheme":"s","id":"1","vat":"x"}}`, new(ledger.GrantAward),
			errors.New("json: decoding stopped"), ledger.ErrUnknownField},
		{"unknown key in a list element", `{"body":{},"signatures":[{"pub_key":"","alg":"x"}]}`, new(ledger.Envelope),
			errors.New("json: something else"), ledger.ErrUnknownField},
		{"unknown key inside params", `{"kind":"params-change","params":{"max_tx_bytes":1,"extra":2}}`, new(ledger.GovPropose),
			errors.New("json: x"), ledger.ErrUnknownField},
		{"no unknown key, error that mentions one", `{"id":"p-1","reason":"x"}`, new(ledger.GrantClose),
			errors.New(`json: unknown field "reason"`), ledger.ErrMalformed},
		{"raw payload not descended", `{"chain_id":"c","payload":{"anything":1}}`, new(ledger.Body),
			errors.New(`json: unknown field "anything"`), ledger.ErrMalformed},
		{"case-folded key is not a field", `{"ID":"p-1"}`, new(ledger.GrantClose),
			errors.New("json: x"), ledger.ErrUnknownField},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := ledger.ClassifyDecodeError("tx", []byte(tc.data), tc.v, tc.err)
			if ledger.CodeOf(err) != tc.want.Code {
				t.Fatalf("code %d (%v), want %d (%v)", ledger.CodeOf(err), err, tc.want.Code, tc.want)
			}
		})
	}
}

// TestUnknownFieldBeforeTypeError: an unknown key is ErrUnknownField even when
// a wrong type comes first in the document (encoding/json reports only its
// first error, whose kind depends on document order).
func TestUnknownFieldBeforeTypeError(t *testing.T) {
	c := newChain(t)
	raw := string(c.tx(cultGrants, closeGrant("g-1")))
	bad := strings.Replace(raw, `"nonce":`, `"nonce":"1","memo":`, 1)
	_, err := ledger.DecodeTx([]byte(bad), 0)
	expectErr(t, err, ledger.ErrUnknownField)
}

// TestTextRejectsFormatChars: bidirectional controls and zero-width or
// otherwise invisible characters make one name look like another; every
// text field refuses them with ErrInvalidField and a log naming the field
// and the code point. Ordinary non-ASCII text still passes.
func TestTextRejectsFormatChars(t *testing.T) {
	for _, r := range []rune{
		0x202A, 0x202B, 0x202C, 0x202D, 0x202E, // embeddings, overrides
		0x2066, 0x2067, 0x2068, 0x2069, // isolates
		0x200E, 0x200F, 0x061C, // marks
		0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, // zero-width
		0x00AD, 0x180E, 0x2064, 0x3164, 0xFE0F, 0xE0001, 0xE0041, // other invisible characters
	} {
		for _, tc := range []struct {
			field string
			p     ledger.Payload
		}{
			{"payload.payee.name", with(pay("p", "", "1"), func(p *ledger.PaymentRecord) { p.Payee.Name = "Acme" + string(r) + " Ltd" })},
			{"payload.purpose", with(award("g", "1"), func(p *ledger.GrantAward) { p.Purpose = "Touring" + string(r) + "theatre" })},
			{"payload.name", with(addOfficer(newcomer, ledger.RoleAdmin), func(p *ledger.OfficerAdd) { p.Name = string(r) + "Eve" })},
		} {
			c := newChain(t)
			raw := c.tx(cultFin1, tc.p)
			_, err := ledger.DecodeTx(raw, 0)
			expectErr(t, err, ledger.ErrInvalidField)
			if msg := err.Error(); !strings.Contains(msg, tc.field) || !strings.Contains(msg, fmt.Sprintf("%U", r)) {
				t.Fatalf("%U in %s: log %q does not name the field and the character", r, tc.field, msg)
			}
		}
	}
	for _, s := range []string{"Ελληνικό Θέατρο", "مسرح المدينة", "תיאטרון", "東京劇場", "Café Müller", "Teatr №5 — «Luna»"} {
		if _, err := ledger.DecodeTx(newChain(t).tx(cultFin1, with(pay("p", "", "1"), func(p *ledger.PaymentRecord) { p.Payee.Name = s })), 0); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
	}
	for _, r := range []rune{'A', 'é', 0x05D0, 0x0627, 0x00A0, 0x2003, 0x1F600} {
		if ledger.IsFormatChar(r) {
			t.Fatalf("%U reported as a format character", r)
		}
	}
}
