// Command ledger is the Civic Ledger client for journalists, auditors and
// agency officers: key management, signed transactions, queries.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", errorText(err))
		os.Exit(exitCode(err))
	}
}
