package export

import (
	"encoding/base64"
	"encoding/csv"
	"strings"

	"github.com/civicledger/civicledger/ledger"
)

// CSV headers: every field of each record kind, amounts twice (in the
// currency's units for spreadsheets, and in minor units as stored).
var (
	csvAgencyHeader = []string{"id", "name", "jurisdiction", "power", "joined_height", "removed_height", "officers"}
	csvGrantHeader  = []string{"id", "agency", "recipient_name", "recipient_scheme", "recipient_id", "programme", "purpose",
		"awarded", "awarded_minor", "currency", "disbursed", "disbursed_minor", "payments", "period_start", "period_end",
		"decision_date", "document_hash", "amendment_document_hash", "status", "created_height", "updated_height"}
	csvLicenceHeader = []string{"id", "agency", "holder_name", "holder_scheme", "holder_id", "licence_type", "scope",
		"valid_from", "valid_until", "decision_date", "conditions_hash", "renewal_document_hash", "status", "created_height", "updated_height"}
	csvPaymentHeader = []string{"id", "agency", "payee_name", "payee_scheme", "payee_id", "amount", "amount_minor", "currency",
		"date", "purpose", "grant", "status", "approved_by", "created_height", "updated_height"}
)

func keyList(keys [][]byte) string {
	s := make([]string, len(keys))
	for i, k := range keys {
		s[i] = base64.StdEncoding.EncodeToString(k)
	}
	return strings.Join(s, " ")
}

func agencyRow(a *ledger.Agency) []string {
	officers := make([]string, len(a.Officers))
	for i, o := range a.Officers {
		roles := make([]string, len(o.Roles))
		for j, r := range o.Roles {
			roles[j] = string(r)
		}
		officers[i] = o.Name + " (" + strings.Join(roles, ",") + ") " + base64.StdEncoding.EncodeToString(o.Key)
	}
	return []string{a.ID, a.Name, a.Jurisdiction, itoa(a.Power), itoa(a.Joined), itoa(a.Removed), strings.Join(officers, "; ")}
}

func grantRow(g *ledger.Grant) []string {
	name, scheme, id := partyColumns(g.Recipient)
	return []string{g.ID, g.Agency, name, scheme, id, g.Programme, g.Purpose,
		ledger.FormatAmount(int64(g.Awarded), g.Currency), itoa(int64(g.Awarded)), g.Currency,
		ledger.FormatAmount(int64(g.Disbursed), g.Currency), itoa(int64(g.Disbursed)), itoa(g.Payments), g.PeriodStart, g.PeriodEnd,
		g.DecisionDate, g.DocumentHash, g.AmendmentHash, string(g.Status), itoa(g.Created), itoa(g.Updated)}
}

func licenceRow(l *ledger.Licence) []string {
	name, scheme, id := partyColumns(l.Holder)
	return []string{l.ID, l.Agency, name, scheme, id, l.LicenceType, l.Scope,
		l.ValidFrom, l.ValidUntil, l.DecisionDate, l.ConditionsHash, l.RenewalHash, string(l.Status), itoa(l.Created), itoa(l.Updated)}
}

func paymentRow(p *ledger.Payment) []string {
	name, scheme, id := partyColumns(p.Payee)
	return []string{p.ID, p.Agency, name, scheme, id, ledger.FormatAmount(int64(p.Amount), p.Currency),
		itoa(int64(p.Amount)), p.Currency, p.Date, p.Purpose, p.Grant, string(p.Status), keyList(p.Approved), itoa(p.Created), itoa(p.Updated)}
}

// csvSink writes one CSV file per record kind (RFC 4180, CRLF line ends,
// a header row).
type csvSink struct {
	agencies, grants, licences, payments *csv.Writer
}

func newCSVSink(open opener) (*csvSink, error) {
	s := &csvSink{}
	for _, f := range []struct {
		path   string
		w      **csv.Writer
		header []string
	}{
		{CSVAgenciesFile, &s.agencies, csvAgencyHeader}, {CSVGrantsFile, &s.grants, csvGrantHeader},
		{CSVLicencesFile, &s.licences, csvLicenceHeader}, {CSVPaymentsFile, &s.payments, csvPaymentHeader},
	} {
		w, err := open(f.path)
		if err != nil {
			return nil, err
		}
		cw := csv.NewWriter(w)
		cw.UseCRLF = true
		if err := cw.Write(f.header); err != nil {
			return nil, err
		}
		*f.w = cw
	}
	return s, nil
}

func write(w *csv.Writer, row []string) error {
	if err := w.Write(row); err != nil {
		return err
	}
	w.Flush()
	return w.Error()
}

func (s *csvSink) agency(a *ledger.Agency) error { return write(s.agencies, agencyRow(a)) }

func (s *csvSink) grant(_ *ledger.Agency, g *ledger.Grant, _ []ledger.Payment) error {
	return write(s.grants, grantRow(g))
}

func (s *csvSink) licence(_ *ledger.Agency, l *ledger.Licence) error {
	return write(s.licences, licenceRow(l))
}

func (s *csvSink) payment(_ *ledger.Agency, p *ledger.Payment) error {
	return write(s.payments, paymentRow(p))
}

func (s *csvSink) close() error {
	for _, w := range []*csv.Writer{s.agencies, s.grants, s.licences, s.payments} {
		w.Flush()
		if err := w.Error(); err != nil {
			return err
		}
	}
	return nil
}
