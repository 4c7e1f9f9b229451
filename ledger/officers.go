package ledger

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"slices"
)

// Officer rules: add, remove and set roles of an agency's officers.

func officerEvent(ag *Agency, o *Officer, action string) Event {
	roles := make([]byte, 0, 32)
	for i, r := range o.Roles {
		if i > 0 {
			roles = append(roles, ',')
		}
		roles = append(roles, r...)
	}
	return event(EventOfficer, AttrAgency, ag.ID, AttrKey, hex.EncodeToString(o.Key), AttrName, o.Name, AttrAction, action, AttrRoles, string(roles))
}

func adminCount(ag *Agency) int {
	n := 0
	for i := range ag.Officers {
		if ag.Officers[i].HasRole(RoleAdmin) {
			n++
		}
	}
	return n
}

func (b *Block) putAgency(ag *Agency) error {
	slices.SortFunc(ag.Officers, func(x, y Officer) int { return bytes.Compare(x.Key, y.Key) })
	return b.put(StoreAgencies, RecordKey(ag.ID), ag)
}

func (b *Block) officerAdd(ag *Agency, p *OfficerAdd) ([]Event, error) {
	if ag.Officer(p.Key) != nil {
		return nil, fieldErr(ErrOfficerExists, "payload.key", "%s is already an officer of %s", shortKey(p.Key), ag.ID)
	}
	other, err := b.kv.Get(StoreIndex, IndexOfficer(p.Key))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStorage, err)
	}
	if other != nil {
		return nil, fieldErr(ErrOfficerExists, "payload.key", "%s is already an officer of %s", shortKey(p.Key), other)
	}
	if r, err := b.reservation(p.Key); err != nil {
		return nil, err
	} else if r != 0 {
		return nil, fieldErr(ErrKeyInUse, "payload.key", "%s is reserved as the admin key of the agency proposed in proposal %d", shortKey(p.Key), r)
	}
	o := Officer{Key: p.Key, Name: p.Name, Roles: p.Roles}
	ag.Officers = append(ag.Officers, o)
	if err := b.putAgency(ag); err != nil {
		return nil, err
	}
	if err := b.set(StoreIndex, IndexOfficer(p.Key), []byte(ag.ID)); err != nil {
		return nil, err
	}
	return []Event{officerEvent(ag, &o, ActionAdd)}, nil
}

func (b *Block) officerRemove(ag *Agency, p *OfficerRemove) ([]Event, error) {
	o := ag.Officer(p.Key)
	if o == nil {
		return nil, fieldErr(ErrOfficerNotFound, "payload.key", "%s is not an officer of %s", shortKey(p.Key), ag.ID)
	}
	if o.HasRole(RoleAdmin) && adminCount(ag) == 1 {
		return nil, fieldErr(ErrLastAdmin, "payload.key", "cannot remove the last admin of %s", ag.ID)
	}
	removed := *o
	ag.Officers = slices.DeleteFunc(ag.Officers, func(x Officer) bool { return bytes.Equal(x.Key, p.Key) })
	if err := b.putAgency(ag); err != nil {
		return nil, err
	}
	if err := b.kv.Delete(StoreIndex, IndexOfficer(p.Key)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStorage, err)
	}
	return []Event{officerEvent(ag, &removed, ActionRemove)}, nil
}

func (b *Block) officerSetRoles(ag *Agency, p *OfficerSetRoles) ([]Event, error) {
	o := ag.Officer(p.Key)
	if o == nil {
		return nil, fieldErr(ErrOfficerNotFound, "payload.key", "%s is not an officer of %s", shortKey(p.Key), ag.ID)
	}
	if o.HasRole(RoleAdmin) && !slices.Contains(p.Roles, RoleAdmin) && adminCount(ag) == 1 {
		return nil, fieldErr(ErrLastAdmin, "payload.roles", "cannot drop the admin role of the last admin of %s", ag.ID)
	}
	o.Roles = slices.Clone(p.Roles)
	if err := b.putAgency(ag); err != nil {
		return nil, err
	}
	return []Event{officerEvent(ag, o, ActionSetRoles)}, nil
}
