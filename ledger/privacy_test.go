package ledger_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/civicledger/civicledger/ledger"
)

var (
	personSalt = bytes.Repeat([]byte{7}, ledger.SaltSize)
	person     = ledger.Identity{Scheme: "GB-NINO", ID: "JG103759A", Name: "Jane Example"}
)

// individual is the on-chain form of a person with commitment c.
func individual(c string) ledger.Party {
	return ledger.Party{Individual: &ledger.Individual{Commitment: c, Label: "Individual recipient", Region: "North West"}}
}

func personCommitment(t testing.TB) string {
	t.Helper()
	c, err := ledger.IndividualCommitment(personSalt, person)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestIndividualCommitment(t *testing.T) {
	got := personCommitment(t)
	h := sha256.New()
	h.Write([]byte("civic-ledger/individual/v1\n"))
	h.Write(personSalt)
	h.Write([]byte(`{"scheme":"GB-NINO","id":"JG103759A","name":"Jane Example"}`))
	if want := hex.EncodeToString(h.Sum(nil)); got != want {
		t.Fatalf("commitment %s, want %s", got, want)
	}
	other := bytes.Repeat([]byte{8}, ledger.SaltSize)
	if c, _ := ledger.IndividualCommitment(other, person); c == got {
		t.Fatal("another salt gives the same commitment")
	}
	renamed := person
	renamed.Name = "Jane Exampel"
	if c, _ := ledger.IndividualCommitment(personSalt, renamed); c == got {
		t.Fatal("another name gives the same commitment")
	}
	if _, err := ledger.IndividualCommitment(personSalt[:31], person); err == nil {
		t.Fatal("a 31-byte salt was accepted")
	}
}

func TestPartyJSON(t *testing.T) {
	org, err := ledger.Canonical(acme)
	if err != nil || string(org) != `{"name":"Acme Theatre Ltd","scheme":"companies-house","id":"01234567"}` {
		t.Fatalf("organisation: %s %v", org, err)
	}
	ind, err := ledger.Canonical(individual(strings.Repeat("a", 64)))
	want := `{"individual":{"commitment":"` + strings.Repeat("a", 64) + `","label":"Individual recipient","region":"North West"}}`
	if err != nil || string(ind) != want {
		t.Fatalf("individual: %s %v", ind, err)
	}
	p := individual("c1")
	if p.Ref() != "individual:c1" || p.DisplayName() != "Individual recipient" || acme.Ref() != "companies-house:01234567" || acme.DisplayName() != acme.Name {
		t.Fatalf("Ref/DisplayName: %q %q", p.Ref(), p.DisplayName())
	}
	if !p.SameEntity(individual("c1")) || p.SameEntity(individual("c2")) || p.SameEntity(acme) || acme.SameEntity(p) {
		t.Fatal("SameEntity of individuals")
	}
	if (ledger.Party{Individual: &ledger.Individual{}}).SameEntity(ledger.Party{}) {
		t.Fatal("an individual is the same entity as an empty organisation")
	}
}

// fieldCase is a payload that ValidateBasic refuses with want, the error
// naming field.
type fieldCase struct {
	name  string
	p     ledger.Payload
	want  *ledger.Error
	field string
}

func runFieldCases(t *testing.T, cases []fieldCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.ValidateBasic()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), tc.field+":") {
				t.Fatalf("error %q does not name field %s", err, tc.field)
			}
			if ledger.CodeOf(err) != tc.want.Code {
				t.Fatalf("code %d, want %d", ledger.CodeOf(err), tc.want.Code)
			}
		})
	}
}

