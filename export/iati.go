package export

import (
	"bytes"
	"encoding/xml"
	"io"
	"strconv"

	"github.com/civicledger/civicledger/ledger"
)

// IATI codes the mapping uses (IATI 2.03 codelists, vendored in
// testdata/schemas/iati-2.03/codelists).
const (
	iatiTxCommitment   = "2" // TransactionType: Outgoing Commitment
	iatiTxDisbursement = "3" // TransactionType: Disbursement
	iatiStatusImpl     = "2" // ActivityStatus: Implementation
	iatiStatusClosed   = "4" // ActivityStatus: Closed
	iatiStatusCancel   = "5" // ActivityStatus: Cancelled
	iatiDatePlanStart  = "1" // ActivityDateType: Planned start
	iatiDatePlanEnd    = "3" // ActivityDateType: Planned end
	iatiRoleFunding    = "1" // OrganisationRole: Funding
	iatiRoleExtending  = "3" // OrganisationRole: Extending
	iatiRoleImplement  = "4" // OrganisationRole: Implementing
	// iatiOrgGovernment is OrganisationType 10, Government: the type of
	// every reporting agency. OrganisationType is one of IATI's
	// non-embedded codelists, not among the vendored ones; the test checks
	// this one value.
	iatiOrgGovernment = "10"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// IATIIdentifier is the IATI identifier of a grant's activity: the
// reporting organisation's identifier, then the grant's id.
func IATIIdentifier(agency, grant string) string { return AgencyOrgID(agency) + "-" + grant }

// iatiActivityStatus maps a grant's status to an ActivityStatus code.
func iatiActivityStatus(s ledger.GrantStatus) string {
	switch s {
	case ledger.GrantClosed:
		return iatiStatusClosed
	case ledger.GrantRevoked:
		return iatiStatusCancel
	}
	return iatiStatusImpl
}

// xmlw writes XML by hand, escaping every text and attribute value.
type xmlw struct {
	b bytes.Buffer
}

func (x *xmlw) esc(s string) {
	_ = xml.EscapeText(&x.b, []byte(s))
}

// open writes <name a="v" ...> (or <name .../> when empty); attrs are
// name, value pairs, an empty value leaves the attribute out.
func (x *xmlw) open(indent, name string, empty bool, attrs ...string) {
	x.b.WriteString(indent)
	x.b.WriteString("<" + name)
	for i := 0; i+1 < len(attrs); i += 2 {
		if attrs[i+1] == "" {
			continue
		}
		x.b.WriteString(" " + attrs[i] + `="`)
		x.esc(attrs[i+1])
		x.b.WriteString(`"`)
	}
	if empty {
		x.b.WriteString("/>\n")
	} else {
		x.b.WriteString(">")
	}
}

// narrative writes <name attrs><narrative>text</narrative></name>.
func (x *xmlw) narrative(indent, name, text string, attrs ...string) {
	x.open(indent, name, false, attrs...)
	x.b.WriteString("<narrative>")
	x.esc(text)
	x.b.WriteString("</narrative></" + name + ">\n")
}

func (x *xmlw) transaction(indent, ref, typ, date string, value ledger.Amount, currency, desc string, provider, providerName, receiver, receiverName string) {
	x.open(indent, "transaction", false, "ref", ref)
	x.b.WriteString("\n")
	in := indent + "  "
	x.open(in, "transaction-type", true, "code", typ)
	x.open(in, "transaction-date", true, "iso-date", date)
	x.open(in, "value", false, "currency", currency, "value-date", date)
	x.esc(ledger.FormatAmount(int64(value), currency))
	x.b.WriteString("</value>\n")
	if desc != "" {
		x.narrative(in, "description", desc)
	}
	x.narrative(in, "provider-org", providerName, "ref", provider)
	x.narrative(in, "receiver-org", receiverName, "ref", receiver)
	x.b.WriteString(indent + "</transaction>\n")
}

// iatiActivity writes a grant as an IATI activity: its award an outgoing
// commitment, its recorded (not reversed) payments disbursements.
func iatiActivity(x *xmlw, m *meta, a *ledger.Agency, g *ledger.Grant, pays []ledger.Payment) {
	const in, in2 = "  ", "    "
	x.open(in, "iati-activity", false, "last-updated-datetime", m.date(), "default-currency", g.Currency, "xml:lang", "en")
	x.b.WriteString("\n")
	x.open(in2, "iati-identifier", false)
	x.esc(IATIIdentifier(a.ID, g.ID))
	x.b.WriteString("</iati-identifier>\n")
	x.narrative(in2, "reporting-org", a.Name, "ref", AgencyOrgID(a.ID), "type", iatiOrgGovernment)
	x.narrative(in2, "title", grantTitle(g))
	x.narrative(in2, "description", g.Purpose)
	x.narrative(in2, "participating-org", a.Name, "ref", AgencyOrgID(a.ID), "role", iatiRoleFunding)
	x.narrative(in2, "participating-org", a.Name, "ref", AgencyOrgID(a.ID), "role", iatiRoleExtending)
	x.narrative(in2, "participating-org", g.Recipient.DisplayName(), "ref", PartyOrgID(g.Recipient), "role", iatiRoleImplement)
	x.open(in2, "activity-status", true, "code", iatiActivityStatus(g.Status))
	x.open(in2, "activity-date", true, "type", iatiDatePlanStart, "iso-date", g.PeriodStart)
	x.open(in2, "activity-date", true, "type", iatiDatePlanEnd, "iso-date", g.PeriodEnd)
	if g.Status != ledger.GrantRevoked {
		x.transaction(in2, g.ID, iatiTxCommitment, g.DecisionDate, g.Awarded, g.Currency, "award decision sha256:"+g.DocumentHash,
			AgencyOrgID(a.ID), a.Name, PartyOrgID(g.Recipient), g.Recipient.DisplayName())
	}
	for _, p := range pays {
		if p.Status != ledger.PaymentRecorded {
			continue
		}
		x.transaction(in2, p.ID, iatiTxDisbursement, p.Date, p.Amount, p.Currency, p.Purpose,
			AgencyOrgID(a.ID), a.Name, PartyOrgID(p.Payee), p.Payee.DisplayName())
	}
	x.b.WriteString(in + "</iati-activity>\n")
}

// iatiSink writes the IATI activities file. The file is created with its
// first activity: an activities file needs one, so a selection with no
// grant writes no file.
type iatiSink struct {
	m    *meta
	open opener
	w    io.Writer
	x    xmlw
}

func newIATISink(m *meta, open opener) (*iatiSink, error) {
	return &iatiSink{m: m, open: open}, nil
}

func (s *iatiSink) flush() error {
	_, err := s.w.Write(s.x.b.Bytes())
	s.x.b.Reset()
	return err
}

func (s *iatiSink) agency(*ledger.Agency) error { return nil }

func (s *iatiSink) grant(a *ledger.Agency, g *ledger.Grant, pays []ledger.Payment) error {
	if s.w == nil {
		w, err := s.open(IATIFile)
		if err != nil {
			return err
		}
		s.w = w
		s.x.b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
		s.x.open("", "iati-activities", false, "version", standardIATI, "generated-datetime", s.m.date())
		s.x.b.WriteString("\n")
	}
	iatiActivity(&s.x, s.m, a, g, pays)
	return s.flush()
}

func (s *iatiSink) licence(*ledger.Agency, *ledger.Licence) error { return nil }
func (s *iatiSink) payment(*ledger.Agency, *ledger.Payment) error { return nil }

func (s *iatiSink) close() error {
	if s.w == nil {
		return nil
	}
	s.x.b.WriteString("</iati-activities>\n")
	return s.flush()
}
