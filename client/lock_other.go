//go:build !unix

package client

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// lockFile takes an exclusive lock on path by creating it exclusively,
// waiting up to a minute for another holder to remove it. (Unix systems use
// flock, which the kernel releases when a process dies; here a crashed
// holder leaves the file, and the error names it.)
func lockFile(path string) (func(), error) {
	deadline := time.Now().Add(time.Minute)
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_ = f.Close()
			return func() { _ = os.Remove(path) }, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("trust store locked by %s for a minute: remove it if no 'ledger' is running", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
