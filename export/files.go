package export

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// opener opens one file of a release for writing (a path relative to the
// release directory, with forward slashes).
type opener func(path string) (io.Writer, error)

// File is one file of a release as the manifest lists it.
type File struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
}

// outFile counts and hashes what is written to w.
type outFile struct {
	path string
	w    io.Writer
	h    hash.Hash
	n    int64
}

func (f *outFile) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	f.h.Write(p[:n])
	f.n += int64(n)
	return n, err
}

func (f *outFile) entry() File {
	return File{Path: f.path, SHA256: hex.EncodeToString(f.h.Sum(nil)), Bytes: f.n}
}

// fileSet is the files an export writes (to a directory) or a verification
// compares (with a directory's files).
type fileSet struct {
	dir     string
	compare bool // compare with the files in dir instead of writing them
	files   []*outFile
	closers []func() error
}

func (s *fileSet) open(path string) (io.Writer, error) {
	full := filepath.Join(s.dir, filepath.FromSlash(path))
	var w io.Writer
	if s.compare {
		f, err := os.Open(full)
		if err != nil {
			return nil, &FileError{File: path, Err: fmt.Errorf("the release has no such file: %w", err)}
		}
		c := &comparer{path: path, r: bufio.NewReaderSize(f, 1<<16), line: 1}
		s.closers = append(s.closers, func() error { defer f.Close(); return c.end() })
		w = c
	} else {
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(full, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return nil, err
		}
		b := bufio.NewWriterSize(f, 1<<16)
		s.closers = append(s.closers, func() error {
			if err := b.Flush(); err != nil {
				f.Close()
				return err
			}
			if err := f.Sync(); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		})
		w = b
	}
	of := &outFile{path: path, w: w, h: sha256.New()}
	s.files = append(s.files, of)
	return of, nil
}

// close flushes (or ends the comparison of) every file, and returns their
// entries sorted by path.
func (s *fileSet) close() ([]File, error) {
	var first error
	for _, c := range s.closers {
		if err := c(); err != nil && first == nil {
			first = err
		}
	}
	s.closers = nil
	out := make([]File, len(s.files))
	for i, f := range s.files {
		out[i] = f.entry()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, first
}

// comparer is a writer that compares what is written with a file's bytes
// and fails at the first difference, saying where it is.
type comparer struct {
	path string
	r    *bufio.Reader
	off  int64
	line int64
	buf  []byte
}

func (c *comparer) Write(p []byte) (int, error) {
	if cap(c.buf) < len(p) {
		c.buf = make([]byte, len(p))
	}
	got := c.buf[:len(p)]
	n, err := io.ReadFull(c.r, got)
	for i := 0; i < n; i++ {
		if got[i] != p[i] {
			return i, &FileError{File: c.path, Err: fmt.Errorf("%w: byte %d (line %d) is %q, the proved records give %q",
				ErrMismatch, c.off+int64(i), c.line, got[i], p[i])}
		}
		if p[i] == '\n' {
			c.line++
		}
	}
	c.off += int64(n)
	if err != nil {
		return n, &FileError{File: c.path, Err: fmt.Errorf("%w: the file ends at byte %d (line %d), the proved records go on", ErrMismatch, c.off, c.line)}
	}
	return n, nil
}

func (c *comparer) end() error {
	if _, err := c.r.Peek(1); err == nil {
		return &FileError{File: c.path, Err: fmt.Errorf("%w: the file goes on after byte %d (line %d), where the proved records end", ErrMismatch, c.off, c.line)}
	}
	return nil
}

// hashFile returns the sha256 and size of a file.
func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// sameBytes reports where a and b first differ (-1: equal).
func sameBytes(a, b []byte) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return n
	}
	if bytes.Equal(a, b) {
		return -1
	}
	return 0
}
