// Package node is the composition root of an agency's validator: it reads the
// home directory (CometBFT's config.toml and genesis.json, plus app.toml for
// the app's own settings), opens the state on embedded goleveldb, builds the
// ABCI app and runs CometBFT in-process through a local client. It also
// generates N-agency testnets and starts real in-process networks for tests.
//
// Imports app, genesis, ledger and CometBFT; never cmd/.
package node
