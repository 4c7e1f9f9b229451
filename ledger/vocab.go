package ledger

import (
	"slices"
	"strconv"
)

// The wire vocabulary: every name the state machine shares with its readers,
// declared once. Record kinds and their stores, statuses and the transitions
// between them, event types, attribute names and actions, ABCI query paths,
// their request bodies and their codes. Every one of these strings is on the
// wire (stored records, events that CometBFT indexes, query paths that
// clients send): renaming one is a breaking change, and vocab_test.go pins
// them all.
//
// Kind and the statuses are named string types: a grant's status cannot be
// given where a licence's is expected, nor a kind where a status is. They
// encode (JSON, events, paths) as the strings they hold.

// Kind is a kind of record: the first segment of its query path
// ("/grant/<id>") and, but for proposals (EventProposal), the type of its
// events.
type Kind string

// Record kinds. Each of KindAgency, KindGrant, KindLicence and KindPayment is
// stored as JSON under RecordKey(id) in its own store (StoreOf). A proposal
// lives in the meta store under ProposalKey(id).
const (
	KindAgency   Kind = "agency"
	KindGrant    Kind = "grant"
	KindLicence  Kind = "licence"
	KindPayment  Kind = "payment"
	KindProposal Kind = "proposal"
)

// RecordKinds lists the kinds stored under RecordKey(id) in a store of their
// own, sorted.
var RecordKinds = []Kind{KindAgency, KindGrant, KindLicence, KindPayment}

// ListedKinds lists the kinds whose records an agency owns, are indexed by
// agency with their status, and can be listed with a status filter (List,
// the queries "/grants", "/licences" and "/payments").
var ListedKinds = []Kind{KindGrant, KindLicence, KindPayment}

// StoreOf returns the store that holds the records of a kind of RecordKinds
// ("" for any other kind).
func StoreOf(kind Kind) string {
	switch kind {
	case KindAgency:
		return StoreAgencies
	case KindGrant:
		return StoreGrants
	case KindLicence:
		return StoreLicences
	case KindPayment:
		return StorePayments
	}
	return ""
}

// GrantStatus is a grant's status: Grant.Status, the value of its index
// entries and the "status" attribute of its events.
type GrantStatus string

// Grant statuses.
const (
	GrantAwarded GrantStatus = "awarded"
	GrantAmended GrantStatus = "amended"
	GrantClosed  GrantStatus = "closed"
	GrantRevoked GrantStatus = "revoked"
)

// GrantStatuses lists the grant statuses in life-cycle order.
var GrantStatuses = []GrantStatus{GrantAwarded, GrantAmended, GrantClosed, GrantRevoked}

// LicenceStatus is a licence's status: Licence.Status, the value of its
// index entry and the "status" attribute of its events.
type LicenceStatus string

// Licence statuses.
const (
	LicenceIssued     LicenceStatus = "issued"
	LicenceRenewed    LicenceStatus = "renewed"
	LicenceSuspended  LicenceStatus = "suspended"
	LicenceReinstated LicenceStatus = "reinstated"
	LicenceRevoked    LicenceStatus = "revoked"
	LicenceExpired    LicenceStatus = "expired"
)

// LicenceStatuses lists the licence statuses in life-cycle order.
var LicenceStatuses = []LicenceStatus{LicenceIssued, LicenceRenewed, LicenceSuspended, LicenceReinstated, LicenceRevoked, LicenceExpired}

// PaymentStatus is a payment's status: Payment.Status, the value of its
// index entries and the "status" attribute of its events.
type PaymentStatus string

// Payment statuses.
const (
	PaymentRecorded PaymentStatus = "recorded"
	PaymentReversed PaymentStatus = "reversed"
)

// PaymentStatuses lists the payment statuses in life-cycle order.
var PaymentStatuses = []PaymentStatus{PaymentRecorded, PaymentReversed}

// ProposalStatus is a governance proposal's status: Proposal.Status and the
// "status" attribute of its events.
type ProposalStatus string

// Proposal statuses.
const (
	ProposalVoting   ProposalStatus = "voting"
	ProposalNotice   ProposalStatus = "notice"
	ProposalExecuted ProposalStatus = "executed"
	ProposalRejected ProposalStatus = "rejected"
	ProposalFailed   ProposalStatus = "failed"
)

// ProposalStatuses lists the statuses in life-cycle order.
var ProposalStatuses = []ProposalStatus{ProposalVoting, ProposalNotice, ProposalExecuted, ProposalRejected, ProposalFailed}

