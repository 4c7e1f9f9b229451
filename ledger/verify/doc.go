// Package verify holds the client-side checks of Civic Ledger data as pure
// functions over bytes: no network, no clock, no trust in the node that
// served the data. It is usable offline and by other Go programs.
//
// # Store proofs
//
// A node answers the ABCI query path "/store/<store>/key" (and the record
// paths "/grant/<id>" etc., which are the same key in the record's store)
// with prove=true by returning the key, the value (absent if the key does not
// exist), the height H of the state, and exactly two proof ops:
//
//  0. type "ics23:iavl", key = the key, data = a protobuf ics23
//     CommitmentProof: an ExistenceProof of (key, value) or a
//     NonExistenceProof of key, under the store's IAVL root (ics23.IavlSpec).
//  1. type "ics23:simple", key = the store name, data = a CommitmentProof
//     holding an ExistenceProof of (store name, store root) under the AppHash
//     (ics23.TendermintSpec).
//
// To check it: compute the store root from op 0 (CommitmentProof.Calculate),
// verify op 0 against that root with IavlSpec (membership with the value, or
// non-membership), then verify op 1 with TendermintSpec as membership of
// (store name, store root) under the AppHash found in the header of block
// H+1 — the state after block H is committed in header H+1. The AppHash is
// the Cosmos SDK multistore root: CometBFT merkle.HashFromByteSlices over the
// stores sorted by name, each leaf being uvarint(len(name)) || name ||
// uvarint(32) || sha256(root). Header H+1 must itself be verified (signed by
// more than 2/3 of the validators' power, reached from a trusted root) for
// the result to mean anything; that is the light client's job.
//
// # Listings
//
// A listing (ledger.ListingRangeOf: the grants, licences or payments of an
// agency, the payments of a grant, the agencies) is the range of keys of one
// store under a prefix. The query "/list/<listing>" answers a page of it
// (ledger.ProvedPage) with proofs that nothing of the range was left out.
// For a page starting at the absent key S (ListingRange.Start) with entries
// k1 < ... < kn, the range proof is an ics23 compressed batch of n+1
// NonExistenceProofs (IavlSpec): one for S, whose right neighbour is k1
// (nothing lies between S and k1), and one for each ki+"\x00", whose left
// neighbour is ki and right neighbour k(i+1) — ics23 checks that the two are
// adjacent leaves of the tree, so no key lies between them. The right
// neighbour of the last proof is the first key after the page: none or one
// at or past the range's end when the listing is complete; otherwise one in
// the range, and the next page starts after kn. The entries are the
// neighbours themselves, so their existence proofs come with the adjacency
// proofs. A second batch of ExistenceProofs proves each entry's record in
// its record store. Both store roots are proved under the AppHash of header
// H+1 as in a store proof. VerifyRange checks the first part for any store
// and range; VerifyListing checks a whole page, its records, that each
// record is the listed id's and its owner's, and refuses a page that stops
// before its limit while the range goes on. A node can therefore neither
// hide an entry, nor add one, nor change a record: it can only refuse to
// answer.
//
// # Headers
//
// The trust root is the genesis file: its validator set (ed25519 keys and
// voting powers) must have signed the chain's first block — FirstBlock checks
// the light block (signed header + validator set) at the genesis initial
// height: chain id, a validator set whose hash equals the genesis set's and
// the header's ValidatorsHash, and a commit for the header's block id signed
// by more than 2/3 of that power. Later headers are verified from a verified
// one with Next. An era is a run of headers with one validator set. Next
// crosses from one era to the next only adjacently: header E must name the
// set that header E-1 announced in NextValidatorsHash and be signed by more
// than 2/3 of it, E-1 itself having been verified in the old era — so a new
// set is accepted only when more than 2/3 of the old set signed the block
// that committed it. Inside one era a header may be skipped to when it has
// the trusted header's validator set (and the trusted header announces no
// change) and more than 2/3 of that set's power signed it. CometBFT's
// skipping rule (more than 1/3 of a trusted set vouching for a header with
// any set) is not used: with it, a third of a retired set's keys — keys of
// agencies that governance removed, or keys rotated out — could sign a
// header with a made-up AppHash at any height, forever. Times must increase
// and not lie beyond MaxClockDrift in the verifier's future. Chain applies
// Next along a list of light blocks in strictly ascending height order (what
// offline bundles carry; BundleChain finds the last and first header of each
// era by bisection). CommitSigners lists the validators whose signatures a
// commit holds, to name the agencies: only ever of a verified block.
//
// # Residual risk, and what defends against it
//
// Keys that more than 2/3 of an old era's power held can still sign a
// different header inside that era's set, at a height the real chain gave to
// a later era: a verifier that knows only the genesis file (or an old
// checkpoint) cannot tell that era ended. Three things defend against it,
// and a careful reader uses all three: witnesses (nodes of other agencies,
// whose headers at the same height are compared: a conflict is reported as a
// fork, naming the validators that signed both); a recent trusted checkpoint
// (ledger trust init --height H --hash X, taken from a header published by
// the agencies), which starts verification in the current era; and the
// client's remembered last verified header, which refuses a chain that
// conflicts with it. An offline bundle has none of these: its VERIFIED means
// "signed by more than 2/3 of the validators of the era it claims, reached
// from the genesis file", and the report lists each header's signers so that
// a reader can see which era that is.
//
// # Transactions
//
// The txs of block H are committed in header H's DataHash (a simple Merkle
// tree over sha256 of each tx): TxInclusion checks CometBFT's TxProof against
// it and that sha256 of the bytes is the tx hash. A tx's signatures are
// checked by TxSignatures: decode the canonical envelope, check each ed25519
// signature over "civic-ledger/tx/v1\n" followed by the body bytes, and check
// that every signer was an officer with the type's role in the agency record
// the chain authorized the tx with. The results of block H are committed in
// header H+1's LastResultsHash (a simple Merkle tree over the deterministic
// part of each result: code, data, gas wanted, gas used): TxResult checks the
// block's results against it and returns the tx's.
//
// A successful tx's result data (ledger.ResultData) commits the sha256 of
// the acting agency's stored record as the chain used it, and carries the
// record itself when the block wrote it before the tx (for example the
// officer-add of a signer in the same block). TxAuthority picks the record
// to check the signers against: the carried one, after checking that it
// hashes to the committed digest; otherwise the record as of the state
// before the block (height H-1, proved with StoreValue against header H's
// AppHash, or for the chain's first block the genesis file's record encoded
// with ledger.AgencyValue), which must hash to the committed digest. Results
// without data (rejected txs, blocks of a chain version that committed none)
// are checked against the record before the block, as the only record
// available. So every tx the chain accepted verifies, and nothing the node
// says beyond what the headers and proofs cover is trusted.
//
// # Bundle reports: verified facts apart from unverified context
//
// VerifyBundle's report (BundleReport, and its JSON) keeps what was checked
// apart from what was not. "verified" (Facts) holds only what the proofs,
// signatures and hashes establish: kind, id, chain id and height (each
// checked against the proofs), the headers and their verified signers, the
// record's presence and value, or the tx's inclusion, type, agency, payload
// (from the verified tx bytes), signers and result code, and the claims:
// human-readable sentences computed from those facts (RecordClaims,
// TxClaims). A manifest's own sentences (Manifest.Proves) must be exactly
// those, or absent: a bundle that claims anything else is refused at the
// "claims" step, naming the sentence. "unverified" (Unverified) holds what
// the bundle states that nothing covers: the exporter's creation time and
// tool, and for a tx the node's log, codespace and result events (CometBFT's
// LastResultsHash covers code, data and gas only). A tx's effects are to be
// shown from its verified payload and the proved state, never from its
// events. A failed verification reports its passed steps and no facts.
// Programs that show a report (the citizens' portal) show "verified" as
// verified, and "unverified" only labelled as the exporter's or node's word.
//
// Everything here is a pure function of its arguments: no network, and the
// only clock is the now parameter of header checks.
package verify
