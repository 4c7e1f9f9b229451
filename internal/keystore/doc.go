// Package keystore stores the ed25519 signing keys of agency officers in a
// directory, one key per file.
//
// # Backends
//
// [BackendFile] (the default) keeps each private key in <dir>/<name>.age: an
// ASCII-armored age file encrypted to a passphrase (age's scrypt recipient,
// work factor 2^18 by default). The passphrase is obtained through a
// [PassphraseFunc] whenever a private key is needed; [PassphraseFromEnvOrTerminal]
// reads it from LEDGER_KEY_PASSPHRASE or from the terminal.
//
// [BackendTest] keeps each private key UNENCRYPTED in <dir>/<name>.json. It
// exists for demos, local networks and tests only: anyone who can read the
// file can sign as the officer. Never use it for a real officer key.
//
// The plaintext key document (the .json file of the test backend, the
// content of the .age file of the file backend) is JSON:
//
//	{
//	  "name":     "alice",
//	  "algo":     "ed25519",
//	  "pub_key":  "<base64 (std, padded) of the 32-byte public key>",
//	  "priv_key": "<base64 of the 64-byte ed25519 private key (seed || public key)>",
//	  "agency":   "agency-1",              (optional)
//	  "created":  "2025-01-02T15:04:05Z"   (RFC 3339, UTC)
//	}
//
// Next to every key, <dir>/<name>.pub.json holds the public part only (name,
// algo, pub_key, agency), so that [Store.List] and [Store.Show] never need the
// passphrase. The sidecar is not authenticated; [Store.PrivKey] checks that it
// agrees with the decrypted key.
//
// Both backends may share a directory: a name is unique in the directory, and
// each [Store] sees only the keys of its own backend.
//
// All files are created with mode 0600 (the directory with 0700), written
// atomically (temporary file, fsync, link/rename) and never overwritten.
//
// # Other secrets
//
// [Store.Seal] and [Store.Unseal] protect a document other than a key with
// the store's backend (an age file encrypted to a passphrase, or plain for
// the test backend), for a store of other secrets kept like the keys: the
// client's disclosure store of natural persons' salts and identities.
//
// # Export format
//
// [Store.Export] of a file-backend key is an armored age file of the key
// document encrypted to a passphrase chosen at export time; of a test-backend
// key it is the plain key document. [Store.Import] accepts either form (and a
// binary age file) in either backend, so a key can be moved between backends.
package keystore
