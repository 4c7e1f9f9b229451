package ledger_test

// The wire vocabulary, pinned: every string below is stored, indexed or sent
// by clients, so a rename must fail here first. The transitions table is
// checked both as a table (allowed and forbidden pairs) and against what the
// state machine does with a record in each status.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/civicledger/civicledger/ledger"
)

func pin[G ~string](t *testing.T, what string, got G, want string) {
	t.Helper()
	if string(got) != want {
		t.Errorf("%s = %q, want %q (a wire name: renaming it breaks stored records, indexes or clients)", what, got, want)
	}
}

func TestVocabularyKinds(t *testing.T) {
	for _, c := range []struct {
		kind        ledger.Kind
		want, store string
	}{
		{ledger.KindAgency, "agency", "agencies"},
		{ledger.KindGrant, "grant", "grants"},
		{ledger.KindLicence, "licence", "licences"},
		{ledger.KindPayment, "payment", "payments"},
		{ledger.KindProposal, "proposal", ""},
	} {
		pin(t, "kind", c.kind, c.want)
		pin(t, "StoreOf("+c.want+")", ledger.StoreOf(c.kind), c.store)
	}
	if want := []ledger.Kind{"agency", "grant", "licence", "payment"}; !slices.Equal(ledger.RecordKinds, want) {
		t.Errorf("RecordKinds = %v, want %v", ledger.RecordKinds, want)
	}
	if want := []ledger.Kind{"grant", "licence", "payment"}; !slices.Equal(ledger.ListedKinds, want) {
		t.Errorf("ListedKinds = %v, want %v", ledger.ListedKinds, want)
	}
	if got := ledger.StoreOf("total"); got != "" {
		t.Errorf("StoreOf(total) = %q, want none", got)
	}
}

func TestVocabularyStatuses(t *testing.T) {
	want := map[ledger.Kind][]string{
		"grant":    {"awarded", "amended", "closed", "revoked"},
		"licence":  {"issued", "renewed", "suspended", "reinstated", "revoked", "expired"},
		"payment":  {"recorded", "reversed"},
		"proposal": {"voting", "notice", "executed", "rejected", "failed"},
	}
	for kind, w := range want {
		if got := ledger.StatusesOf(kind); !slices.Equal(got, w) {
			t.Errorf("StatusesOf(%s) = %v, want %v", kind, got, w)
		}
	}
	if got := ledger.StatusesOf(ledger.KindAgency); got != nil {
		t.Errorf("agencies have no status, got %v", got)
	}
	pins := []struct{ got, want string }{
		{string(ledger.GrantAwarded), "awarded"}, {string(ledger.GrantAmended), "amended"},
		{string(ledger.GrantClosed), "closed"}, {string(ledger.GrantRevoked), "revoked"},
		{string(ledger.LicenceIssued), "issued"}, {string(ledger.LicenceRenewed), "renewed"},
		{string(ledger.LicenceSuspended), "suspended"}, {string(ledger.LicenceReinstated), "reinstated"},
		{string(ledger.LicenceRevoked), "revoked"}, {string(ledger.LicenceExpired), "expired"},
		{string(ledger.PaymentRecorded), "recorded"}, {string(ledger.PaymentReversed), "reversed"},
		{string(ledger.ProposalVoting), "voting"}, {string(ledger.ProposalNotice), "notice"},
		{string(ledger.ProposalExecuted), "executed"}, {string(ledger.ProposalRejected), "rejected"},
		{string(ledger.ProposalFailed), "failed"},
	}
	for _, p := range pins {
		pin(t, "status", p.got, p.want)
	}
	if want := []ledger.GrantStatus{"awarded", "amended"}; !slices.Equal(ledger.GrantPayableStatuses, want) {
		t.Errorf("GrantPayableStatuses = %v, want %v", ledger.GrantPayableStatuses, want)
	}
}

