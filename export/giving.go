package export

import (
	"encoding/json"

	"github.com/civicledger/civicledger/ledger"
)

// 360Giving 1.4 grant objects: the fields the ledger fills
// (docs/open-data.md).
type (
	givingGrant struct {
		ID                      string              `json:"id"`
		Title                   string              `json:"title"`
		Description             string              `json:"description"`
		Currency                string              `json:"currency"`
		AmountAwarded           json.Number         `json:"amountAwarded"`
		AmountDisbursed         json.Number         `json:"amountDisbursed"`
		AwardDate               string              `json:"awardDate"`
		PlannedDates            []givingEvent       `json:"plannedDates,omitempty"`
		RecipientOrganization   []givingOrg         `json:"recipientOrganization,omitempty"`
		RecipientIndividual     *givingPerson       `json:"recipientIndividual,omitempty"`
		FundingOrganization     []givingOrg         `json:"fundingOrganization"`
		GrantProgramme          []givingProgramme   `json:"grantProgramme,omitempty"`
		Classifications         []givingClass       `json:"classifications"`
		DisbursementTransaction []givingTransaction `json:"disbursementTransaction,omitempty"`
		DateModified            string              `json:"dateModified"`
	}
	givingEvent struct {
		StartDate string `json:"startDate,omitempty"`
		EndDate   string `json:"endDate,omitempty"`
	}
	givingOrg struct {
		ID            string `json:"id"`
		Name          string `json:"name"`
		AddressRegion string `json:"addressRegion,omitempty"`
	}
	// givingPerson is 360Giving's Person: for a natural person, the
	// public label and the commitment-based identifier, never a name.
	givingPerson struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	givingProgramme struct {
		Title string `json:"title"`
	}
	givingClass struct {
		Vocabulary string `json:"vocabulary"`
		Code       string `json:"code"`
		Title      string `json:"title"`
	}
	givingTransaction struct {
		ID              string      `json:"id"`
		TransactionDate string      `json:"transactionDate"`
		Currency        string      `json:"currency"`
		Value           json.Number `json:"value"`
		Description     string      `json:"description,omitempty"`
		Provider        string      `json:"provider"`
		Recipient       string      `json:"recipient"`
	}
)

// GivingID is the 360Giving identifier of a grant: the prefix, the agency
// and the grant's id.
func GivingID(agency, grant string) string { return givingIDPrefix + agency + "-" + grant }

// givingGrantOf maps a grant and its payments: the recorded (not reversed)
// payments are the disbursement transactions.
func givingGrantOf(m *meta, a *ledger.Agency, g *ledger.Grant, pays []ledger.Payment) givingGrant {
	out := givingGrant{
		ID: GivingID(a.ID, g.ID), Title: grantTitle(g), Description: g.Purpose, Currency: g.Currency,
		AmountAwarded: amount(g.Awarded, g.Currency), AmountDisbursed: amount(g.Disbursed, g.Currency), AwardDate: g.DecisionDate,
		PlannedDates:        []givingEvent{{StartDate: g.PeriodStart, EndDate: g.PeriodEnd}},
		FundingOrganization: []givingOrg{{ID: AgencyOrgID(a.ID), Name: a.Name, AddressRegion: a.Jurisdiction}},
		Classifications:     []givingClass{{Vocabulary: ledgerStatusScheme, Code: string(g.Status), Title: "grant " + string(g.Status)}},
		DateModified:        m.date(),
	}
	if g.Recipient.Individual != nil {
		out.RecipientIndividual = &givingPerson{ID: PartyOrgID(g.Recipient), Name: g.Recipient.Individual.Label}
	} else {
		out.RecipientOrganization = []givingOrg{{ID: PartyOrgID(g.Recipient), Name: g.Recipient.Name}}
	}
	if g.Programme != "" {
		out.GrantProgramme = []givingProgramme{{Title: g.Programme}}
	}
	for _, p := range pays {
		if p.Status != ledger.PaymentRecorded {
			continue
		}
		out.DisbursementTransaction = append(out.DisbursementTransaction, givingTransaction{
			ID: p.ID, TransactionDate: p.Date, Currency: p.Currency, Value: amount(p.Amount, p.Currency), Description: p.Purpose,
			Provider: AgencyOrgID(a.ID), Recipient: PartyOrgID(p.Payee)})
	}
	return out
}

// givingSink writes the 360Giving grant package.
type givingSink struct {
	m      *meta
	grants *jsonArray
}

func newGivingSink(m *meta, open opener) (*givingSink, error) {
	head, err := packageHead([][2]any{{"version", standardGiving}, {"title", "Grants of " + m.publisher() + " at height " + itoa(m.height)},
		{"identifier", m.uri("360giving-grants")}, {"issued", m.date()}, {"modified", m.date()},
		{"publisher", map[string]string{"name": m.publisher()}}}, "grants")
	if err != nil {
		return nil, err
	}
	return &givingSink{m: m, grants: newJSONArray(open, GivingFile, head, "]\n}\n")}, nil
}

func (s *givingSink) agency(*ledger.Agency) error { return nil }

func (s *givingSink) grant(a *ledger.Agency, g *ledger.Grant, pays []ledger.Payment) error {
	return s.grants.add(givingGrantOf(s.m, a, g, pays))
}

func (s *givingSink) licence(*ledger.Agency, *ledger.Licence) error { return nil }
func (s *givingSink) payment(*ledger.Agency, *ledger.Payment) error { return nil }
func (s *givingSink) close() error                                  { return s.grants.close() }
