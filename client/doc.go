// Package client is the Civic Ledger client library: it talks to a node over
// CometBFT's RPC, builds and signs transactions, submits them and waits for
// inclusion, reads records and listings, and a record's history from the
// indexed events. The `ledger` CLI is a thin shell over it (flags in, one
// call, output printed) and `ledgerd demo` uses it; it trusts the node it talks to (for
// trust-free reads, verify proofs: Verifier checks records, transactions and,
// with VerifyListing, whole listings proved complete against headers from the
// user's trust root), except that a tx's expiry counts from the height this
// client verified when the node reports less, and a node far behind that
// height is refused (ExpiresAt).
//
// Trust store: <home>/trust/<chain-id>.json holds a chain's trust root and
// last verified header, <chain-id>.genesis.json its trusted genesis file.
// Chain ids are checked (ValidChainID) before they name any file. Writers
// take an advisory lock (<chain-id>.lock, flock on Unix) across
// load-modify-save and replace files atomically (unique temporary file,
// fsync, rename, directory fsync). UpdateLastVerified and SaveTrust never
// lower the last verified height, so concurrent 'ledger verify' runs can
// neither corrupt the file nor move it back.
//
// What lives here, so that no caller repeats it:
//
//   - typed reads (reads.go): Grant, Licence, Payment, Agency, Proposal,
//     Params, Totals at a height, listings as Page, History for every kind;
//     errors are typed (QueryError matching ErrNotFound,
//     ErrHeightUnavailable, ErrQueryRefused; InvalidIDError;
//     UnknownAgencyError) for the caller to word and map to exit statuses;
//   - tx builders (txbuild.go): AmendGrant fills the fields an amendment
//     keeps, ProposedParams gives a params-change its complete set,
//     ProposalID reads a new proposal's id from its events, ParsePublicKey
//     and ParseValidatorKey read keys;
//   - verification (verifier.go, verify_record.go, listing.go,
//     verify_tx.go) and the verdict of its errors (verdict.go: VerdictOf,
//     ExportOutcomeOf);
//   - the trust store and its root-replacement policy (trust.go:
//     CheckNewRoot; only ResetTrust removes a root).
//   - natural persons (disclosure.go): NewIndividual draws the salt and
//     computes the commitment a record carries instead of the person's
//     identity; Disclosures is the agency's store of salts and identities,
//     sealed like its keys (<home>/disclosures), with Disclose and Erase;
//     VerifyDisclosure is the auditor's check against proved records.
//
// Messages name no command-line flag or command: the CLI words them.
package client