func TestPersonalDataInFreeText(t *testing.T) {
	purpose := func(s string) *ledger.GrantAward {
		return with(award("g", "1"), func(p *ledger.GrantAward) { p.Purpose = s })
	}
	const pd = "payload.purpose"
	runFieldCases(t, []fieldCase{
		{"email", purpose("Contact jane.doe@example.org for details"), ledger.ErrPersonalData, pd},
		{"email with plus and subdomain", purpose("j+grants@mail.council.gov.uk"), ledger.ErrPersonalData, pd},
		{"phone E.164", purpose("Call +441632960961"), ledger.ErrPersonalData, pd},
		{"phone with separators", purpose("Tel. +44 (0)20 7946-0958"), ledger.ErrPersonalData, pd},
		{"US SSN", purpose("Beneficiary 078-05-1120"), ledger.ErrPersonalData, pd},
		{"UK NINO", purpose("Claimant JG103759A"), ledger.ErrPersonalData, pd},
		{"UK NINO spaced lower case", purpose("ni jg 10 37 59 a, paid"), ledger.ErrPersonalData, pd},
		{"IBAN", purpose("Pay to GB82WEST12345698765432"), ledger.ErrPersonalData, pd},
		{"IBAN in groups", purpose("Account DE89 3704 0044 0532 0130 00 please"), ledger.ErrPersonalData, pd},
		{"programme", with(award("g", "1"), func(p *ledger.GrantAward) { p.Programme = "Ask bob@example.com" }), ledger.ErrPersonalData, "payload.programme"},
		{"recipient name", with(award("g", "1"), func(p *ledger.GrantAward) { p.Recipient.Name = "Acme (info@acme.example)" }), ledger.ErrPersonalData, "payload.recipient.name"},
		{"amend reason", with(amend("g", "1"), func(p *ledger.GrantAmend) { p.Reason = "Requested by +33 6 12 34 56 78" }), ledger.ErrPersonalData, "payload.reason"},
		{"close reason", with(closeGrant("g"), func(p *ledger.GrantClose) { p.Reason = "Closed, see 078-05-1120" }), ledger.ErrPersonalData, "payload.reason"},
		{"licence type", with(issue("l", "2026-01-01"), func(p *ledger.LicenceIssue) { p.LicenceType = "Taxi JG103759A" }), ledger.ErrPersonalData, "payload.licence_type"},
		{"licence scope", with(issue("l", "2026-01-01"), func(p *ledger.LicenceIssue) { p.Scope = "x@y.io" }), ledger.ErrPersonalData, "payload.scope"},
		{"suspend reason", with(suspend("l"), func(p *ledger.LicenceSuspend) { p.Reason = "Complaint from a@b.cd" }), ledger.ErrPersonalData, "payload.reason"},
		{"payment purpose", with(pay("p", "", "1"), func(p *ledger.PaymentRecord) { p.Purpose = "Refund to GB82 WEST 1234 5698 7654 32" }), ledger.ErrPersonalData, pd},
		{"reverse reason", with(reverse("p"), func(p *ledger.PaymentReverse) { p.Reason = "Wrong account GB82WEST12345698765432" }), ledger.ErrPersonalData, "payload.reason"},
		// What must pass: text that merely looks alike.
		{"at sign without domain", purpose("Tickets @ 5 EUR each"), nil, ""},
		{"domain without at", purpose("See www.example.org"), nil, ""},
		{"plus with few digits", purpose("Ages 16+ and +3 more"), nil, ""},
		{"date", purpose("Period 2025-01-15 to 2025-12-31"), nil, ""},
		{"phone-like without plus", purpose("Invoice 2024000123456"), nil, ""},
		{"SSN shape inside longer number", purpose("Ref 1078-05-11201"), nil, ""},
		{"NINO shape with bad prefix", purpose("Part DQ123456C"), nil, ""},
		{"NINO shape inside a word", purpose("CodeAB123456C"), nil, ""},
		{"IBAN shape with bad checksum", purpose("Ref GB82WEST12345698765433"), nil, ""},
		{"company name", with(award("g", "1"), func(p *ledger.GrantAward) { p.Recipient.Name = "Acme 24/7 Ltd" }), nil, ""},
	})
}

