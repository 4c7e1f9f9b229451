// Command ledger is the Civic Ledger client for journalists, auditors and
// agency officers: key management, signed transactions, queries.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	root := newRootCmd()
	code := execute(root, os.Stdout, os.Stderr, func() error { return root.ExecuteContext(ctx) })
	stop()
	os.Exit(code)
}