// StatusesOf returns the statuses of a kind in life-cycle order, as the
// strings they are on the wire (nil for a kind without statuses).
func StatusesOf(kind Kind) []string {
	switch kind {
	case KindGrant:
		return statusStrings(GrantStatuses)
	case KindLicence:
		return statusStrings(LicenceStatuses)
	case KindPayment:
		return statusStrings(PaymentStatuses)
	case KindProposal:
		return statusStrings(ProposalStatuses)
	}
	return nil
}

func statusStrings[S ~string](statuses []S) []string {
	out := make([]string, len(statuses))
	for i, s := range statuses {
		out[i] = string(s)
	}
	return out
}

// Transition is one allowed change of a record's status. From and To are
// statuses of Kind, as the strings they are on the wire.
type Transition struct {
	Kind Kind
	From string // the status before; "" when the transition creates the record
	To   string // the status after
	// Tx is the transaction type that makes it; "" when the block makes it
	// itself, at its start (licence expiry, the governance schedule).
	Tx string
	// Action is the "action" attribute of the record's event ("" for a
	// proposal, whose events report the status only).
	Action string
}

// Transitions are the allowed status changes, the only ones the state
// machine makes: a transaction that would make another fails with
// ErrIllegalTransition (for proposals: the schedule leaves the proposal
// alone). No two entries share kind, from and to.
var Transitions = slices.Concat(
	transitions(KindGrant, []statusChange[GrantStatus]{
		{"", GrantAwarded, TypeGrantAward, ActionAward},
		{GrantAwarded, GrantAmended, TypeGrantAmend, ActionAmend},
		{GrantAmended, GrantAmended, TypeGrantAmend, ActionAmend},
		{GrantAwarded, GrantClosed, TypeGrantClose, ActionClose},
		{GrantAmended, GrantClosed, TypeGrantClose, ActionClose},
		{GrantAwarded, GrantRevoked, TypeGrantRevoke, ActionRevoke},
		{GrantAmended, GrantRevoked, TypeGrantRevoke, ActionRevoke},
	}),
	transitions(KindLicence, []statusChange[LicenceStatus]{
		{"", LicenceIssued, TypeLicenceIssue, ActionIssue},
		{LicenceIssued, LicenceRenewed, TypeLicenceRenew, ActionRenew},
		{LicenceRenewed, LicenceRenewed, TypeLicenceRenew, ActionRenew},
		{LicenceReinstated, LicenceRenewed, TypeLicenceRenew, ActionRenew},
		{LicenceIssued, LicenceSuspended, TypeLicenceSuspend, ActionSuspend},
		{LicenceRenewed, LicenceSuspended, TypeLicenceSuspend, ActionSuspend},
		{LicenceReinstated, LicenceSuspended, TypeLicenceSuspend, ActionSuspend},
		{LicenceSuspended, LicenceReinstated, TypeLicenceReinstate, ActionReinstate},
		{LicenceIssued, LicenceRevoked, TypeLicenceRevoke, ActionRevoke},
		{LicenceRenewed, LicenceRevoked, TypeLicenceRevoke, ActionRevoke},
		{LicenceSuspended, LicenceRevoked, TypeLicenceRevoke, ActionRevoke},
		{LicenceReinstated, LicenceRevoked, TypeLicenceRevoke, ActionRevoke},
		{LicenceIssued, LicenceExpired, "", ActionExpire},
		{LicenceRenewed, LicenceExpired, "", ActionExpire},
		{LicenceSuspended, LicenceExpired, "", ActionExpire},
		{LicenceReinstated, LicenceExpired, "", ActionExpire},
	}),
	transitions(KindPayment, []statusChange[PaymentStatus]{
		{"", PaymentRecorded, TypePaymentRecord, ActionRecord},
		{PaymentRecorded, PaymentReversed, TypePaymentReverse, ActionReverse},
	}),
	transitions(KindProposal, []statusChange[ProposalStatus]{
		{"", ProposalVoting, TypeGovPropose, ""},
		{ProposalVoting, ProposalNotice, TypeGovVote, ""},
		{ProposalVoting, ProposalRejected, "", ""},
		{ProposalNotice, ProposalExecuted, "", ""},
		{ProposalNotice, ProposalFailed, "", ""},
	}),
)

// statusChange is a row of Transitions for a kind whose statuses are S.
type statusChange[S ~string] struct {
	from, to   S
	tx, action string
}

// transitions gives the rows of Transitions of a kind whose statuses are S.
func transitions[S ~string](kind Kind, changes []statusChange[S]) []Transition {
	out := make([]Transition, len(changes))
	for i, c := range changes {
		out[i] = Transition{Kind: kind, From: string(c.from), To: string(c.to), Tx: c.tx, Action: c.action}
	}
	return out
}

