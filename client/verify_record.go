package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/civicledger/civicledger/ledger"
)

// ErrRecordMismatch: a proved value is not the record asked for (the node
// proved another record's value under the key). VerdictOf calls it Failed.
var ErrRecordMismatch = errors.New("the proved value is not the record asked for")

// MatchStep checks that a proved value is the one asked for: what names
// it ("grant", "totals"), got is the id the value holds, want the one asked
// for. It returns the "record" step and, when they differ, an error wrapping
// ErrRecordMismatch.
func MatchStep(what, got, want string) (Step, error) {
	if got != want {
		err := fmt.Errorf("%w: %s %q is stored under key %q", ErrRecordMismatch, what, got, want)
		return Step{Name: "record", Detail: err.Error()}, err
	}
	return Step{Name: "record", OK: true, Detail: fmt.Sprintf("the proved value is %s %s", what, want)}, nil
}

// Undecodable is what MatchStep is given as the id of a value that does
// not decode.
func Undecodable(err error) string { return "(undecodable: " + err.Error() + ")" }

// VerifyRecord verifies record kind id at height (0: the latest state)
// as VerifyKeyReport does, then checks that the proved value is that record
// (its "record" step is the report's last). For a present payment,
// approvers maps the keys of its agency's officers to their names, from the
// agency record proved at the same height (best effort: empty when it
// cannot be proved; never from an unproved answer); nil otherwise. On
// failure it returns the report so far, whose last step failed, with the
// error.
func (v *Verifier) VerifyRecord(ctx context.Context, kind ledger.Kind, id string, height int64) (r *KeyReport, approvers map[string]string, err error) {
	store := ledger.StoreOf(kind)
	if store == "" {
		return &KeyReport{}, nil, fmt.Errorf("%w %q", ErrUnknownKind, kind)
	}
	r, err = v.VerifyKeyReport(ctx, store, ledger.RecordKey(id), height)
	if err != nil || !r.Present {
		return r, nil, err
	}
	var rec struct {
		ID     string `json:"id"`
		Agency string `json:"agency"`
	}
	got := ""
	if derr := json.Unmarshal(r.Value, &rec); derr != nil {
		got = Undecodable(derr)
	} else {
		got = rec.ID
	}
	step, err := MatchStep(string(kind), got, id)
	r.Steps = append(r.Steps, step)
	if err != nil {
		return r, nil, err
	}
	if kind == ledger.KindPayment {
		approvers = map[string]string{}
		if kp, err := v.VerifyKey(ctx, ledger.StoreAgencies, ledger.RecordKey(rec.Agency), r.Height); err == nil && kp.Present {
			var a ledger.Agency
			if json.Unmarshal(kp.Value, &a) == nil {
				for _, off := range a.Officers {
					approvers[string(off.Key)] = off.Name
				}
			}
		}
	}
	return r, approvers, nil
}
