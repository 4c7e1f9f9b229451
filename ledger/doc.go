// Package ledger is Civic Ledger's deterministic state machine: the records
// (agencies, grants, licences, payments), the signed transaction envelope and
// its canonical encoding, validation, state transitions, ABCI result codes,
// events, running totals and invariants.
//
// It imports nothing of ours outside ledger/..., and nothing of CometBFT's
// node, cobra or Prometheus. Everything here uses only the block height and
// block time it is given, never the local clock, map iteration order,
// randomness or floats, so that every node computes identical bytes.
//
// # Transactions
//
// A transaction is the canonical JSON envelope
//
//	{"body":{"chain_id":…,"type":…,"agency":…,"signer":b64,"nonce":n,"expires_at":h,"payload":{…}},
//	 "signatures":[{"pub_key":b64,"signature":b64},…]}
//
// Each signature is ed25519 over SignDomain ("civic-ledger/tx/v1\n") followed
// by the exact body bytes. Decoding is strict: unknown fields, duplicate keys,
// wrong types, invalid UTF-8, trailing data and any form that does not
// re-encode to the same bytes (whitespace, field order, missing fields,
// non-canonical base64 or escapes) are rejected. Text fields (names, free
// text, chain id) reject control characters and, so that no name can be made
// to look like another, bidirectional controls, zero-width and other
// invisible characters (a fixed table in text.go, not the unicode package's,
// whose tables change with Go releases); identifiers are [A-Za-z0-9._:-]{1,64}; amounts are decimal
// strings of positive integers in the currency's minor units; currencies are
// ISO 4217 codes; dates are YYYY-MM-DD; document hashes are sha256 in
// lowercase hex.
//
// Every tx is checked, in order, for: size (params.max_tx_bytes), encoding,
// stateless field rules, signatures (signatures[0] must be body.signer; no
// duplicate signer), chain id, expiry (block height ≤ expires_at ≤ height +
// params.replay_window), replay ((signer, nonce) unused), agency existence,
// every signer being an officer of body.agency with the type's role, and then
// the type's rules below. A tx whose signatures verify, for this chain and not
// yet expired, consumes its (signer, nonce) until its expires_at whatever its
// result (expiry too far, unknown agency, not an officer, missing role, any
// rule), so the signed bytes can never succeed later; a second tx under a used
// nonce with a later expiry extends the entry to that expiry. Only a tx over
// params.max_tx_bytes (never in a block that correct validators accept, see
// package app) or for another chain leaves the nonce free. No record is
// written by a rejected tx.
//
// Result codes come from the ledger's own checks and typed errors, never from
// the text of an error of the standard library: a key that names no field of
// the decoded type, at any depth, is ErrUnknownField; any other decoding
// failure is ErrMalformed.
//
// # Result data
//
// A successful transaction's result carries ResultData (auth.go), which
// CometBFT hashes into the next header's LastResultsHash: the agency record
// its signers were authorized with, as the lowercase hex sha256 of the
// record's stored value before the transaction's own changes, plus the value
// itself when the block wrote that record before the transaction (an earlier
// officer change or a governance change at the start of the block). A
// verifier checks the signers against the record before the block when its
// digest matches, and against the carried record otherwise, so that a tx
// signed by an officer added earlier in its block verifies. Rejected
// transactions have no data.
//
// # Transaction types and their failure conditions
//
//	grant/award        grants    id unused (ErrAlreadyExists); agency total would overflow (ErrAmountOverflow);
//	                             decision_date not after period_end nor more than DecisionLagDays (90) after
//	                             period_start (ErrImplausibleDate)
//	grant/amend        grants    grant exists (ErrNotFound), is the agency's (ErrWrongAgency), is awarded or
//	                             amended (ErrIllegalTransition); new amount ≥ disbursed (ErrAmendBelowDisbursed);
//	                             new end ≥ start (ErrInvalidPeriod); the award's document_hash stays, the
//	                             amendment's goes to amendment_document_hash
//	grant/close        grants    grant exists, is the agency's, is awarded or amended
//	grant/revoke       grants    as close
//	licence/issue      licensing id unused; valid_until not before the block date (ErrInvalidPeriod); decision_date
//	                             not after valid_until nor more than 90 days after valid_from (ErrImplausibleDate)
//	licence/renew      licensing licence exists, is the agency's, is issued, renewed or reinstated; the new
//	                             valid_until extends the current one; conditions_hash stays, the renewal's
//	                             document goes to renewal_document_hash
//	licence/suspend    licensing from issued, renewed or reinstated
//	licence/reinstate  licensing from suspended
//	licence/revoke     licensing from any status but revoked or expired
//	payment/record     finance   id unused; amounts above the currency's four-eyes threshold (its entry in
//	                             params.four_eyes_thresholds, else params.four_eyes_threshold) need two
//	                             finance officers (ErrFourEyes); with a grant: it exists, is the agency's, is awarded or
//	                             amended (ErrGrantNotPayable), same currency (ErrCurrencyMismatch), payee is the
//	                             recipient (ErrPayeeMismatch, by scheme and id), dated from PaymentLeadDays (90)
//	                             before the grant's period to PaymentTailDays (180) after it (ErrImplausibleDate),
//	                             and disbursed + amount ≤ awarded (ErrOverpayment)
//	payment/reverse    finance   payment exists, is the agency's, is recorded (ErrIllegalTransition); four-eyes
//	                             as for recording; restores the grant's and the agency's totals
//	agency/officer-add     admin key not already an officer (ErrOfficerExists)
//	agency/officer-remove  admin officer exists (ErrOfficerNotFound); not the last admin (ErrLastAdmin)
//	agency/officer-roles   admin officer exists; the last admin keeps the admin role
//	gov/propose        admin     the change's fields (ValidateBasic); its guard rails against the state
//	                             (ErrGovGuard, ErrKeyInUse, ErrAlreadyExists, ErrUnknownAgency, ErrAgencyRemoved)
//	gov/vote           admin     proposal exists (ErrNotFound) and is open (ErrVotingClosed); the agency was in
//	                             its electorate (ErrNotElector) and has not voted (ErrAlreadyVoted)
//
// Every transaction signed for a removed agency fails with ErrAgencyRemoved.
//
// # Governance
//
// gov.go: proposals to add, remove or re-weight an agency, rotate its
// validator key or change the parameters pass when agencies holding more than
// 2/3 of the power at submission voted yes by the deadline, wait out a public
// notice period, and take effect at the start of a block, where validator
// changes become the block's ValidatorUpdates. Guard rails (never an empty
// set, at most 1/3 of the power moved per change and per block, one change
// per agency per block, keys never reused) are checked when a proposal is
// made and again when it takes effect. docs/governance.md tells the whole
// procedure.
//
// Licences expire by block time: at the start of each block, licences whose
// valid_until is before the block's date (UTC) become "expired".
//
// # State layout
//
// One IAVL tree per store; see keys.go for every key. Records are stored as
// JSON under their id in their kind's store; indexes and bookkeeping use
// readable '/'-separated keys in the index and meta stores. Running totals
// per agency and currency (awarded, paid, reversed, counts) are records in the
// meta store under total/<agency>/<currency>, aggregated in memory during a
// block and written once at its end, so that each total is provable with a
// single-key proof. Every store holds a seed key ("!store") from genesis, so
// no tree is ever empty.
//
// # Invariants
//
// invariants.go declares every rule that holds after every block once, in
// the Invariants table, each under a stable id (agency-totals,
// grant-disbursed, index-status, gov-tally, ...) that a node's log, "ledger
// audit" and the tests all use. CheckInvariants checks them all on a whole
// state; its accounting part, Reconcile, is pure over decoded records (grants,
// payments, totals), so that the audit runs the very same recomputation on
// the records it has proved.
//
// # Vocabulary
//
// vocab.go declares, once, every name the ledger shares with its readers:
// record kinds and their stores, the statuses of each kind and the
// Transitions table that the rules above check status changes against
// (CanTransition), event types, attribute names and actions, the ABCI query
// paths with their request bodies and answer codes. Package app routes the
// query paths; clients build them with the same functions.
//
// # Errors
//
// errors.go holds the append-only table of ABCI codes. Codes are hashed into
// LastResultsHash: never renumber or reuse one.
package ledger
