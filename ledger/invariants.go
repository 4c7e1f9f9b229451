package ledger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
)

// CheckInvariants recomputes every running total from the records and checks
// the rules that must hold after every block:
//   - each grant has 0 ≤ disbursed ≤ awarded and a legal status;
//   - each grant's disbursed amount and payment count equal the sum and count
//     of its recorded (unreversed) payments, which are in its currency;
//   - each agency's totals equal the sums over its grants and payments;
//   - each index entry matches its record's status;
//   - the active agencies hold positive power and at least one exists, each
//     validator key is indexed to its agency, each proposal's tally is the sum
//     of its votes' powers, and a proposal is queued exactly while it is open.
//
// It returns one message per broken invariant (nil if none). It reads the
// whole state: use it in tests and audits, not in consensus.
func CheckInvariants(r Reader) ([]string, error) {
	var broken []string
	fail := func(format string, args ...any) { broken = append(broken, fmt.Sprintf(format, args...)) }

	grants := map[string]*Grant{}
	err := r.Iterate(StoreGrants, nil, nil, func(k, v []byte) bool {
		if bytes.Equal(k, SeedKey) {
			return true
		}
		var g Grant
		if err := json.Unmarshal(v, &g); err != nil {
			fail("grant %s: undecodable: %v", k, err)
			return true
		}
		grants[g.ID] = &g
		return true
	})
	if err != nil {
		return nil, err
	}
	type sum struct {
		amount Amount
		count  int64
	}
	perGrant := map[string]*sum{}
	want := map[string]*Totals{}
	tot := func(agency, cur string) *Totals {
		k := string(TotalsKey(agency, cur))
		if want[k] == nil {
			want[k] = &Totals{Agency: agency, Currency: cur}
		}
		return want[k]
	}
	for _, g := range grants {
		t := tot(g.Agency, g.Currency)
		t.Awarded += g.Awarded
		t.Grants++
		perGrant[g.ID] = &sum{}
	}
	err = r.Iterate(StorePayments, nil, nil, func(k, v []byte) bool {
		if bytes.Equal(k, SeedKey) {
			return true
		}
		var p Payment
		if err := json.Unmarshal(v, &p); err != nil {
			fail("payment %s: undecodable: %v", k, err)
			return true
		}
		t := tot(p.Agency, p.Currency)
		switch p.Status {
		case PaymentRecorded:
			t.Paid += p.Amount
			t.Payments++
			if p.Grant != "" {
				t.PaidAgainstGrant += p.Amount
				s := perGrant[p.Grant]
				g := grants[p.Grant]
				if s == nil || g == nil {
					fail("payment %s references missing grant %s", p.ID, p.Grant)
					return true
				}
				if g.Currency != p.Currency {
					fail("payment %s in %s against grant %s in %s", p.ID, p.Currency, g.ID, g.Currency)
				}
				s.amount += p.Amount
				s.count++
			}
		case PaymentReversed:
			t.Reversed += p.Amount
			t.Reversals++
		default:
			fail("payment %s has unknown status %q", p.ID, p.Status)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(grants))
	for id := range grants {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		g := grants[id]
		switch g.Status {
		case GrantAwarded, GrantAmended, GrantClosed, GrantRevoked:
		default:
			fail("grant %s has unknown status %q", id, g.Status)
		}
		if g.Disbursed < 0 || g.Disbursed > g.Awarded {
			fail("grant %s: disbursed %s outside [0, awarded %s]", id, MoneyWithMinor(int64(g.Disbursed), g.Currency), MoneyWithMinor(int64(g.Awarded), g.Currency))
		}
		if s := perGrant[id]; s.amount != g.Disbursed || s.count != g.Payments {
			fail("grant %s: disbursed %s in %d payments, but its payments sum to %s in %d", id,
				MoneyWithMinor(int64(g.Disbursed), g.Currency), g.Payments, MoneyWithMinor(int64(s.amount), g.Currency), s.count)
		}
		st, err := r.Get(StoreIndex, IndexGrantByAgency(g.Agency, id))
		if err != nil {
			return nil, err
		}
		if string(st) != g.Status {
			fail("grant %s: index status %q, record status %q", id, st, g.Status)
		}
	}
	stored := map[string]*Totals{}
	err = r.Iterate(StoreMeta, []byte("total/"), PrefixEnd([]byte("total/")), func(k, v []byte) bool {
		var t Totals
		if err := json.Unmarshal(v, &t); err != nil {
			fail("totals %s: undecodable: %v", k, err)
			return true
		}
		stored[string(k)] = &t
		return true
	})
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(want)+len(stored))
	for k := range want {
		keys = append(keys, k)
	}
	for k := range stored {
		if want[k] == nil {
			keys = append(keys, k)
			want[k] = &Totals{Agency: stored[k].Agency, Currency: stored[k].Currency}
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		s := stored[k]
		if s == nil {
			s = &Totals{Agency: want[k].Agency, Currency: want[k].Currency}
		}
		if *s != *want[k] {
			fail("%s: stored %+v, recomputed %+v", k, *s, *want[k])
		}
	}
	gov, err := govInvariants(r)
	if err != nil {
		return nil, err
	}
	return append(broken, gov...), nil
}
