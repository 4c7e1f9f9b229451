package store

import (
	"github.com/syndtr/goleveldb/leveldb/filter"
	"github.com/syndtr/goleveldb/leveldb/opt"
)

// LevelDBOptions are the goleveldb options of the state database, and of
// the node's two CometBFT databases that take a write per tx (block store
// and tx index).
//
// goleveldb's defaults suit neither. Its level 1 holds up to 100 MiB
// (CompactionTotalSize 10 MiB times the multiplier 10, applied from level
// 1), while a memtable of 4 MiB makes level-0 tables of 1–2 MiB, and every
// compaction from level 0 rewrites each level-1 table that a level-0 table
// overlaps. Here every level-0 table overlaps nearly all of level 1: the
// state database holds six IAVL trees under their prefixes, each appending
// new nodes at its own end, so a flush spans all six; the tx index writes
// under random tx hashes. Level 1 was thus rewritten whole every four
// flushes, a cost that grows with the state: 24 s of compaction for 200,000
// records (BENCHMARKS.md, "Growth"). A 32 MiB memtable writes level-0
// tables as large as the first, cutting that rewrite about eightfold; level
// tables of 8 MiB mean fewer files and compactions. The bloom filter (10
// bits a key, what IAVL's own goleveldb constructor sets) spares reads of
// tables that lack a key. Memory: up to two memtables per database while
// one is flushed.
//
// Seek compactions are off: goleveldb otherwise compacts a table after a
// number of reads that looked in it for a key held further down, which
// IAVL's reads of uncached nodes do all the time, so compaction followed
// the reads as well as the writes. Data blocks are 16 KiB instead of 4:
// compaction reads and writes a table a block per system call, and snappy
// compresses larger blocks better: at a million records, 15 % less disk
// per record (1,794 bytes against 2,105), and the least CPU time of the
// runs measured (BENCHMARKS.md, "a smaller IAVL node cache"). Both apply
// to existing databases as they are: tables already written keep their
// block size.
func LevelDBOptions() *opt.Options {
	return &opt.Options{
		Filter:                 filter.NewBloomFilter(10),
		WriteBuffer:            32 * opt.MiB,
		CompactionTableSize:    8 * opt.MiB,
		DisableSeeksCompaction: true,
		BlockSize:              16 * opt.KiB,
	}
}
