package ledger

import (
	"fmt"
	"slices"
	"strconv"
)

// Payment rules: record and reverse, the four-eyes rule, and the grant
// and agency totals they move.

const maxInt64 = int64(^uint64(0) >> 1)

func paymentEvent(p *Payment, action string) Event {
	return event(EventPayment, AttrID, p.ID, AttrAgency, p.Agency, AttrAction, action, AttrStatus, string(p.Status),
		AttrGrant, p.Grant, AttrPayee, p.Payee.Ref(), AttrCurrency, p.Currency,
		AttrAmount, strconv.FormatInt(int64(p.Amount), 10))
}

func (b *Block) putPayment(p *Payment) error {
	if err := b.put(StorePayments, RecordKey(p.ID), p); err != nil {
		return err
	}
	if err := b.set(StoreIndex, IndexPaymentByAgency(p.Agency, p.ID), []byte(p.Status)); err != nil {
		return err
	}
	if p.Grant != "" {
		return b.set(StoreIndex, IndexPaymentByGrant(p.Grant, p.ID), []byte(p.Status))
	}
	return nil
}

// fourEyes checks that a payment above its currency's threshold carries at
// least two officers' signatures (their finance role is checked for every
// signer).
func (b *Block) fourEyes(tx *Tx, amount int64, currency string) error {
	if limit := b.params.FourEyesFor(currency); amount > int64(limit) && len(tx.Signatures) < 2 {
		return fieldErr(ErrFourEyes, "signatures", "amount %s exceeds the %s threshold %s: two finance officers must sign",
			MoneyWithMinor(amount, currency), currency, MoneyWithMinor(int64(limit), currency))
	}
	return nil
}

func signerKeys(tx *Tx) [][]byte {
	out := make([][]byte, len(tx.Signatures))
	for i, s := range tx.Signatures {
		out[i] = s.PubKey
	}
	return out
}

func (b *Block) paymentRecord(tx *Tx, ag *Agency, p *PaymentRecord) ([]Event, error) {
	amount, _ := checkAmount("payload.amount", p.Amount)
	if existing, err := b.kv.Get(StorePayments, RecordKey(p.ID)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStorage, err)
	} else if existing != nil {
		return nil, fieldErr(ErrAlreadyExists, "payload.id", "payment %q", p.ID)
	}
	if err := b.fourEyes(tx, amount, p.Currency); err != nil {
		return nil, err
	}
	var g *Grant
	if p.Grant != "" {
		var gr Grant
		ok, err := getJSON(b.kv, StoreGrants, RecordKey(p.Grant), &gr)
		if err != nil {
			return nil, err
		}
		switch {
		case !ok:
			return nil, fieldErr(ErrNotFound, "payload.grant", "grant %q", p.Grant)
		case gr.Agency != ag.ID:
			return nil, fieldErr(ErrWrongAgency, "payload.grant", "grant %q belongs to %s", p.Grant, gr.Agency)
		case !slices.Contains(GrantPayableStatuses, gr.Status):
			return nil, fieldErr(ErrGrantNotPayable, "payload.grant", "grant %q is %s", p.Grant, gr.Status)
		case gr.Currency != p.Currency:
			return nil, fieldErr(ErrCurrencyMismatch, "payload.currency", "grant %q is in %s, payment in %s", p.Grant, gr.Currency, p.Currency)
		case !gr.Recipient.SameEntity(p.Payee):
			return nil, fieldErr(ErrPayeeMismatch, "payload.payee", "grant %q recipient is %s", p.Grant, gr.Recipient.Ref())
		}
		if err := checkPaymentDate(p.Date, &gr); err != nil {
			return nil, err
		}
		if amount > int64(gr.Awarded-gr.Disbursed) {
			c := gr.Currency
			return nil, fieldErr(ErrOverpayment, "payload.amount", "%s exceeds the %s remaining of grant %q (awarded %s, disbursed %s)",
				MoneyWithMinor(amount, c), MoneyWithMinor(int64(gr.Awarded-gr.Disbursed), c), gr.ID, FormatMoney(int64(gr.Awarded), c), FormatMoney(int64(gr.Disbursed), c))
		}
		g = &gr
	}
	t, err := b.total(ag.ID, p.Currency)
	if err != nil {
		return nil, err
	}
	if int64(t.Paid) > maxInt64-amount {
		return nil, fieldErr(ErrAmountOverflow, "payload.amount", "agency total paid in %s would overflow", p.Currency)
	}
	pay := &Payment{
		ID: p.ID, Agency: ag.ID, Payee: p.Payee, Amount: Amount(amount), Currency: p.Currency, Date: p.Date,
		Purpose: p.Purpose, Grant: p.Grant, Status: PaymentRecorded, Approved: signerKeys(tx),
		Created: b.info.Height, Updated: b.info.Height,
	}
	if err := b.putPayment(pay); err != nil {
		return nil, err
	}
	evs := []Event{paymentEvent(pay, ActionRecord)}
	t.Paid += Amount(amount)
	t.Payments++
	if g != nil {
		g.Disbursed += Amount(amount)
		g.Payments++
		g.Updated = b.info.Height
		if err := b.put(StoreGrants, RecordKey(g.ID), g); err != nil {
			return nil, err
		}
		t.PaidAgainstGrant += Amount(amount)
		evs = append(evs, grantEvent(g, ActionDisburse))
	}
	return evs, nil
}

func (b *Block) paymentReverse(tx *Tx, ag *Agency, p *PaymentReverse) ([]Event, error) {
	var pay Payment
	ok, err := getJSON(b.kv, StorePayments, RecordKey(p.ID), &pay)
	if err != nil {
		return nil, err
	}
	switch {
	case !ok:
		return nil, fieldErr(ErrNotFound, "payload.id", "payment %q", p.ID)
	case pay.Agency != ag.ID:
		return nil, fieldErr(ErrWrongAgency, "payload.id", "payment %q belongs to %s", p.ID, pay.Agency)
	case !CanTransition(KindPayment, pay.Status, PaymentReversed):
		return nil, fieldErr(ErrIllegalTransition, "payload.id", "payment %q is %s; cannot reverse", p.ID, pay.Status)
	}
	if err := b.fourEyes(tx, int64(pay.Amount), pay.Currency); err != nil {
		return nil, err
	}
	var g Grant
	if pay.Grant != "" {
		ok, err := getJSON(b.kv, StoreGrants, RecordKey(pay.Grant), &g)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("%w: payment %s references missing grant %s", ErrStorage, pay.ID, pay.Grant)
		}
	}
	t, err := b.total(ag.ID, pay.Currency)
	if err != nil {
		return nil, err
	}
	if int64(t.Reversed) > maxInt64-int64(pay.Amount) {
		return nil, fieldErr(ErrAmountOverflow, "payload.id", "agency total reversed in %s would overflow", pay.Currency)
	}
	pay.Status = PaymentReversed
	pay.Updated = b.info.Height
	if err := b.putPayment(&pay); err != nil {
		return nil, err
	}
	evs := []Event{paymentEvent(&pay, ActionReverse)}
	t.Paid -= pay.Amount
	t.Payments--
	t.Reversed += pay.Amount
	t.Reversals++
	if pay.Grant != "" {
		g.Disbursed -= pay.Amount
		g.Payments--
		g.Updated = b.info.Height
		if err := b.put(StoreGrants, RecordKey(g.ID), &g); err != nil {
			return nil, err
		}
		t.PaidAgainstGrant -= pay.Amount
		evs = append(evs, grantEvent(&g, ActionReversePayment))
	}
	return evs, nil
}
