package store

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	idb "github.com/cosmos/iavl/db"
)

// BenchmarkCheckTables measures the start-up integrity read of the state
// database (verifyTables) on a store of 200,000 records of 250 bytes in 20
// versions; b.SetBytes is the database's size on disk.
func BenchmarkCheckTables(b *testing.B) {
	dir := b.TempDir()
	m, err := Open(dir, names, DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	val := make([]byte, 250)
	for v := 0; v < 20; v++ {
		for i := 0; i < 10_000; i++ {
			n := names[i%len(names)]
			copy(val, fmt.Sprintf("%s-%d-%d", n, v, i))
			if err := m.Set(n, []byte(fmt.Sprintf("record/%07d", v*10_000+i)), val); err != nil {
				b.Fatal(err)
			}
		}
		if _, _, err := m.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		b.Fatal(err)
	}
	var size int64
	files, _ := filepath.Glob(filepath.Join(dir, "application.db", "*"))
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			size += fi.Size()
		}
	}
	db, err := idb.NewGoLevelDB("application", dir)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := verifyTables(db.RawDB(), filepath.Join(dir, "application.db")); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size)/(1<<20), "MiB")
}
