package app_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/civicledger/civicledger/app"
	"github.com/civicledger/civicledger/ledger"
	"github.com/civicledger/civicledger/ledger/store"
)

// TestNewValidatesOptions: New refuses options it cannot run with, and its
// error names the field at fault.
func TestNewValidatesOptions(t *testing.T) {
	snaps := func(f func(s *app.Snapshots)) *app.Snapshots {
		s, err := app.OpenSnapshots(filepath.Join(t.TempDir(), "snapshots"), nil)
		if err != nil {
			t.Fatal(err)
		}
		f(s)
		return s
	}
	for _, tc := range []struct {
		name  string
		opts  func(o *app.Options)
		field string // "" when valid
	}{
		{"defaults", func(o *app.Options) {}, ""},
		{"zero options", func(o *app.Options) { *o = app.Options{} }, ""},
		{"snapshot defaults", func(o *app.Options) { o.Snapshots = snaps(func(*app.Snapshots) {}) }, ""},
		{"negative invariant interval", func(o *app.Options) { o.InvariantEvery = -1 }, "InvariantEvery"},
		{"negative live window", func(o *app.Options) { o.LiveWindow = -1 }, "LiveWindow"},
		{"negative snapshot interval", func(o *app.Options) { o.Snapshots = snaps(func(s *app.Snapshots) { s.Interval = -1 }) }, "Snapshots.Interval"},
		{"negative snapshots kept", func(o *app.Options) { o.Snapshots = snaps(func(s *app.Snapshots) { s.KeepRecent = -1 }) }, "Snapshots.KeepRecent"},
		{"chunk over the limit", func(o *app.Options) {
			o.Snapshots = snaps(func(s *app.Snapshots) { s.ChunkSize = app.DefaultSnapshotChunkSize + 1 })
		}, "Snapshots.ChunkSize"},
		{"negative chunk size", func(o *app.Options) { o.Snapshots = snaps(func(s *app.Snapshots) { s.ChunkSize = -1 }) }, "Snapshots.ChunkSize"},
		{"negative restore cap", func(o *app.Options) { o.Snapshots = snaps(func(s *app.Snapshots) { s.MaxRestoreBytes = -1 }) }, "Snapshots.MaxRestoreBytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := store.OpenMem(ledger.StoreNames, store.DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			o := app.DefaultOptions()
			tc.opts(&o)
			a, err := app.New(st, o)
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("valid options refused: %v", err)
			case tc.field == "":
				a.Close()
			case err == nil:
				t.Fatalf("New accepted options with a bad %s", tc.field)
			case !strings.Contains(err.Error(), tc.field+" "):
				t.Fatalf("error %q does not name %s", err, tc.field)
			}
		})
	}
	if _, err := app.New(nil, app.DefaultOptions()); err == nil {
		t.Fatal("New accepted no store")
	}
}