// CanTransition reports whether Transitions allows a record of kind to go
// from status from to status to.
func CanTransition[S ~string](kind Kind, from, to S) bool {
	return slices.ContainsFunc(Transitions, func(t Transition) bool {
		return t.Kind == kind && t.From == string(from) && t.To == string(to)
	})
}

// GrantPayableStatuses are the statuses in which a payment may be recorded
// against a grant (ErrGrantNotPayable otherwise). Reversing a payment does
// not depend on its grant's status.
var GrantPayableStatuses = []GrantStatus{GrantAwarded, GrantAmended}

// Event types. The events of a grant, licence, payment or agency have its
// kind as their type.
const (
	EventTx       = "tx"                // every successful transaction: type, agency, signer
	EventGrant    = string(KindGrant)   // a grant changed: see grantEvent
	EventLicence  = string(KindLicence) // a licence changed
	EventPayment  = string(KindPayment) // a payment changed
	EventAgency   = string(KindAgency)  // governance changed an agency
	EventOfficer  = "officer"           // an agency's officer was added, removed or given roles
	EventProposal = "gov_proposal"      // a proposal was made or changed status
	EventVote     = "gov_vote"          // an agency voted
	EventDeferred = "gov_deferred"      // a passed proposal's execution moved to a later block
	EventParams   = "params"            // a params-change proposal took effect
)

// EventTypes lists every event type, sorted.
var EventTypes = []string{EventAgency, EventDeferred, EventProposal, EventVote, EventGrant, EventLicence, EventOfficer, EventParams, EventPayment, EventTx}

// Event attribute names. CometBFT indexes every attribute as
// "<event type>.<name>" (EventKey), e.g. "grant.id".
const (
	AttrID              = "id"     // the record's id (proposal id in decimal)
	AttrAgency          = "agency" // the acting or owning agency
	AttrAction          = "action" // what happened (the Action* values)
	AttrStatus          = "status" // the record's status after the change
	AttrType            = "type"   // tx: the transaction type; licence: the licence type
	AttrSigner          = "signer" // tx: the signer's key, hex
	AttrRecipient       = "recipient"
	AttrProgramme       = "programme"
	AttrCurrency        = "currency"
	AttrAwarded         = "awarded"
	AttrDocumentHash    = "document_hash" // grant amendment and licence renewal
	AttrHolder          = "holder"
	AttrValidUntil      = "valid_until"
	AttrGrant           = "grant"
	AttrPayee           = "payee"
	AttrAmount          = "amount"
	AttrKey             = "key"   // officer: the officer's key, hex
	AttrName            = "name"  // officer: the officer's name
	AttrRoles           = "roles" // officer: the roles, comma-separated
	AttrPower           = "power"
	AttrValidatorKey    = "validator_key"
	AttrKind            = "kind"
	AttrProposer        = "proposer"
	AttrTarget          = "target"
	AttrEffectiveHeight = "effective_height"
	AttrProposal        = "proposal" // gov_vote and params: the proposal id
	AttrOption          = "option"
	AttrToHeight        = "to_height"
)

// EventKey is the name under which CometBFT indexes an attribute of an
// event type, e.g. "grant.id".
func EventKey(eventType, attr string) string { return eventType + "." + attr }

// EventQuery is the tx_search and block_search query for the events of a
// type whose attribute attr is value: "<event type>.<attr>='<value>'".
// value must hold no quote (a ValidID holds none).
func EventQuery(eventType, attr, value string) string {
	return EventKey(eventType, attr) + "='" + value + "'"
}

// RecordEventQuery is the tx_search and block_search query for the events
// of one record of a kind of RecordKinds: "<kind>.id='<id>'". id must be a
// ValidID.
func RecordEventQuery(kind Kind, id string) string { return EventQuery(string(kind), AttrID, id) }

// Searched reports whether queries search for the attribute attr of events
// of type eventType with tx_search or block_search: "<kind>.id" of every
// record kind (RecordEventQuery: histories in the client and the portal),
// "officer.agency" (an agency's history) and "gov_proposal.status" (the
// proposals in their notice period, docs/governance.md). A node's kv
// indexer writes only these (see app.Options.IndexAllEvents); every
// attribute is still in the results that tx_search returns. A new query
// on another attribute must be added here.
func Searched(eventType, attr string) bool {
	switch {
	case attr == AttrID:
		return slices.Contains(RecordKinds, Kind(eventType))
	case eventType == EventOfficer:
		return attr == AttrAgency
	case eventType == EventProposal:
		return attr == AttrStatus
	}
	return false
}

