package client

import (
	"slices"
	"testing"
)

func TestRecordChanges(t *testing.T) {
	before := []byte(`{"id":"G-1","currency":"EUR","awarded":"5000000","disbursed":"0","payments":0,"status":"awarded","updated_height":3,"period_end":"2026-12-31"}`)
	after := []byte(`{"id":"G-1","currency":"EUR","awarded":"6000000","disbursed":"0","payments":0,"status":"amended","updated_height":9,"period_end":"2026-12-31","amendment_document_hash":"ab"}`)
	got := RecordChanges(before, after)
	want := []FieldChange{
		{Field: "amendment_document_hash", Old: "", New: "ab"},
		{Field: "awarded", Old: "50,000.00 EUR", New: "60,000.00 EUR"},
		{Field: "status", Old: "awarded", New: "amended"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("RecordChanges = %+v\nwant %+v", got, want)
	}
	if s := want[0].String(); s != "amendment_document_hash: (none) → ab" {
		t.Errorf("String = %q", s)
	}
	if got := RecordChanges(before, before); len(got) != 0 {
		t.Errorf("no change: %+v", got)
	}
	// Numbers as JSON numbers are amounts too; objects compare by content.
	got = RecordChanges([]byte(`{"currency":"JPY","amount":480000,"payee":{"name":"A", "id":"1"}}`), []byte(`{"currency":"JPY","amount":500000,"payee":{"name":"A","id":"1"}}`))
	if !slices.Equal(got, []FieldChange{{Field: "amount", Old: "480,000 JPY", New: "500,000 JPY"}}) {
		t.Errorf("numbers: %+v", got)
	}
}
