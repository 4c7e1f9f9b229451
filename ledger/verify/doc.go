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
package verify