// allowedTransitions is the transitions table as wire strings:
// kind, from, to, tx type, event action.
var allowedTransitions = []string{
	"grant  -> awarded grant/award award",
	"grant awarded -> amended grant/amend amend",
	"grant amended -> amended grant/amend amend",
	"grant awarded -> closed grant/close close",
	"grant amended -> closed grant/close close",
	"grant awarded -> revoked grant/revoke revoke",
	"grant amended -> revoked grant/revoke revoke",
	"licence  -> issued licence/issue issue",
	"licence issued -> renewed licence/renew renew",
	"licence renewed -> renewed licence/renew renew",
	"licence reinstated -> renewed licence/renew renew",
	"licence issued -> suspended licence/suspend suspend",
	"licence renewed -> suspended licence/suspend suspend",
	"licence reinstated -> suspended licence/suspend suspend",
	"licence suspended -> reinstated licence/reinstate reinstate",
	"licence issued -> revoked licence/revoke revoke",
	"licence renewed -> revoked licence/revoke revoke",
	"licence suspended -> revoked licence/revoke revoke",
	"licence reinstated -> revoked licence/revoke revoke",
	"licence issued -> expired  expire",
	"licence renewed -> expired  expire",
	"licence suspended -> expired  expire",
	"licence reinstated -> expired  expire",
	"payment  -> recorded payment/record record",
	"payment recorded -> reversed payment/reverse reverse",
	"proposal  -> voting gov/propose ",
	"proposal voting -> notice gov/vote ",
	"proposal voting -> rejected  ",
	"proposal notice -> executed  ",
	"proposal notice -> failed  ",
}

func transitionString(tr ledger.Transition) string {
	return fmt.Sprintf("%s %s -> %s %s %s", tr.Kind, tr.From, tr.To, tr.Tx, tr.Action)
}

