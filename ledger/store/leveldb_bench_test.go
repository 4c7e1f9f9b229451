package store

import (
	"fmt"
	"testing"
	"time"

	idb "github.com/cosmos/iavl/db"
	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/filter"
	"github.com/syndtr/goleveldb/leveldb/opt"
)

// BenchmarkStateGrowth writes blocks of 1,000 records the way the ledger
// does (six trees: a record under a new sequential id, two index entries,
// a nonce and its expiry entry, an agency total rewritten) and commits each
// block, on goleveldb with its default options (plus the bloom filter IAVL
// sets) and with LevelDBOptions, side by side. One op is one block, so
// -benchtime 200x ends with 200,000 records. Reported per block: the time
// goleveldb spent compacting (compact-ms/op; it runs in the background, on
// a core the node needs) and, for the whole run, the bytes that compaction
// wrote per byte flushed from the memtable (write-amp, level 0 excluded).
func BenchmarkStateGrowth(b *testing.B) {
	for _, c := range []struct {
		name string
		opts *opt.Options
	}{
		{"goleveldb-defaults", &opt.Options{Filter: filter.NewBloomFilter(10)}},
		{"LevelDBOptions", LevelDBOptions()},
	} {
		b.Run(c.name, func(b *testing.B) {
			o := DefaultOptions()
			o.LevelDB = c.opts
			m, err := Open(b.TempDir(), names6, o)
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			rec := make([]byte, 480)
			for i := range rec {
				rec[i] = byte('a' + i%26)
			}
			b.ResetTimer()
			for v := 0; v < b.N; v++ {
				for i := 0; i < 1000; i++ {
					id := fmt.Sprintf("G-%09d", v*1000+i)
					copy(rec, id)
					signer := fmt.Sprintf("%064x", i%16)
					sets := []struct {
						store string
						k, v  []byte
					}{
						{"grants", []byte(id), rec},
						{"index", []byte("grant/agency/agency-" + fmt.Sprint(i%4) + "/" + id), []byte("awarded")},
						{"index", []byte("payment/grant/" + id + "/P" + id), []byte("paid")},
						{"meta", []byte(fmt.Sprintf("nonce/%s/%020d", signer, v*1000+i)), []byte("1000")},
						{"meta", []byte(fmt.Sprintf("nonce-exp/%020d/%s/%020d", v+1000, signer, v*1000+i)), []byte("1")},
						{"meta", []byte("total/agency-" + fmt.Sprint(i%4) + "/EUR"), rec[:120]},
						{"payments", []byte("P" + id), rec[:400]},
					}
					for _, s := range sets {
						if err := m.Set(s.store, s.k, s.v); err != nil {
							b.Fatal(err)
						}
					}
				}
				if _, _, err := m.Commit(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			var st leveldb.DBStats
			if err := m.db.(*idb.GoLevelDB).RawDB().Stats(&st); err != nil {
				b.Fatal(err)
			}
			var compact time.Duration
			var written, flushed int64
			for l, d := range st.LevelDurations {
				compact += d
				if l == 0 {
					flushed += st.LevelWrite[l]
				} else {
					written += st.LevelWrite[l]
				}
			}
			b.ReportMetric(float64(compact.Milliseconds())/float64(b.N), "compact-ms/op")
			if flushed > 0 {
				b.ReportMetric(float64(written)/float64(flushed), "write-amp")
			}
		})
	}
}

var names6 = []string{"agencies", "grants", "index", "licences", "meta", "payments"}
