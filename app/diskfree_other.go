//go:build !(linux || darwin || freebsd)

package app

// diskFree is unknown here: restores are bounded by the chunk count and
// Snapshots.MaxRestoreBytes only.
func diskFree(string) (uint64, bool, error) { return 0, false, nil }
