// Package node is the composition root of an agency's validator: it reads the
// home directory (CometBFT's config.toml and genesis.json, plus app.toml for
// the app's own settings), opens the state on embedded goleveldb, builds the
// ABCI app and runs CometBFT in-process through a local client. It also
// generates N-agency testnets (the caller chooses the officer keyring:
// age-encrypted files or plain test keys, never a silent default) and starts
// real in-process networks for tests.
//
// JoinHome (`ledgerd init --join`) makes the home of a new agency's node: the
// genesis must be byte-identical on every --join node, and with state sync
// every one of them must serve the same header at the trust height, or the
// join is refused naming the node that differs.
//
// Imports app, genesis, ledger and CometBFT; never cmd/.
package node