func TestPersonSchemes(t *testing.T) {
	for _, s := range []string{"GB-NINO", "person", "Person-ID", "passport-FR", "US-SSN", "national-id", "INDIVIDUAL"} {
		if !ledger.PersonScheme(s) {
			t.Errorf("%q is not a person scheme", s)
		}
	}
	for _, s := range []string{"GB-COH", "companies-house", "vat", "JP-CN", "FR-RCS", "business-register", "XI-PB"} {
		if ledger.PersonScheme(s) {
			t.Errorf("%q is a person scheme", s)
		}
	}
	c := strings.Repeat("ab", 32)
	ind := func(mod func(in *ledger.Individual)) ledger.Party {
		p := individual(c)
		in := *p.Individual
		mod(&in)
		p.Individual = &in
		return p
	}
	runFieldCases(t, []fieldCase{
		{"recipient in a person scheme", with(award("g", "1"), func(p *ledger.GrantAward) {
			p.Recipient = ledger.Party{Name: "Jane Example", Scheme: "GB-NINO", ID: "JG103759A"}
		}), ledger.ErrPersonInClear, "payload.recipient.scheme"},
		{"payee in a person scheme", with(pay("p", "", "1"), func(p *ledger.PaymentRecord) {
			p.Payee = ledger.Party{Name: "Jane Example", Scheme: "person", ID: "42"}
		}), ledger.ErrPersonInClear, "payload.payee.scheme"},
		{"holder in a person scheme", with(issue("l", "2026-01-01"), func(p *ledger.LicenceIssue) {
			p.Holder = ledger.Party{Name: "Jane Example", Scheme: "passport", ID: "X1"}
		}), ledger.ErrPersonInClear, "payload.holder.scheme"},
		{"individual recipient", with(award("g", "1"), func(p *ledger.GrantAward) { p.Recipient = individual(c) }), nil, ""},
		{"individual without region", with(award("g", "1"), func(p *ledger.GrantAward) { p.Recipient = ind(func(in *ledger.Individual) { in.Region = "" }) }), nil, ""},
		{"individual holder", with(issue("l", "2026-01-01"), func(p *ledger.LicenceIssue) { p.Holder = individual(c) }), nil, ""},
		{"individual with a name too", with(award("g", "1"), func(p *ledger.GrantAward) {
			p.Recipient = individual(c)
			p.Recipient.Name = "Jane Example"
		}), ledger.ErrInvalidField, "payload.recipient"},
		{"individual with an id too", with(pay("p", "", "1"), func(p *ledger.PaymentRecord) {
			p.Payee = individual(c)
			p.Payee.ID = "JG103759A"
		}), ledger.ErrInvalidField, "payload.payee"},
		{"commitment not hex", with(award("g", "1"), func(p *ledger.GrantAward) {
			p.Recipient = ind(func(in *ledger.Individual) { in.Commitment = strings.Repeat("z", 64) })
		}), ledger.ErrInvalidHash, "payload.recipient.individual.commitment"},
		{"commitment short", with(award("g", "1"), func(p *ledger.GrantAward) {
			p.Recipient = ind(func(in *ledger.Individual) { in.Commitment = "abcd" })
		}), ledger.ErrInvalidHash, "payload.recipient.individual.commitment"},
		{"label empty", with(award("g", "1"), func(p *ledger.GrantAward) { p.Recipient = ind(func(in *ledger.Individual) { in.Label = "" }) }),
			ledger.ErrInvalidField, "payload.recipient.individual.label"},
		{"label with an email", with(award("g", "1"), func(p *ledger.GrantAward) {
			p.Recipient = ind(func(in *ledger.Individual) { in.Label = "jane@example.org" })
		}), ledger.ErrPersonalData, "payload.recipient.individual.label"},
		{"region with a phone", with(award("g", "1"), func(p *ledger.GrantAward) {
			p.Recipient = ind(func(in *ledger.Individual) { in.Region = "+44 7700 900123" })
		}), ledger.ErrPersonalData, "payload.recipient.individual.region"},
	})
}

// TestIndividualDecoding: an individual party survives the canonical
// decoding; a name beside the commitment is not canonical.
func TestIndividualDecoding(t *testing.T) {
	c := personCommitment(t)
	p := with(award("g", "1"), func(p *ledger.GrantAward) { p.Recipient = individual(c) })
	b, err := ledger.NewBody(testChainID, agCulture, cultGrants.pub, 1, 10, p)
	if err != nil {
		t.Fatal(err)
	}
	raw := sign(t, b, cultGrants)
	tx, err := decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	got := tx.Payload.(*ledger.GrantAward).Recipient
	if got.Individual == nil || got.Individual.Commitment != c || got.Name != "" {
		t.Fatalf("decoded recipient %+v", got)
	}
	mixed := strings.Replace(string(b.Payload), `"recipient":{"individual"`, `"recipient":{"name":"Jane Example","individual"`, 1)
	if mixed == string(b.Payload) {
		t.Fatal("payload not rewritten")
	}
	b.Payload = []byte(mixed)
	if _, err := decode(sign(t, b, cultGrants)); !errors.Is(err, ledger.ErrNonCanonical) {
		t.Fatalf("name beside a commitment: %v", err)
	}
}

