package ledger

import (
	"fmt"
)

// Licence rules: issue, renew, suspend, reinstate and revoke; expiry runs
// at the start of each block (Block.expireLicences in state.go).

func (b *Block) loadLicence(ag *Agency, id string) (*Licence, error) {
	var l Licence
	ok, err := getJSON(b.kv, StoreLicences, RecordKey(id), &l)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fieldErr(ErrNotFound, "payload.id", "licence %q", id)
	}
	if l.Agency != ag.ID {
		return nil, fieldErr(ErrWrongAgency, "payload.id", "licence %q belongs to %s", id, l.Agency)
	}
	return &l, nil
}

func (b *Block) putLicence(l *Licence) error {
	if err := b.put(StoreLicences, RecordKey(l.ID), l); err != nil {
		return err
	}
	return b.set(StoreIndex, IndexLicenceByAgency(l.Agency, l.ID), []byte(l.Status))
}

func licenceEvent(l *Licence, action string) Event {
	return event(EventLicence, AttrID, l.ID, AttrAgency, l.Agency, AttrAction, action, AttrStatus, string(l.Status),
		AttrHolder, l.Holder.Ref(), AttrType, l.LicenceType, AttrValidUntil, l.ValidUntil)
}

func (b *Block) licenceIssue(ag *Agency, p *LicenceIssue) ([]Event, error) {
	if existing, err := b.kv.Get(StoreLicences, RecordKey(p.ID)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStorage, err)
	} else if existing != nil {
		return nil, fieldErr(ErrAlreadyExists, "payload.id", "licence %q", p.ID)
	}
	if p.ValidUntil < b.date {
		return nil, fieldErr(ErrInvalidPeriod, "payload.valid_until", "%s is before the block date %s", p.ValidUntil, b.date)
	}
	l := &Licence{
		ID: p.ID, Agency: ag.ID, Holder: p.Holder, LicenceType: p.LicenceType, Scope: p.Scope,
		ValidFrom: p.ValidFrom, ValidUntil: p.ValidUntil, DecisionDate: p.DecisionDate,
		ConditionsHash: p.ConditionsHash, Status: LicenceIssued, Created: b.info.Height, Updated: b.info.Height,
	}
	if err := b.putLicence(l); err != nil {
		return nil, err
	}
	if err := b.set(StoreIndex, indexLicenceExpiry(l.ValidUntil, l.ID), []byte("1")); err != nil {
		return nil, err
	}
	return []Event{licenceEvent(l, ActionIssue)}, nil
}

func (b *Block) licenceRenew(ag *Agency, p *LicenceRenew) ([]Event, error) {
	l, err := b.loadLicence(ag, p.ID)
	if err != nil {
		return nil, err
	}
	if !CanTransition(KindLicence, l.Status, LicenceRenewed) {
		return nil, fieldErr(ErrIllegalTransition, "payload.id", "licence %q is %s; cannot renew", l.ID, l.Status)
	}
	if p.ValidUntil <= l.ValidUntil {
		return nil, fieldErr(ErrInvalidPeriod, "payload.valid_until", "%s does not extend current validity %s", p.ValidUntil, l.ValidUntil)
	}
	if err := b.kv.Delete(StoreIndex, indexLicenceExpiry(l.ValidUntil, l.ID)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStorage, err)
	}
	l.ValidUntil = p.ValidUntil
	l.RenewalHash = p.DocumentHash // the conditions document's hash stays
	l.Status = LicenceRenewed
	l.Updated = b.info.Height
	if err := b.putLicence(l); err != nil {
		return nil, err
	}
	if err := b.set(StoreIndex, indexLicenceExpiry(l.ValidUntil, l.ID), []byte("1")); err != nil {
		return nil, err
	}
	ev := licenceEvent(l, ActionRenew)
	ev.Attrs = append(ev.Attrs, Attribute{Key: AttrDocumentHash, Value: p.DocumentHash, Index: true})
	return []Event{ev}, nil
}

// licenceStatus moves a licence to status to, if Transitions allows it from
// its status (suspend, reinstate, revoke).
func (b *Block) licenceStatus(ag *Agency, id, action string, to LicenceStatus) ([]Event, error) {
	l, err := b.loadLicence(ag, id)
	if err != nil {
		return nil, err
	}
	if !CanTransition(KindLicence, l.Status, to) {
		return nil, fieldErr(ErrIllegalTransition, "payload.id", "licence %q is %s; cannot %s", l.ID, l.Status, action)
	}
	l.Status = to
	l.Updated = b.info.Height
	if to == LicenceRevoked {
		if err := b.kv.Delete(StoreIndex, indexLicenceExpiry(l.ValidUntil, l.ID)); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrStorage, err)
		}
	}
	if err := b.putLicence(l); err != nil {
		return nil, err
	}
	return []Event{licenceEvent(l, action)}, nil
}
