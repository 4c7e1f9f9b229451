// Package atomicfile writes a file whole or not at all. Keys, trust state and
// proof bundles are written with it: a reader (or the same program after a
// crash) sees the old file or the new one, never half of either, and a file
// that must not be replaced is not, even when two writers race.
package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// Write writes data to path: into a new temporary file beside it (mode perm
// less the umask, as os.WriteFile would make it), synced, then renamed over
// path if replace, or hard-linked to path if not, which fails with an error
// wrapping fs.ErrExist if path exists (also if it appeared meanwhile).
// Where hard links are unsupported, a non-replacing Write checks that path
// does not exist and renames. The directory is synced after, so the new name
// survives a crash.
func Write(path string, data []byte, perm fs.FileMode, replace bool) (err error) {
	dir := filepath.Dir(path)
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	// A leading dot: directory listings of keys and bundles skip it.
	tmp := filepath.Join(dir, "."+filepath.Base(path)+"."+hex.EncodeToString(rnd[:])+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	defer func() {
		if rmErr := os.Remove(tmp); err == nil && rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
			err = rmErr
		}
	}()
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if replace {
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	} else if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", path, fs.ErrExist)
		}
		// No hard links here (some network and FUSE filesystems).
		if _, serr := os.Lstat(path); serr == nil {
			return fmt.Errorf("%s: %w", path, fs.ErrExist)
		} else if !errors.Is(serr, fs.ErrNotExist) {
			return serr
		}
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	}
	return SyncDir(dir)
}

// SyncDir makes a change of names in dir durable. On Windows, where a
// directory cannot be opened for syncing (and a rename is durable once it
// returns), it does nothing.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
