package export

import (
	"encoding/json"
	"fmt"

	"github.com/civicledger/civicledger/ledger"
)

// OCDS 1.1 release objects: the fields the ledger fills (docs/open-data.md).
type (
	ocdsRelease struct {
		OCID           string         `json:"ocid"`
		ID             string         `json:"id"`
		Date           string         `json:"date"`
		Tag            []string       `json:"tag"`
		InitiationType string         `json:"initiationType"`
		Language       string         `json:"language,omitempty"`
		Parties        []ocdsParty    `json:"parties"`
		Buyer          *ocdsOrgRef    `json:"buyer,omitempty"`
		Awards         []ocdsAward    `json:"awards"`
		Contracts      []ocdsContract `json:"contracts,omitempty"`
	}
	ocdsOrgRef struct {
		ID   string `json:"id"`
		Name string `json:"name,omitempty"`
	}
	ocdsIdentifier struct {
		Scheme    string `json:"scheme,omitempty"`
		ID        string `json:"id,omitempty"`
		LegalName string `json:"legalName,omitempty"`
	}
	ocdsAddress struct {
		Region string `json:"region,omitempty"`
	}
	ocdsParty struct {
		ID         string          `json:"id"`
		Name       string          `json:"name,omitempty"`
		Identifier *ocdsIdentifier `json:"identifier,omitempty"`
		Address    *ocdsAddress    `json:"address,omitempty"`
		Roles      []string        `json:"roles"`
	}
	ocdsValue struct {
		Amount   json.Number `json:"amount"`
		Currency string      `json:"currency"`
	}
	ocdsPeriod struct {
		StartDate string `json:"startDate,omitempty"`
		EndDate   string `json:"endDate,omitempty"`
	}
	ocdsDocument struct {
		ID           string `json:"id"`
		DocumentType string `json:"documentType,omitempty"`
		Title        string `json:"title,omitempty"`
		Description  string `json:"description,omitempty"`
		DateModified string `json:"dateModified,omitempty"`
	}
	ocdsAward struct {
		ID             string         `json:"id"`
		Title          string         `json:"title,omitempty"`
		Description    string         `json:"description,omitempty"`
		Status         string         `json:"status"`
		Date           string         `json:"date,omitempty"`
		Value          *ocdsValue     `json:"value,omitempty"`
		Suppliers      []ocdsOrgRef   `json:"suppliers"`
		ContractPeriod *ocdsPeriod    `json:"contractPeriod,omitempty"`
		Documents      []ocdsDocument `json:"documents,omitempty"`
	}
	ocdsContract struct {
		ID             string              `json:"id"`
		AwardID        string              `json:"awardID"`
		Title          string              `json:"title,omitempty"`
		Description    string              `json:"description,omitempty"`
		Status         string              `json:"status"`
		Period         *ocdsPeriod         `json:"period,omitempty"`
		Value          *ocdsValue          `json:"value,omitempty"`
		DateSigned     string              `json:"dateSigned,omitempty"`
		Documents      []ocdsDocument      `json:"documents,omitempty"`
		Implementation *ocdsImplementation `json:"implementation,omitempty"`
	}
	ocdsImplementation struct {
		Transactions []ocdsTransaction `json:"transactions"`
	}
	ocdsTransaction struct {
		ID     string     `json:"id"`
		Source string     `json:"source,omitempty"`
		Date   string     `json:"date"`
		Value  ocdsValue  `json:"value"`
		Payer  ocdsOrgRef `json:"payer"`
		Payee  ocdsOrgRef `json:"payee"`
	}
	ocdsRecord struct {
		OCID            string        `json:"ocid"`
		Releases        []ocdsRelease `json:"releases"`
		CompiledRelease ocdsRelease   `json:"compiledRelease"`
	}
)

// OCID is the Open Contracting ID of a record: the prefix, the agency, the
// kind and the record's id.
func OCID(prefix, agency, kind, id string) string {
	return prefix + "-" + agency + "-" + kind + "-" + id
}

func agencyParty(a *ledger.Agency, roles ...string) ocdsParty {
	p := ocdsParty{ID: AgencyOrgID(a.ID), Name: a.Name, Identifier: &ocdsIdentifier{Scheme: "XX-CIVICLEDGER", ID: a.ID, LegalName: a.Name}, Roles: roles}
	if a.Jurisdiction != "" {
		p.Address = &ocdsAddress{Region: a.Jurisdiction}
	}
	return p
}

// partyParty is a recipient, holder or payee in OCDS's parties; a natural
// person by its public label (and region), with no identifier.
func partyParty(p ledger.Party, roles ...string) ocdsParty {
	if in := p.Individual; in != nil {
		op := ocdsParty{ID: PartyOrgID(p), Name: in.Label, Roles: roles}
		if in.Region != "" {
			op.Address = &ocdsAddress{Region: in.Region}
		}
		return op
	}
	return ocdsParty{ID: PartyOrgID(p), Name: p.Name, Identifier: &ocdsIdentifier{Scheme: p.Scheme, ID: p.ID, LegalName: p.Name}, Roles: roles}
}