func TestIndividualGrantAndPayments(t *testing.T) {
	c := personCommitment(t) // read only by the parallel cases
	setup := func(ch *chain) {
		ch.mustOK(ch.tx(cultGrants, with(award("g-ind", "3000000"), func(p *ledger.GrantAward) { p.Recipient = individual(c) })))
	}
	payInd := func(id, grant, amount string, payee ledger.Party) *ledger.PaymentRecord {
		return with(pay(id, grant, amount), func(p *ledger.PaymentRecord) { p.Payee = payee })
	}
	runTxCases(t, []txCase{
		{
			name:  "award to an individual keeps no identity",
			setup: setup,
			tx: func(ch *chain) []byte {
				return ch.tx(cultGrants, with(award("g-new", "1000"), func(p *ledger.GrantAward) { p.Recipient = individual(c) }))
			},
			check: func(t *testing.T, ch *chain, res ledger.Result) {
				g := ch.grant("g-new")
				if g.Recipient.Individual == nil || g.Recipient.Individual.Commitment != c || g.Recipient.Name != "" || g.Recipient.ID != "" {
					t.Fatalf("recipient %+v", g.Recipient)
				}
				if findEvent(res.Events, "grant", "recipient", "individual:"+c) == nil {
					t.Fatalf("events: %+v", res.Events)
				}
				for k, v := range ch.snapshot() {
					if strings.Contains(k+v, person.Name) || strings.Contains(k+v, person.ID) {
						t.Fatalf("state holds the identity: %s = %s", k, v)
					}
				}
				want := fixtureCultEUR
				want.Awarded += 3_000_000 + 1000
				want.Grants += 2
				wantTotals(t, ch, want)
			},
		},
		{
			name:  "payment with the same commitment",
			setup: setup,
			tx: func(ch *chain) []byte {
				payee := individual(c)
				payee.Individual.Label = "Individual payee" // labels may differ
				return ch.tx(cultFin1, payInd("p-ind", "g-ind", "400000", payee))
			},
			check: func(t *testing.T, ch *chain, res ledger.Result) {
				wantGrant(t, ch, "g-ind", ledger.GrantAwarded, 3_000_000, 400_000, 1)
				if findEvent(res.Events, "payment", "payee", "individual:"+c) == nil {
					t.Fatalf("events: %+v", res.Events)
				}
				want := fixtureCultEUR
				want.Awarded += 3_000_000
				want.Grants++
				want.Paid += 400_000
				want.PaidAgainstGrant += 400_000
				want.Payments++
				wantTotals(t, ch, want)
			},
		},
		{
			name:  "payment with another commitment",
			setup: setup,
			tx: func(ch *chain) []byte {
				return ch.tx(cultFin1, payInd("p-ind", "g-ind", "1000", individual(strings.Repeat("0", 64))))
			},
			want: ledger.ErrPayeeMismatch,
		},
		{
			name:  "payment to an organisation against an individual's grant",
			setup: setup,
			tx:    func(ch *chain) []byte { return ch.tx(cultFin1, payInd("p-ind", "g-ind", "1000", acme)) },
			want:  ledger.ErrPayeeMismatch,
		},
		{
			name:  "payment to an individual against an organisation's grant",
			setup: setup,
			tx:    func(ch *chain) []byte { return ch.tx(cultFin1, payInd("p-ind", "g-open", "1000", individual(c))) },
			want:  ledger.ErrPayeeMismatch,
		},
		{
			name:  "four-eyes applies to individuals",
			setup: setup,
			tx:    func(ch *chain) []byte { return ch.tx(cultFin1, payInd("p-ind", "g-ind", "2000000", individual(c))) },
			want:  ledger.ErrFourEyes,
		},
		{
			name:  "overpayment applies to individuals",
			setup: setup,
			tx: func(ch *chain) []byte {
				return ch.tx(cultFin1, payInd("p-ind", "g-ind", "3000001", individual(c)), cultFin2)
			},
			want: ledger.ErrOverpayment,
		},
		{
			name:  "licence to an individual",
			setup: setup,
			tx: func(ch *chain) []byte {
				return ch.tx(cultLic, with(issue("l-ind", "2026-03-31"), func(p *ledger.LicenceIssue) { p.Holder = individual(c) }))
			},
			check: func(t *testing.T, ch *chain, res ledger.Result) {
				if l := ch.licence("l-ind"); l.Holder.Individual == nil || l.Holder.Name != "" {
					t.Fatalf("holder %+v", l.Holder)
				}
				if findEvent(res.Events, "licence", "holder", "individual:"+c) == nil {
					t.Fatalf("events: %+v", res.Events)
				}
			},
		},
	})
}
