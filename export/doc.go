// Package export owns the mapping of the ledger's records to the open
// standards public-spending data is published in, and the signed release
// that makes every exported file checkable offline:
//
//   - OCDS 1.1 (Open Contracting Data Standard): a release package and a
//     record package; grants, licences and payments not against a grant are
//     contracting processes (an award and its contract), the payments of a
//     grant are the implementation transactions of its contract;
//   - 360Giving 1.4: a grant package; the payments of a grant are its
//     disbursement transactions;
//   - IATI 2.03 (XML): an activities file; each grant is an activity, its
//     award an outgoing commitment, its payments disbursement transactions;
//   - CSV: one file per record kind (agencies, grants, licences, payments),
//     every field of the record in a column.
//
// The mapping of every field, and what has no home in a standard, is in
// docs/open-data.md.
//
// An export is made at one state height H: every record is read from the
// provable listings (ledger.Listings) at H, each page proved complete
// against the AppHash of header H+1 (verify.VerifyListing), and written out
// as it is read, so memory does not grow with the number of records (it
// holds one page, and the payments of one grant). The directory gets a
// manifest (manifest.json, Manifest): the chain id, the genesis file's
// sha256, H, the AppHash and hash of header H+1, the light blocks from the
// chain's first block to header H+1 (verify.BundleChain: each verifiable from
// the previous with the era rule, the last one carrying the commit of header
// H+1), and the sha256 of every file; and the proof material
// (proof/pages.jsonl: every proved page the export read, in order).
//
// VerifyRelease checks a release offline from the genesis file alone: the
// light blocks from the genesis validators to header H+1 (signed by more
// than 2/3 of the validators), every page against its AppHash, then it maps
// the proved records again and compares the result with the files byte for
// byte, and rebuilds the manifest and compares it too: a changed byte in any
// file fails, naming the file.
//
// Mapping is deterministic: the same records at the same height give the
// same bytes (dates that a standard requires of a publication are the time
// of header H+1).
//
// The package imports client, ledger and ledger/verify; never app or node.
package export