// grantStatuses maps a grant's status to its award's and contract's.
func grantStatuses(s ledger.GrantStatus) (award, contract string) {
	switch s {
	case ledger.GrantRevoked:
		return "cancelled", "cancelled"
	case ledger.GrantClosed:
		return "active", "terminated"
	}
	return "active", "active"
}

// licenceStatuses maps a licence's status to its award's and contract's.
func licenceStatuses(s ledger.LicenceStatus) (award, contract string) {
	switch s {
	case ledger.LicenceRevoked:
		return "cancelled", "terminated"
	case ledger.LicenceExpired:
		return "active", "terminated"
	}
	return "active", "active"
}

func hashDocument(id, docType, title, sha string) ocdsDocument {
	return ocdsDocument{ID: id, DocumentType: docType, Title: title, Description: "sha256:" + sha}
}

// transactions maps the recorded (not reversed) payments of a contract.
func transactions(a *ledger.Agency, pays []ledger.Payment) []ocdsTransaction {
	out := []ocdsTransaction{}
	for _, p := range pays {
		if p.Status != ledger.PaymentRecorded {
			continue
		}
		out = append(out, ocdsTransaction{ID: p.ID, Date: dateTime(p.Date), Value: ocdsValue{amount(p.Amount, p.Currency), p.Currency},
			Payer: ocdsOrgRef{AgencyOrgID(a.ID), a.Name}, Payee: ocdsOrgRef{PartyOrgID(p.Payee), p.Payee.DisplayName()}})
	}
	return out
}

// GrantRelease maps a grant and its payments to an OCDS release: the grant
// is the award and the contract of a contracting process, its recorded
// payments the contract's implementation transactions.
func grantRelease(m *meta, a *ledger.Agency, g *ledger.Grant, pays []ledger.Payment) ocdsRelease {
	as, cs := grantStatuses(g.Status)
	value := &ocdsValue{amount(g.Awarded, g.Currency), g.Currency}
	period := &ocdsPeriod{StartDate: dateTime(g.PeriodStart), EndDate: dateTime(g.PeriodEnd)}
	docs := []ocdsDocument{hashDocument("decision", "awardNotice", "award decision", g.DocumentHash)}
	if g.AmendmentHash != "" {
		docs = append(docs, hashDocument("amendment", "contractAnnexe", "latest amendment decision", g.AmendmentHash))
	}
	tags := []string{"award", "contract"}
	tx := transactions(a, pays)
	if len(tx) > 0 {
		tags = append(tags, "implementation")
	}
	if g.Status == ledger.GrantAmended {
		tags = append(tags, "awardUpdate", "contractAmendment")
	}
	return ocdsRelease{
		OCID: OCID(m.ocidPrefix, a.ID, "grant", g.ID), ID: fmt.Sprintf("grant-%s-%d", g.ID, g.Updated), Date: m.date(),
		Tag: tags, InitiationType: "tender",
		Parties: []ocdsParty{agencyParty(a, "buyer", "funder", "payer"), partyParty(g.Recipient, "supplier", "payee")},
		Buyer:   &ocdsOrgRef{AgencyOrgID(a.ID), a.Name},
		Awards: []ocdsAward{{ID: g.ID, Title: g.Programme, Description: g.Purpose, Status: as, Date: dateTime(g.DecisionDate), Value: value,
			Suppliers: []ocdsOrgRef{{PartyOrgID(g.Recipient), g.Recipient.DisplayName()}}, ContractPeriod: period, Documents: docs}},
		Contracts: []ocdsContract{{ID: g.ID, AwardID: g.ID, Title: g.Programme, Description: "grant " + string(g.Status), Status: cs, Period: period, Value: value,
			DateSigned: dateTime(g.DecisionDate), Implementation: &ocdsImplementation{Transactions: tx}}},
	}
}

