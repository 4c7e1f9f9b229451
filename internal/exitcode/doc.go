// Package exitcode owns the process exit statuses of the ledger and ledgerd
// binaries (an interface: scripts rely on them) and the error that carries
// one from a command to main. It imports nothing of ours.
package exitcode
