package app

import (
	"errors"
	"fmt"
)

// ErrDiskLow is returned by CheckDiskFree when the data directory's file
// system is almost full.
var ErrDiskLow = errors.New("data directory almost full")

// CheckDiskFree returns an error wrapping ErrDiskLow, naming dir and both
// sizes, when the file system that holds dir has fewer than minFree bytes
// available to this process. It returns nil where free space is unknown.
// A node stops before its disk fills rather than after: a write that fails
// in the middle of a block halts consensus on the node with a panic, and a
// full disk can leave CometBFT's own databases half written.
func CheckDiskFree(dir string, minFree uint64) error {
	free, ok, err := diskFree(dir)
	if err != nil {
		return fmt.Errorf("free space of %s: %w", dir, err)
	}
	if !ok || free >= minFree {
		return nil
	}
	return fmt.Errorf("%w: %s has %.1f MiB free, below app.toml min_free_disk_mb = %d: free space on it, then start the node again",
		ErrDiskLow, dir, float64(free)/(1<<20), minFree>>20)
}