// licenceRelease maps a licence to an OCDS release: the licence is the
// award and the contract (with no value) of a contracting process.
func licenceRelease(m *meta, a *ledger.Agency, l *ledger.Licence) ocdsRelease {
	as, cs := licenceStatuses(l.Status)
	period := &ocdsPeriod{StartDate: dateTime(l.ValidFrom), EndDate: dateTime(l.ValidUntil)}
	docs := []ocdsDocument{hashDocument("conditions", "contractSchedule", "licence conditions", l.ConditionsHash)}
	if l.RenewalHash != "" {
		docs = append(docs, hashDocument("renewal", "contractAnnexe", "latest renewal", l.RenewalHash))
	}
	return ocdsRelease{
		OCID: OCID(m.ocidPrefix, a.ID, "licence", l.ID), ID: fmt.Sprintf("licence-%s-%d", l.ID, l.Updated), Date: m.date(),
		Tag: []string{"award", "contract"}, InitiationType: "tender",
		Parties: []ocdsParty{agencyParty(a, "buyer", "procuringEntity"), partyParty(l.Holder, "supplier")},
		Buyer:   &ocdsOrgRef{AgencyOrgID(a.ID), a.Name},
		Awards: []ocdsAward{{ID: l.ID, Title: l.LicenceType, Description: l.Scope, Status: as, Date: dateTime(l.DecisionDate),
			Suppliers: []ocdsOrgRef{{PartyOrgID(l.Holder), l.Holder.DisplayName()}}, ContractPeriod: period}},
		Contracts: []ocdsContract{{ID: l.ID, AwardID: l.ID, Title: l.LicenceType, Description: "licence " + string(l.Status), Status: cs, Period: period,
			DateSigned: dateTime(l.DecisionDate), Documents: docs}},
	}
}

// paymentRelease maps a payment that is not against a grant to an OCDS
// release: a contracting process of its own, the payment its award, its
// contract and (unless reversed) the contract's one transaction.
func paymentRelease(m *meta, a *ledger.Agency, p *ledger.Payment) ocdsRelease {
	as, cs := "active", "terminated"
	if p.Status == ledger.PaymentReversed {
		as, cs = "cancelled", "cancelled"
	}
	value := &ocdsValue{amount(p.Amount, p.Currency), p.Currency}
	tx := transactions(a, []ledger.Payment{*p})
	tags := []string{"award", "contract"}
	if len(tx) > 0 {
		tags = append(tags, "implementation")
	}
	return ocdsRelease{
		OCID: OCID(m.ocidPrefix, a.ID, "payment", p.ID), ID: fmt.Sprintf("payment-%s-%d", p.ID, p.Updated), Date: m.date(),
		Tag: tags, InitiationType: "tender",
		Parties: []ocdsParty{agencyParty(a, "buyer", "payer"), partyParty(p.Payee, "supplier", "payee")},
		Buyer:   &ocdsOrgRef{AgencyOrgID(a.ID), a.Name},
		Awards: []ocdsAward{{ID: p.ID, Description: p.Purpose, Status: as, Date: dateTime(p.Date), Value: value,
			Suppliers: []ocdsOrgRef{{PartyOrgID(p.Payee), p.Payee.DisplayName()}}}},
		Contracts: []ocdsContract{{ID: p.ID, AwardID: p.ID, Description: "payment " + string(p.Status), Status: cs, Value: value,
			DateSigned: dateTime(p.Date), Implementation: &ocdsImplementation{Transactions: tx}}},
	}
}

// ocdsSink writes the OCDS release package and record package.
type ocdsSink struct {
	m                 *meta
	releases, records *jsonArray
}

func newOCDSSink(m *meta, open opener) (*ocdsSink, error) {
	s := &ocdsSink{m: m}
	pub := map[string]string{"name": m.publisher(), "scheme": "XX-CIVICLEDGER", "uid": m.chainID}
	head, err := packageHead([][2]any{{"uri", m.uri("ocds-release-package")}, {"version", standardOCDS},
		{"publishedDate", m.date()}, {"publisher", pub}}, "releases")
	if err != nil {
		return nil, err
	}
	s.releases = newJSONArray(open, OCDSReleasesFile, head, "]\n}\n")
	head, err = packageHead([][2]any{{"uri", m.uri("ocds-record-package")}, {"version", standardOCDS},
		{"publishedDate", m.date()}, {"publisher", pub}}, "records")
	if err != nil {
		return nil, err
	}
	s.records = newJSONArray(open, OCDSRecordsFile, head, "]\n}\n")
	return s, nil
}

func (s *ocdsSink) add(r ocdsRelease) error {
	if err := s.releases.add(r); err != nil {
		return err
	}
	return s.records.add(ocdsRecord{OCID: r.OCID, Releases: []ocdsRelease{r}, CompiledRelease: r})
}

func (s *ocdsSink) agency(*ledger.Agency) error { return nil }

func (s *ocdsSink) grant(a *ledger.Agency, g *ledger.Grant, pays []ledger.Payment) error {
	return s.add(grantRelease(s.m, a, g, pays))
}

func (s *ocdsSink) licence(a *ledger.Agency, l *ledger.Licence) error {
	return s.add(licenceRelease(s.m, a, l))
}

func (s *ocdsSink) payment(a *ledger.Agency, p *ledger.Payment) error {
	if p.Grant != "" {
		return nil // a transaction of its grant's contract
	}
	return s.add(paymentRelease(s.m, a, p))
}

func (s *ocdsSink) close() error {
	if err := s.releases.close(); err != nil {
		return err
	}
	return s.records.close()
}
