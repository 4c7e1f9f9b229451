package client_test

import (
	"errors"
	"testing"

	"github.com/civicledger/civicledger/client"
)

// TestQueryErrorSentinels: a node's query code maps to one sentinel, and
// the message says what happened without naming a flag.
func TestQueryErrorSentinels(t *testing.T) {
	cases := []struct {
		code uint32
		want error
		msg  string
	}{
		{3, client.ErrNotFound, `grant "G-1" not found at height 9`},
		{4, client.ErrHeightUnavailable, "height 5 is not available on the node: pruned"},
		{2, client.ErrQueryRefused, "the node refused the query /grant/G-1: pruned"},
	}
	all := []error{client.ErrNotFound, client.ErrHeightUnavailable, client.ErrQueryRefused}
	for _, c := range cases {
		log := "pruned"
		if c.code == 3 {
			log = `grant "G-1" not found at height 9`
		}
		err := &client.QueryError{Path: "/grant/G-1", Code: c.code, Log: log, Asked: 5, Height: 9}
		for _, s := range all {
			if got := errors.Is(err, s); got != (s == c.want) {
				t.Errorf("code %d: errors.Is(%v) = %v", c.code, s, got)
			}
		}
		if err.Error() != c.msg {
			t.Errorf("code %d: %q, want %q", c.code, err.Error(), c.msg)
		}
	}
	if err := (&client.UnknownAgencyError{Agency: "a", Height: 3}); !errors.Is(err, client.ErrNotFound) {
		t.Error("UnknownAgencyError does not match ErrNotFound")
	}
}

// TestReadsRefuseBeforeAsking: an invalid id or an unknown kind is refused
// without contacting the node (there is none at this address).
func TestReadsRefuseBeforeAsking(t *testing.T) {
	c, err := client.New("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, _, err := c.Grant(ctx, "bad id!", 0); !errors.Is(err, client.ErrInvalidID) {
		t.Errorf("Grant(bad id): %v, want ErrInvalidID", err)
	}
	var ie *client.InvalidIDError
	if _, _, err := c.Record(ctx, "payment", "", 0); !errors.As(err, &ie) || ie.What != "payment" {
		t.Errorf("Record(empty id): %v, want an InvalidIDError for a payment", err)
	}
	if _, _, err := c.Record(ctx, "invoice", "X-1", 0); !errors.Is(err, client.ErrUnknownKind) {
		t.Errorf("Record(invoice): %v, want ErrUnknownKind", err)
	}
	if _, err := c.History(ctx, "invoice", "X-1"); !errors.Is(err, client.ErrUnknownKind) {
		t.Errorf("History(invoice): %v, want ErrUnknownKind", err)
	}
}