// Event actions: the "action" attribute of record, officer and agency
// events.
const (
	ActionAward          = "award"
	ActionAmend          = "amend"
	ActionClose          = "close"
	ActionRevoke         = "revoke" // grants and licences
	ActionDisburse       = "disburse"
	ActionReversePayment = "reverse-payment"
	ActionIssue          = "issue"
	ActionRenew          = "renew"
	ActionSuspend        = "suspend"
	ActionReinstate      = "reinstate"
	ActionExpire         = "expire"
	ActionRecord         = "record"
	ActionReverse        = "reverse"
	ActionAdd            = "add"    // officers and agencies
	ActionRemove         = "remove" // officers and agencies
	ActionSetRoles       = "set-roles"
	ActionSetPower       = "set-power"
	ActionRotate         = "rotate-validator"
)

// ABCI query paths (package app answers them). A path is "/" then its
// segments joined by "/"; the builders below give each one. "*" in place of
// a variable segment gives the route's pattern.
const (
	QueryAgencies  = "/agencies"  // every agency record, in one page
	QueryParams    = "/params"    // the chain parameters (proofs as for the store)
	QueryProposals = "/proposals" // data = ProposalFilter
	QuerySnapshots = "/snapshots" // this node's state-sync snapshots, newest first
)

// QueryStoreKey is the path of a key of a store: data is the key; with
// prove, the answer carries ICS23 proof ops. It is the path independent
// verifiers rely on.
func QueryStoreKey(store string) string { return "/store/" + store + "/key" }

// QueryRecord is the path of a record of a kind of RecordKinds (proofs as
// for QueryStoreKey).
func QueryRecord(kind Kind, id string) string { return "/" + string(kind) + "/" + id }

// QueryRecords is the path of a page of records of a kind of ListedKinds
// ("/grants", "/licences", "/payments"); data = RecordFilter.
func QueryRecords(kind Kind) string { return "/" + string(kind) + "s" }

// QueryGrantPayments is the path of a page of the payments against a grant;
// data = PageRequest.
func QueryGrantPayments(grant string) string { return "/grant/" + grant + "/payments" }

// QueryTotals is the path of an agency's totals in a currency.
func QueryTotals(agency, currency string) string { return "/totals/" + agency + "/" + currency }

// QueryProposal is the path of a proposal, its id in decimal (proofs as for
// QueryStoreKey).
func QueryProposal(id string) string { return "/proposal/" + id }

// QueryProposalID is QueryProposal of a numeric id.
func QueryProposalID(id uint64) string { return QueryProposal(strconv.FormatUint(id, 10)) }

// QueryListing is the path of a page of a provable listing (Listings) with
// the proofs that it is complete (ProvedPage); data = ListingRequest.
func QueryListing(listing string) string { return "/list/" + listing }

// Query answer codes, outside the transaction code table (queries are not
// hashed): 0 is a good answer, whether or not the key exists, except for the
// queries of one record, which answer QueryCodeNotFound.
const (
	QueryCodeBadRequest uint32 = 2 // malformed path, id or request body
	QueryCodeNotFound   uint32 = 3 // no such record, proposal or totals at that height
	QueryCodeNoVersion  uint32 = 4 // the height asked is not (or no longer) stored
)

// The request bodies of the listing queries, as JSON. Each is an alias of
// an unnamed struct type, so that a node's answer to a malformed body names
// the field as it always has (".limit").
type (
	// RecordFilter is the body of QueryRecords: records of one agency (all
	// agencies if empty), with one status ("" for any), after an id.
	RecordFilter = struct {
		Agency string `json:"agency,omitempty"`
		Status string `json:"status,omitempty"`
		After  string `json:"after,omitempty"`
		Limit  int    `json:"limit,omitempty"`
	}
	// PageRequest is the body of QueryGrantPayments.
	PageRequest = struct {
		After string `json:"after,omitempty"`
		Limit int    `json:"limit,omitempty"`
	}
	// ProposalFilter is the body of QueryProposals: proposals with one
	// status ("" for any), after an id.
	ProposalFilter = struct {
		Status string `json:"status,omitempty"`
		After  uint64 `json:"after,omitempty"`
		Limit  int    `json:"limit,omitempty"`
	}
	// ListingRequest is the body of QueryListing: owner is the agency, the
	// grant of ListingGrantPayments, or empty for ListingAgencies.
	ListingRequest = struct {
		Owner string `json:"owner,omitempty"`
		After string `json:"after,omitempty"`
		Limit int    `json:"limit,omitempty"`
	}
)
