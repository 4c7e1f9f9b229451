//go:build linux || darwin || freebsd

package app

import "syscall"

// diskFree returns the bytes available to this process on the file system
// that holds dir.
func diskFree(dir string) (free uint64, ok bool, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, false, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), true, nil
}