func TestTransitionsTable(t *testing.T) {
	var got []string
	seen := map[string]bool{}
	for _, tr := range ledger.Transitions {
		got = append(got, transitionString(tr))
		k := string(tr.Kind) + "/" + tr.From + "/" + tr.To
		if seen[k] {
			t.Errorf("transition %s %q -> %q listed twice", tr.Kind, tr.From, tr.To)
		}
		seen[k] = true
		if tr.From != "" && !slices.Contains(ledger.StatusesOf(tr.Kind), tr.From) {
			t.Errorf("%s: from is not a %s status", transitionString(tr), tr.Kind)
		}
		if !slices.Contains(ledger.StatusesOf(tr.Kind), tr.To) {
			t.Errorf("%s: to is not a %s status", transitionString(tr), tr.Kind)
		}
		if tr.Tx != "" && !slices.Contains(ledger.TxTypes(), tr.Tx) {
			t.Errorf("%s: unknown tx type", transitionString(tr))
		}
	}
	if !slices.Equal(got, allowedTransitions) {
		t.Errorf("Transitions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(allowedTransitions, "\n"))
	}
	// Every other pair of a kind's statuses (and creation into any of
	// them) is forbidden.
	for _, kind := range []ledger.Kind{ledger.KindGrant, ledger.KindLicence, ledger.KindPayment, ledger.KindProposal} {
		for _, from := range append([]string{""}, ledger.StatusesOf(kind)...) {
			for _, to := range ledger.StatusesOf(kind) {
				want := seen[string(kind)+"/"+from+"/"+to]
				if got := ledger.CanTransition(kind, from, to); got != want {
					t.Errorf("CanTransition(%s, %q, %q) = %v, want %v", kind, from, to, got, want)
				}
			}
		}
	}
	for _, c := range []struct {
		kind     ledger.Kind
		from, to string
	}{
		{ledger.KindGrant, string(ledger.GrantClosed), string(ledger.GrantAwarded)},
		{ledger.KindLicence, string(ledger.LicenceRevoked), string(ledger.LicenceExpired)},
		{ledger.KindLicence, string(ledger.LicenceExpired), string(ledger.LicenceRenewed)},
		{ledger.KindPayment, string(ledger.PaymentReversed), string(ledger.PaymentRecorded)},
		{ledger.KindProposal, string(ledger.ProposalNotice), string(ledger.ProposalRejected)},
		{ledger.KindAgency, "", "active"},
		{ledger.KindGrant, string(ledger.LicenceIssued), string(ledger.LicenceRenewed)}, // another kind's statuses
	} {
		if ledger.CanTransition(c.kind, c.from, c.to) {
			t.Errorf("CanTransition(%s, %q, %q) allowed", c.kind, c.from, c.to)
		}
	}
}

func TestVocabularyEvents(t *testing.T) {
	wantTypes := []string{"agency", "gov_deferred", "gov_proposal", "gov_vote", "grant", "licence", "officer", "params", "payment", "tx"}
	if !slices.Equal(ledger.EventTypes, wantTypes) {
		t.Errorf("EventTypes = %v, want %v", ledger.EventTypes, wantTypes)
	}
	for _, p := range []struct{ got, want string }{
		{ledger.EventTx, "tx"}, {ledger.EventGrant, "grant"}, {ledger.EventLicence, "licence"},
		{ledger.EventPayment, "payment"}, {ledger.EventAgency, "agency"}, {ledger.EventOfficer, "officer"},
		{ledger.EventProposal, "gov_proposal"}, {ledger.EventVote, "gov_vote"},
		{ledger.EventDeferred, "gov_deferred"}, {ledger.EventParams, "params"},
	} {
		pin(t, "event type", p.got, p.want)
	}
	for _, p := range []struct{ got, want string }{
		{ledger.AttrID, "id"}, {ledger.AttrAgency, "agency"}, {ledger.AttrAction, "action"},
		{ledger.AttrStatus, "status"}, {ledger.AttrType, "type"}, {ledger.AttrSigner, "signer"},
		{ledger.AttrRecipient, "recipient"}, {ledger.AttrProgramme, "programme"},
		{ledger.AttrCurrency, "currency"}, {ledger.AttrAwarded, "awarded"},
		{ledger.AttrDocumentHash, "document_hash"}, {ledger.AttrHolder, "holder"},
		{ledger.AttrValidUntil, "valid_until"}, {ledger.AttrGrant, "grant"}, {ledger.AttrPayee, "payee"},
		{ledger.AttrAmount, "amount"}, {ledger.AttrKey, "key"}, {ledger.AttrName, "name"},
		{ledger.AttrRoles, "roles"}, {ledger.AttrPower, "power"}, {ledger.AttrValidatorKey, "validator_key"},
		{ledger.AttrKind, "kind"}, {ledger.AttrProposer, "proposer"}, {ledger.AttrTarget, "target"},
		{ledger.AttrEffectiveHeight, "effective_height"}, {ledger.AttrProposal, "proposal"},
		{ledger.AttrOption, "option"}, {ledger.AttrToHeight, "to_height"},
	} {
		pin(t, "attribute", p.got, p.want)
	}
	for _, p := range []struct{ got, want string }{
		{ledger.ActionAward, "award"}, {ledger.ActionAmend, "amend"}, {ledger.ActionClose, "close"},
		{ledger.ActionRevoke, "revoke"}, {ledger.ActionDisburse, "disburse"},
		{ledger.ActionReversePayment, "reverse-payment"}, {ledger.ActionIssue, "issue"},
		{ledger.ActionRenew, "renew"}, {ledger.ActionSuspend, "suspend"},
		{ledger.ActionReinstate, "reinstate"}, {ledger.ActionExpire, "expire"},
		{ledger.ActionRecord, "record"}, {ledger.ActionReverse, "reverse"}, {ledger.ActionAdd, "add"},
		{ledger.ActionRemove, "remove"}, {ledger.ActionSetRoles, "set-roles"},
		{ledger.ActionSetPower, "set-power"}, {ledger.ActionRotate, "rotate-validator"},
	} {
		pin(t, "action", p.got, p.want)
	}
	pin(t, "EventKey", ledger.EventKey(ledger.EventGrant, ledger.AttrID), "grant.id")
	pin(t, "RecordEventQuery", ledger.RecordEventQuery(ledger.KindLicence, "L-1"), "licence.id='L-1'")
	pin(t, "EventQuery", ledger.EventQuery(ledger.EventOfficer, ledger.AttrAgency, "agency-a"), "officer.agency='agency-a'")
}

// TestSearched: the attributes the kv indexer writes are exactly those the
// client's, the portal's and the docs' searches use.
func TestSearched(t *testing.T) {
	want := map[string]bool{"grant.id": true, "licence.id": true, "payment.id": true, "agency.id": true,
		"officer.agency": true, "gov_proposal.status": true}
	attrs := []string{ledger.AttrID, ledger.AttrAgency, ledger.AttrAction, ledger.AttrStatus, ledger.AttrType,
		ledger.AttrSigner, ledger.AttrGrant, ledger.AttrAmount, ledger.AttrCurrency, ledger.AttrKey, ledger.AttrTarget}
	for _, typ := range ledger.EventTypes {
		for _, at := range attrs {
			if got := ledger.Searched(typ, at); got != want[ledger.EventKey(typ, at)] {
				t.Errorf("Searched(%q, %q) = %v", typ, at, got)
			}
		}
	}
}

// The events a chain emits use only the declared types and attribute names,
// and, for the records, the attributes in a fixed order.
func TestEventsUseVocabulary(t *testing.T) {
	c := newFixture(t)
	var evs []ledger.Event
	br := c.mustOK(
		c.tx(cultGrants, amend("g-small", "200000")),
		c.tx(cultLic, renew("l-issued", "2027-06-30")),
		c.tx(cultAdmin, addOfficer(newcomer, ledger.RoleGrants)),
		c.tx(cultFin1, pay("p-vocab", "g-open", "1000")),
		c.tx(cultFin1, reverse("p-vocab")),
	)
	for _, r := range br.results {
		evs = append(evs, r.Events...)
	}
	c.mustOK(c.tx(cultLic, issue("l-short", fixtureDate)))
	c.now = time.Date(2025, 3, 11, 8, 0, 0, 0, time.UTC)
	evs = append(evs, c.block().begin...)
	want := map[string]string{
		"tx":      "type agency signer",
		"grant":   "id agency action status recipient programme currency awarded",
		"licence": "id agency action status holder type valid_until",
		"payment": "id agency action status grant payee currency amount",
		"officer": "agency key name action roles",
	}
	seen := map[string]bool{}
	for _, e := range evs {
		if !slices.Contains(ledger.EventTypes, e.Type) {
			t.Errorf("event type %q is not in EventTypes", e.Type)
		}
		var keys []string
		for _, a := range e.Attrs {
			if !a.Index {
				t.Errorf("%s.%s is not indexed", e.Type, a.Key)
			}
			if a.Key != ledger.AttrDocumentHash {
				keys = append(keys, a.Key)
			}
		}
		if w, ok := want[e.Type]; ok && strings.Join(keys, " ") != w {
			t.Errorf("%s event attributes %v, want %s", e.Type, keys, w)
		}
		seen[e.Type] = true
		if a := attrOf(e, ledger.AttrAction); a != "" {
			seen[e.Type+"/"+a] = true
		}
	}
	for _, s := range []string{"tx", "grant/amend", "grant/disburse", "grant/reverse-payment", "licence/renew", "licence/expire",
		"payment/record", "payment/reverse", "officer/add"} {
		if !seen[s] {
			t.Errorf("no %s event seen", s)
		}
	}
}

func attrOf(e ledger.Event, key string) string { return attr(&e, key) }

func TestVocabularyQueries(t *testing.T) {
	for _, p := range []struct{ got, want string }{
		{ledger.QueryStoreKey(ledger.StoreMeta), "/store/meta/key"},
		{ledger.QueryRecord(ledger.KindGrant, "G-1"), "/grant/G-1"},
		{ledger.QueryRecord(ledger.KindAgency, "a-1"), "/agency/a-1"},
		{ledger.QueryRecords(ledger.KindGrant), "/grants"},
		{ledger.QueryRecords(ledger.KindLicence), "/licences"},
		{ledger.QueryRecords(ledger.KindPayment), "/payments"},
		{ledger.QueryGrantPayments("G-1"), "/grant/G-1/payments"},
		{ledger.QueryTotals("a-1", "EUR"), "/totals/a-1/EUR"},
		{ledger.QueryProposal("7"), "/proposal/7"},
		{ledger.QueryProposalID(7), "/proposal/7"},
		{ledger.QueryListing(ledger.ListingGrantPayments), "/list/grant-payments"},
		{ledger.QueryAgencies, "/agencies"},
		{ledger.QueryParams, "/params"},
		{ledger.QueryProposals, "/proposals"},
		{ledger.QuerySnapshots, "/snapshots"},
	} {
		pin(t, "query path", p.got, p.want)
	}
	for _, c := range []struct {
		got, want uint32
	}{{ledger.QueryCodeBadRequest, 2}, {ledger.QueryCodeNotFound, 3}, {ledger.QueryCodeNoVersion, 4}} {
		if c.got != c.want {
			t.Errorf("query code %d, want %d", c.got, c.want)
		}
	}
}

// The request bodies: their JSON, and a malformed body's error naming the
// field as a node always has.
func TestVocabularyRequestBodies(t *testing.T) {
	for _, c := range []struct {
		v    any
		want string
	}{
		{ledger.RecordFilter{Agency: "a", Status: "awarded", After: "G-1", Limit: 5}, `{"agency":"a","status":"awarded","after":"G-1","limit":5}`},
		{ledger.RecordFilter{}, `{}`},
		{ledger.PageRequest{After: "P-1", Limit: 2}, `{"after":"P-1","limit":2}`},
		{ledger.ProposalFilter{Status: "voting", After: 3, Limit: 2}, `{"status":"voting","after":3,"limit":2}`},
		{ledger.ListingRequest{Owner: "a", After: "G-1", Limit: 2}, `{"owner":"a","after":"G-1","limit":2}`},
	} {
		bz, err := json.Marshal(c.v)
		if err != nil || string(bz) != c.want {
			t.Errorf("%T: %s, %v; want %s", c.v, bz, err, c.want)
		}
	}
	var f ledger.RecordFilter
	err := json.Unmarshal([]byte(`{"limit":"x"}`), &f)
	if err == nil || !strings.Contains(err.Error(), "Go struct field .limit of type int") {
		t.Errorf("malformed filter: %v", err)
	}
}

// statusRecord is a record of the fixture in a status: id, after setup.
type statusRecord struct {
	status string
	id     string
	setup  func(c *chain)
}

// TestTransitionsApplied: the state machine makes a status change exactly
// when the table allows it, reports it with the table's action, and refuses
// the others with ErrIllegalTransition.
func TestTransitionsApplied(t *testing.T) {
	type action struct {
		to  string
		typ string
		tx  func(c *chain, id string) []byte
	}
	grants := []statusRecord{
		{string(ledger.GrantAwarded), "g-small", nil},
		{string(ledger.GrantAmended), "g-small", func(c *chain) { c.mustOK(c.tx(cultGrants, amend("g-small", "200000"))) }},
		{string(ledger.GrantClosed), "g-closed", nil},
		{string(ledger.GrantRevoked), "g-revoked", nil},
	}
	licences := []statusRecord{
		{string(ledger.LicenceIssued), "l-issued", nil},
		{string(ledger.LicenceRenewed), "l-renewed", nil},
		{string(ledger.LicenceSuspended), "l-suspended", nil},
		{string(ledger.LicenceReinstated), "l-reinst", nil},
		{string(ledger.LicenceRevoked), "l-revoked", nil},
		{string(ledger.LicenceExpired), "l-short", expireShort},
	}
	payments := []statusRecord{
		{string(ledger.PaymentRecorded), "p-open1", nil},
		{string(ledger.PaymentReversed), "p-reversed", nil},
	}
	kinds := []struct {
		kind    ledger.Kind
		records []statusRecord
		actions []action
	}{
		{ledger.KindGrant, grants, []action{
			{string(ledger.GrantAmended), ledger.TypeGrantAmend, func(c *chain, id string) []byte { return c.tx(cultGrants, amend(id, "300000")) }},
			{string(ledger.GrantClosed), ledger.TypeGrantClose, func(c *chain, id string) []byte { return c.tx(cultGrants, closeGrant(id)) }},
			{string(ledger.GrantRevoked), ledger.TypeGrantRevoke, func(c *chain, id string) []byte { return c.tx(cultGrants, revokeGrant(id)) }},
		}},
		{ledger.KindLicence, licences, []action{
			{string(ledger.LicenceRenewed), ledger.TypeLicenceRenew, func(c *chain, id string) []byte { return c.tx(cultLic, renew(id, "2027-06-30")) }},
			{string(ledger.LicenceSuspended), ledger.TypeLicenceSuspend, func(c *chain, id string) []byte { return c.tx(cultLic, suspend(id)) }},
			{string(ledger.LicenceReinstated), ledger.TypeLicenceReinstate, func(c *chain, id string) []byte { return c.tx(cultLic, reinstate(id)) }},
			{string(ledger.LicenceRevoked), ledger.TypeLicenceRevoke, func(c *chain, id string) []byte { return c.tx(cultLic, revokeLicence(id)) }},
		}},
		{ledger.KindPayment, payments, []action{
			{string(ledger.PaymentReversed), ledger.TypePaymentReverse, func(c *chain, id string) []byte { return c.tx(cultFin1, reverse(id)) }},
		}},
	}
	for _, k := range kinds {
		for _, rec := range k.records {
			for _, a := range k.actions {
				t.Run(fmt.Sprintf("%s/%s/%s", k.kind, rec.status, a.typ), func(t *testing.T) {
					t.Parallel()
					c := newFixture(t)
					if rec.setup != nil {
						rec.setup(c)
					}
					res := c.run(a.tx(c, rec.id))
					tr, allowed := transitionOf(k.kind, rec.status, a.to)
					if !allowed {
						expectResult(t, res, ledger.ErrIllegalTransition)
						return
					}
					expectResult(t, res, nil)
					checkTransitionEvent(t, res.Events, tr, rec.id, a.typ)
				})
			}
		}
	}
	t.Run("create", func(t *testing.T) {
		c := newFixture(t)
		for _, cr := range []struct {
			kind    ledger.Kind
			id, typ string
			raw     []byte
		}{
			{ledger.KindGrant, "g-new", ledger.TypeGrantAward, c.tx(cultGrants, award("g-new", "1000"))},
			{ledger.KindLicence, "l-new", ledger.TypeLicenceIssue, c.tx(cultLic, issue("l-new", "2026-01-01"))},
			{ledger.KindPayment, "p-new", ledger.TypePaymentRecord, c.tx(cultFin1, pay("p-new", "", "1000"))},
		} {
			res := c.run(cr.raw)
			expectResult(t, res, nil)
			to := attr(findEvent(res.Events, cr.kind, ledger.AttrID, cr.id), ledger.AttrStatus)
			tr, ok := transitionOf(cr.kind, "", to)
			if !ok {
				t.Fatalf("%s created in status %q: not in the table", cr.kind, to)
			}
			checkTransitionEvent(t, res.Events, tr, cr.id, cr.typ)
		}
	})
	t.Run("expire", func(t *testing.T) {
		for _, from := range []ledger.LicenceStatus{ledger.LicenceIssued, ledger.LicenceRenewed, ledger.LicenceSuspended, ledger.LicenceReinstated} {
			c := newChain(t)
			c.mustOK(c.tx(cultLic, issue("l-e", fixtureDate)))
			switch from {
			case ledger.LicenceRenewed:
				c.mustOK(c.tx(cultLic, renew("l-e", "2025-03-11")))
			case ledger.LicenceSuspended:
				c.mustOK(c.tx(cultLic, suspend("l-e")))
			case ledger.LicenceReinstated:
				c.mustOK(c.tx(cultLic, suspend("l-e")))
				c.mustOK(c.tx(cultLic, reinstate("l-e")))
			}
			if got := c.licence("l-e").Status; got != from {
				t.Fatalf("l-e is %s, want %s", got, from)
			}
			c.now = time.Date(2025, 3, 13, 8, 0, 0, 0, time.UTC)
			tr, ok := transitionOf(ledger.KindLicence, string(from), string(ledger.LicenceExpired))
			if !ok {
				t.Fatalf("a %s licence cannot expire", from)
			}
			checkTransitionEvent(t, c.block().begin, tr, "l-e", "")
		}
	})
}

// TestGrantPayable: a payment may be recorded against a grant exactly in
// GrantPayableStatuses.
func TestGrantPayable(t *testing.T) {
	for _, rec := range []statusRecord{
		{string(ledger.GrantAwarded), "g-small", nil},
		{string(ledger.GrantAmended), "g-small", func(c *chain) { c.mustOK(c.tx(cultGrants, amend("g-small", "200000"))) }},
		{string(ledger.GrantClosed), "g-closed", nil},
		{string(ledger.GrantRevoked), "g-revoked", nil},
	} {
		t.Run(rec.status, func(t *testing.T) {
			t.Parallel()
			c := newFixture(t)
			if rec.setup != nil {
				rec.setup(c)
			}
			res := c.run(c.tx(cultFin1, pay("p-vocab", rec.id, "1000")))
			if slices.Contains(ledger.GrantPayableStatuses, ledger.GrantStatus(rec.status)) {
				expectResult(t, res, nil)
				if e := findEvent(res.Events, ledger.EventGrant, ledger.AttrID, rec.id); e == nil || attr(e, ledger.AttrAction) != ledger.ActionDisburse || attr(e, ledger.AttrStatus) != rec.status {
					t.Fatalf("no disburse event keeping status %s: %+v", rec.status, res.Events)
				}
				return
			}
			expectResult(t, res, ledger.ErrGrantNotPayable)
		})
	}
}

func transitionOf(kind ledger.Kind, from, to string) (ledger.Transition, bool) {
	i := slices.IndexFunc(ledger.Transitions, func(tr ledger.Transition) bool {
		return tr.Kind == kind && tr.From == from && tr.To == to
	})
	if i < 0 {
		if ledger.CanTransition(kind, from, to) {
			panic("CanTransition allows a transition the table does not list")
		}
		return ledger.Transition{}, false
	}
	if !ledger.CanTransition(kind, from, to) {
		panic("CanTransition refuses a transition the table lists")
	}
	return ledger.Transitions[i], true
}

// checkTransitionEvent checks that the record's event reports the
// transition's new status and action, made by the transition's tx type.
func checkTransitionEvent(t *testing.T, evs []ledger.Event, tr ledger.Transition, id, typ string) {
	t.Helper()
	e := findEvent(evs, tr.Kind, ledger.AttrID, id)
	if e == nil {
		t.Fatalf("no %s event for %s: %+v", tr.Kind, id, evs)
	}
	if got := attr(e, ledger.AttrStatus); got != tr.To {
		t.Errorf("%s %s: status %q, want %q", tr.Kind, id, got, tr.To)
	}
	if got := attr(e, ledger.AttrAction); got != tr.Action {
		t.Errorf("%s %s: action %q, want %q", tr.Kind, id, got, tr.Action)
	}
	if typ != tr.Tx {
		t.Errorf("%s %s: made by %q, the table says %q", tr.Kind, id, typ, tr.Tx)
	}
}

// The other names a client sends or reads: transaction types, roles,
// proposal kinds, vote options and provable listings.
func TestVocabularyPayloadValues(t *testing.T) {
	want := []string{"agency/officer-add", "agency/officer-remove", "agency/officer-roles", "gov/propose", "gov/vote",
		"grant/amend", "grant/award", "grant/close", "grant/revoke", "licence/issue", "licence/reinstate", "licence/renew",
		"licence/revoke", "licence/suspend", "payment/record", "payment/reverse"}
	if got := ledger.TxTypes(); !slices.Equal(got, want) {
		t.Errorf("TxTypes = %v, want %v", got, want)
	}
	roles := make([]string, len(ledger.AllRoles))
	for i, r := range ledger.AllRoles {
		roles[i] = string(r)
	}
	if want := []string{"admin", "finance", "grants", "licensing"}; !slices.Equal(roles, want) {
		t.Errorf("AllRoles = %v, want %v", roles, want)
	}
	if want := []string{"agency-add", "agency-power", "agency-remove", "params-change", "validator-rotate"}; !slices.Equal(ledger.ProposalKinds, want) {
		t.Errorf("ProposalKinds = %v, want %v", ledger.ProposalKinds, want)
	}
	for _, p := range []struct{ got, want string }{{ledger.VoteYes, "yes"}, {ledger.VoteNo, "no"}, {ledger.VoteAbstain, "abstain"}} {
		pin(t, "vote option", p.got, p.want)
	}
	if want := []string{"agencies", "grant-payments", "grants", "licences", "payments"}; !slices.Equal(ledger.Listings, want) {
		t.Errorf("Listings = %v, want %v", ledger.Listings, want)
	}
	for listing, want := range map[string]string{"agencies": "agency", "grant-payments": "payment", "grants": "grant",
		"licences": "licence", "payments": "payment", "totals": ""} {
		pin(t, "ListingKind("+listing+")", ledger.ListingKind(listing), want)
	}
}
