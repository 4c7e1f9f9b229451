package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/civicledger/civicledger/ledger"
)

// FieldChange is one field of a record that a block changed: its value in
// the state before the block and after it, as text (amounts in the record's
// currency, "" for a field that was not there).
type FieldChange struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// SetTx fills the entry's signers, acting agency and reason from the raw
// transaction (what the tx says; the record's own change is in Changes).
func (e *HistoryEntry) SetTx(raw []byte) {
	tx, err := ledger.DecodeTx(raw, 0)
	if err != nil {
		return
	}
	e.Agency = tx.Body.Agency
	for _, s := range tx.Signatures {
		e.Signers = append(e.Signers, base64.StdEncoding.EncodeToString(s.PubKey))
	}
	var p struct {
		Reason string `json:"reason"`
	}
	if bz, err := json.Marshal(tx.Payload); err == nil && json.Unmarshal(bz, &p) == nil {
		e.Reason = p.Reason
	}
}

// HistoryChanges fills the Changes (or Created) of each entry of a record's history: the
// record at the entry's height against the record at the height before. It
// needs a node that keeps old states (an archive node, as ledgerd runs by
// default); where a height is pruned the entry keeps no changes. When two
// transactions of one block changed the record, both show the block's
// changes.
func (c *Client) HistoryChanges(ctx context.Context, kind ledger.Kind, id string, hist []HistoryEntry) error {
	cache := map[int64]json.RawMessage{}
	at := func(h int64) (json.RawMessage, bool, error) {
		if v, ok := cache[h]; ok {
			return v, true, nil
		}
		if h < 1 {
			cache[h] = nil
			return nil, true, nil
		}
		v, _, err := c.Record(ctx, kind, id, h)
		switch {
		case errors.Is(err, ErrNotFound):
			v = nil
		case err != nil:
			var ne *NodeError
			if errors.As(err, &ne) || ctx.Err() != nil {
				return nil, false, err
			}
			return nil, false, nil // a pruned height, or the node refused it
		}
		cache[h] = v
		return v, true, nil
	}
	for i := range hist {
		e := &hist[i]
		if e.Height < 1 {
			continue
		}
		before, ok1, err := at(e.Height - 1)
		if err != nil {
			return err
		}
		after, ok2, err := at(e.Height)
		if err != nil {
			return err
		}
		if ok1 && ok2 {
			e.Created = before == nil && after != nil
			if !e.Created {
				e.Changes = RecordChanges(before, after)
			}
		}
	}
	return nil
}

// bookkeeping are fields every change updates (the heights of a record's
// first and last change): not news in a history.
var bookkeeping = map[string]bool{"created_height": true, "updated_height": true}

// amountFields are the fields of records that hold amounts in minor units
// of the record's "currency".
var amountFields = map[string]bool{"awarded": true, "disbursed": true, "amount": true}

// RecordChanges compares two JSON records (nil: absent) field by field, in
// field order, and returns the fields whose values differ.
func RecordChanges(before, after json.RawMessage) []FieldChange {
	var b, a map[string]json.RawMessage
	_ = json.Unmarshal(before, &b)
	_ = json.Unmarshal(after, &a)
	cur := currencyOf(a)
	if cur == "" {
		cur = currencyOf(b)
	}
	names := map[string]bool{}
	for k := range b {
		names[k] = true
	}
	for k := range a {
		names[k] = true
	}
	fields := make([]string, 0, len(names))
	for k := range names {
		fields = append(fields, k)
	}
	sort.Strings(fields)
	var out []FieldChange
	for _, f := range fields {
		if bookkeeping[f] {
			continue
		}
		ov, nv := b[f], a[f]
		if bytes.Equal(compact(ov), compact(nv)) {
			continue
		}
		out = append(out, FieldChange{Field: f, Old: fieldText(f, ov, cur), New: fieldText(f, nv, cur)})
	}
	return out
}

func currencyOf(m map[string]json.RawMessage) string {
	var c string
	if v, ok := m["currency"]; ok {
		_ = json.Unmarshal(v, &c)
	}
	return c
}

func compact(v json.RawMessage) []byte {
	if v == nil {
		return nil
	}
	var buf bytes.Buffer
	if json.Compact(&buf, v) != nil {
		return v
	}
	return buf.Bytes()
}

// fieldText shows a field's value: strings without quotes, amounts in the
// currency's units, anything else as compact JSON; "" if absent.
func fieldText(field string, v json.RawMessage, currency string) string {
	if v == nil {
		return ""
	}
	var s string
	isString := json.Unmarshal(v, &s) == nil
	if amountFields[field] && currency != "" {
		num := string(compact(v))
		if isString {
			num = s
		}
		if n, err := strconv.ParseInt(num, 10, 64); err == nil {
			return ledger.FormatMoney(n, currency)
		}
	}
	if isString {
		return s
	}
	return string(compact(v))
}

// String is a change as one phrase: "disbursed: 0.00 EUR → 60,000.00 EUR".
func (c FieldChange) String() string {
	o, n := c.Old, c.New
	if o == "" {
		o = "(none)"
	}
	if n == "" {
		n = "(none)"
	}
	return fmt.Sprintf("%s: %s → %s", c.Field, o, n)
}
