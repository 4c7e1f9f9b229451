package store

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"

	"github.com/golang/snappy"
	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/util"
)

// Sorted table layout (goleveldb, as LevelDB): blocks, each followed by a
// 5-byte trailer (compression type, masked CRC-32C of the block and the
// type), in file order data blocks, meta (filter) blocks, the metaindex
// block and the index block; then a 48-byte footer: the metaindex and index
// block handles (varints), zero padding, and the magic number.
const (
	tableTrailerLen = 5
	tableFooterLen  = 48
	tableMagic      = "\x57\xfb\x80\x8b\x24\x75\x47\xdb"
)

// liveTable matches a table line of goleveldb's "leveldb.sstables"
// property: "<file number>:<size>[<first key> .. <last key>]".
var liveTable = regexp.MustCompile(`(?m)^(\d+):(\d+)\[`)

// verifyTables checks every live sorted table of the open database in dir
// (the tables of its current version: files a crash left behind are not
// read) byte by byte: every block's checksum, and that the blocks, their
// trailers and the footer cover the whole file, so that a damaged byte
// anywhere in a table is found. It reads each table once, sequentially.
// A table that a compaction removed meanwhile is skipped.
func verifyTables(db *leveldb.DB, dir string) error {
	prop, err := db.GetProperty("leveldb.sstables")
	if err != nil {
		return err
	}
	for _, m := range liveTable.FindAllStringSubmatch(prop, -1) {
		num, _ := strconv.ParseInt(m[1], 10, 64)
		size, _ := strconv.ParseInt(m[2], 10, 64)
		path := filepath.Join(dir, fmt.Sprintf("%06d.ldb", num))
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			path = filepath.Join(dir, fmt.Sprintf("%06d.sst", num)) // LevelDB's older name
		}
		if err := verifyTable(path, size); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // compacted away since the listing
			}
			return fmt.Errorf("table %s: %w", filepath.Base(path), err)
		}
	}
	return nil
}

type tableBlock struct{ off, n uint64 }

// verifyTable checks one table file of the given size.
func verifyTable(path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() != size {
		return fmt.Errorf("size %d, the database's manifest says %d", fi.Size(), size)
	}
	if size < tableFooterLen {
		return fmt.Errorf("%d bytes: too short for a table", size)
	}
	footer := make([]byte, tableFooterLen)
	if _, err := f.ReadAt(footer, size-tableFooterLen); err != nil {
		return err
	}
	if string(footer[tableFooterLen-len(tableMagic):]) != tableMagic {
		return errors.New("bad magic number in the footer")
	}
	metaH, n := decodeHandle(footer)
	if n == 0 {
		return errors.New("bad metaindex handle in the footer")
	}
	indexH, m := decodeHandle(footer[n:])
	if m == 0 {
		return errors.New("bad index handle in the footer")
	}
	for _, b := range footer[n+m : tableFooterLen-len(tableMagic)] {
		if b != 0 {
			return errors.New("non-zero padding in the footer")
		}
	}
	blocks := []tableBlock{metaH, indexH}
	for _, h := range []tableBlock{indexH, metaH} {
		data, err := readTableBlock(f, size, h)
		if err != nil {
			return err
		}
		hs, err := blockHandles(data)
		if err != nil {
			return fmt.Errorf("block at %d: %w", h.off, err)
		}
		blocks = append(blocks, hs...)
	}
	// The blocks, each with its trailer, must tile the file up to the footer.
	slices.SortFunc(blocks, func(a, b tableBlock) int { return cmpUint(a.off, b.off) })
	r := bufio.NewReaderSize(io.NewSectionReader(f, 0, size-tableFooterLen), 1<<20)
	var pos uint64
	buf := make([]byte, 0, 64<<10)
	for _, h := range blocks {
		if h.off != pos {
			return fmt.Errorf("block at %d: expected one at %d (blocks must follow each other)", h.off, pos)
		}
		if h.n+tableTrailerLen > uint64(size-tableFooterLen)-pos {
			return fmt.Errorf("block at %d of %d bytes runs past the footer", h.off, h.n)
		}
		buf = slices.Grow(buf[:0], int(h.n+tableTrailerLen))[:h.n+tableTrailerLen]
		if _, err := io.ReadFull(r, buf); err != nil {
			return err
		}
		if err := checkBlock(buf, h); err != nil {
			return err
		}
		pos += h.n + tableTrailerLen
	}
	if pos != uint64(size-tableFooterLen) {
		return fmt.Errorf("%d bytes between the last block and the footer", uint64(size-tableFooterLen)-pos)
	}
	return nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func decodeHandle(b []byte) (tableBlock, int) {
	off, n := binary.Uvarint(b)
	if n <= 0 {
		return tableBlock{}, 0
	}
	ln, m := binary.Uvarint(b[n:])
	if m <= 0 {
		return tableBlock{}, 0
	}
	return tableBlock{off, ln}, n + m
}

// checkBlock verifies a block and its trailer (raw = block || trailer).
func checkBlock(raw []byte, h tableBlock) error {
	want := binary.LittleEndian.Uint32(raw[h.n+1:])
	if got := util.NewCRC(raw[:h.n+1]).Value(); got != want {
		return fmt.Errorf("block at %d: checksum mismatch, want=%#x got=%#x", h.off, want, got)
	}
	return nil
}

// readTableBlock reads, verifies and decompresses one block.
func readTableBlock(f *os.File, size int64, h tableBlock) ([]byte, error) {
	if h.n > uint64(size) || h.off > uint64(size)-h.n || uint64(size)-h.off-h.n < tableTrailerLen+tableFooterLen {
		return nil, fmt.Errorf("block handle %d+%d out of the file", h.off, h.n)
	}
	raw := make([]byte, h.n+tableTrailerLen)
	if _, err := f.ReadAt(raw, int64(h.off)); err != nil {
		return nil, err
	}
	if err := checkBlock(raw, h); err != nil {
		return nil, err
	}
	switch raw[h.n] {
	case 0:
		return raw[:h.n], nil
	case 1:
		out, err := snappy.Decode(nil, raw[:h.n])
		if err != nil {
			return nil, fmt.Errorf("block at %d: %w", h.off, err)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("block at %d: unknown compression type %#x", h.off, raw[h.n])
	}
}

// blockHandles decodes the values of an index or metaindex block: the
// handles of the blocks it points to.
func blockHandles(b []byte) ([]tableBlock, error) {
	if len(b) < 4 {
		return nil, errors.New("block too short")
	}
	restarts := uint64(binary.LittleEndian.Uint32(b[len(b)-4:]))
	if restarts*4+4 > uint64(len(b)) {
		return nil, errors.New("bad restart count")
	}
	entries := b[:uint64(len(b))-4-restarts*4]
	var out []tableBlock
	for len(entries) > 0 {
		var hdr [3]uint64
		for i := range hdr {
			v, n := binary.Uvarint(entries)
			if n <= 0 {
				return nil, errors.New("bad entry header")
			}
			hdr[i] = v
			entries = entries[n:]
		}
		nonShared, valueLen := hdr[1], hdr[2]
		if nonShared > uint64(len(entries)) || valueLen > uint64(len(entries))-nonShared {
			return nil, errors.New("entry runs past the block")
		}
		h, n := decodeHandle(entries[nonShared : nonShared+valueLen])
		if n == 0 {
			return nil, errors.New("bad block handle")
		}
		out = append(out, h)
		entries = entries[nonShared+valueLen:]
	}
	return out, nil
}
