package ledger

import (
	"fmt"
	"strconv"
)

// Grant rules: award, amend, close and revoke (see the table in doc.go).

func (b *Block) loadGrant(ag *Agency, id string) (*Grant, error) {
	var g Grant
	ok, err := getJSON(b.kv, StoreGrants, RecordKey(id), &g)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fieldErr(ErrNotFound, "payload.id", "grant %q", id)
	}
	if g.Agency != ag.ID {
		return nil, fieldErr(ErrWrongAgency, "payload.id", "grant %q belongs to %s", id, g.Agency)
	}
	return &g, nil
}

func (b *Block) putGrant(g *Grant) error {
	if err := b.put(StoreGrants, RecordKey(g.ID), g); err != nil {
		return err
	}
	return b.set(StoreIndex, IndexGrantByAgency(g.Agency, g.ID), []byte(g.Status))
}

func grantEvent(g *Grant, action string) Event {
	return event(EventGrant, AttrID, g.ID, AttrAgency, g.Agency, AttrAction, action, AttrStatus, string(g.Status),
		AttrRecipient, g.Recipient.Ref(), AttrProgramme, g.Programme,
		AttrCurrency, g.Currency, AttrAwarded, strconv.FormatInt(int64(g.Awarded), 10))
}

func (b *Block) grantAward(ag *Agency, p *GrantAward) ([]Event, error) {
	amount, _ := checkAmount("payload.amount", p.Amount)
	if existing, err := b.kv.Get(StoreGrants, RecordKey(p.ID)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStorage, err)
	} else if existing != nil {
		return nil, fieldErr(ErrAlreadyExists, "payload.id", "grant %q", p.ID)
	}
	t, err := b.total(ag.ID, p.Currency)
	if err != nil {
		return nil, err
	}
	if int64(t.Awarded) > maxInt64-amount {
		return nil, fieldErr(ErrAmountOverflow, "payload.amount", "agency total awarded in %s would overflow", p.Currency)
	}
	g := &Grant{
		ID: p.ID, Agency: ag.ID, Recipient: p.Recipient, Programme: p.Programme, Purpose: p.Purpose,
		Awarded: Amount(amount), Currency: p.Currency, PeriodStart: p.PeriodStart, PeriodEnd: p.PeriodEnd,
		DecisionDate: p.DecisionDate, DocumentHash: p.DocumentHash, Status: GrantAwarded,
		Created: b.info.Height, Updated: b.info.Height,
	}
	if err := b.putGrant(g); err != nil {
		return nil, err
	}
	t.Awarded += Amount(amount)
	t.Grants++
	return []Event{grantEvent(g, ActionAward)}, nil
}

func (b *Block) grantAmend(ag *Agency, p *GrantAmend) ([]Event, error) {
	amount, _ := checkAmount("payload.amount", p.Amount)
	g, err := b.loadGrant(ag, p.ID)
	if err != nil {
		return nil, err
	}
	if !CanTransition(KindGrant, g.Status, GrantAmended) {
		return nil, fieldErr(ErrIllegalTransition, "payload.id", "grant %q is %s; only awarded or amended grants can be amended", g.ID, g.Status)
	}
	if amount < int64(g.Disbursed) {
		return nil, fieldErr(ErrAmendBelowDisbursed, "payload.amount", "%s is less than the %s already disbursed",
			MoneyWithMinor(amount, g.Currency), MoneyWithMinor(int64(g.Disbursed), g.Currency))
	}
	if p.PeriodEnd < g.PeriodStart {
		return nil, fieldErr(ErrInvalidPeriod, "payload.period_end", "%s is before period start %s", p.PeriodEnd, g.PeriodStart)
	}
	t, err := b.total(ag.ID, g.Currency)
	if err != nil {
		return nil, err
	}
	delta := amount - int64(g.Awarded)
	if delta > 0 && int64(t.Awarded) > maxInt64-delta {
		return nil, fieldErr(ErrAmountOverflow, "payload.amount", "agency total awarded in %s would overflow", g.Currency)
	}
	g.Awarded = Amount(amount)
	g.PeriodEnd = p.PeriodEnd
	g.AmendmentHash = p.DocumentHash // the award decision's hash stays
	g.Status = GrantAmended
	g.Updated = b.info.Height
	if err := b.putGrant(g); err != nil {
		return nil, err
	}
	t.Awarded += Amount(delta)
	ev := grantEvent(g, ActionAmend)
	ev.Attrs = append(ev.Attrs, Attribute{Key: AttrDocumentHash, Value: p.DocumentHash, Index: true})
	return []Event{ev}, nil
}

func (b *Block) grantEnd(ag *Agency, id string, status GrantStatus, action string) ([]Event, error) {
	g, err := b.loadGrant(ag, id)
	if err != nil {
		return nil, err
	}
	if !CanTransition(KindGrant, g.Status, status) {
		return nil, fieldErr(ErrIllegalTransition, "payload.id", "grant %q is %s; cannot %s", g.ID, g.Status, action)
	}
	g.Status = status
	g.Updated = b.info.Height
	if err := b.putGrant(g); err != nil {
		return nil, err
	}
	return []Event{grantEvent(g, action)}, nil
}
