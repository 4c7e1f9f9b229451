package app

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckDiskFree(t *testing.T) {
	dir := t.TempDir()
	if _, known, _ := diskFree(dir); !known {
		t.Skip("free disk space is unknown on this system")
	}
	if err := CheckDiskFree(dir, 1); err != nil {
		t.Fatalf("1 byte minimum: %v", err)
	}
	err := CheckDiskFree(dir, 1<<62)
	if !errors.Is(err, ErrDiskLow) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "min_free_disk_mb = 4398046511104") {
		t.Fatalf("4 EiB minimum: %v, want ErrDiskLow naming %s and the setting", err, dir)
	}
	if err := CheckDiskFree(dir+"/missing", 1); err == nil || errors.Is(err, ErrDiskLow) {
		t.Fatalf("missing directory: %v, want an error that is not ErrDiskLow", err)
	}
}
