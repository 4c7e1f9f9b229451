package node_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/civicledger/civicledger/node"
)

// FuzzLoadConfig: LoadConfig never panics on any app.toml (next to a
// default config.toml). A config it accepts passes its own validation, and
// its app section survives a write and a load (WriteConfig into another
// home, LoadConfig there) unchanged. Seeds are the app.toml WriteConfig
// writes for the default and an auditor node, and a few broken ones.
func FuzzLoadConfig(f *testing.F) {
	seedHome := func(mod func(*node.Config)) []byte {
		c := node.DefaultConfig(f.TempDir())
		mod(c)
		if err := os.MkdirAll(filepath.Join(c.RootDir, "config"), 0o755); err != nil {
			f.Fatal(err)
		}
		if err := node.WriteConfig(c); err != nil {
			f.Fatal(err)
		}
		bz, err := os.ReadFile(node.AppConfigFile(c.RootDir))
		if err != nil {
			f.Fatal(err)
		}
		return bz
	}
	f.Add(seedHome(func(*node.Config) {}))
	f.Add(seedHome(func(c *node.Config) {
		c.App.AuditorNode, c.App.SnapshotInterval, c.App.SnapshotKeepRecent, c.App.SnapshotRestoreMaxBytes = true, 0, 0, 1<<30
	}))
	f.Add([]byte("snapshot_interval = -1\n"))
	f.Add([]byte("state_cache_size = \"many\"\n"))
	f.Add([]byte("[app]\nsnapshot_interval = 10\n"))

	home := f.TempDir()
	other := f.TempDir()
	for _, h := range []string{home, other} {
		c := node.DefaultConfig(h)
		if err := os.MkdirAll(filepath.Join(h, "config"), 0o755); err != nil {
			f.Fatal(err)
		}
		if err := node.WriteConfig(c); err != nil {
			f.Fatal(err)
		}
	}

	f.Fuzz(func(t *testing.T, appTOML []byte) {
		if err := os.WriteFile(node.AppConfigFile(home), appTOML, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := node.LoadConfig(home)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("loaded config fails its validation: %v", err)
		}
		c.SetRoot(other)
		if err := node.WriteConfig(c); err != nil {
			t.Fatalf("loaded config does not write: %v", err)
		}
		again, err := node.LoadConfig(other)
		if err != nil {
			t.Fatalf("written config does not load: %v", err)
		}
		if !reflect.DeepEqual(normalPortal(again.App), normalPortal(c.App)) {
			t.Fatalf("app section changed by a write and a load:\n%+v\n%+v", c.App, again.App)
		}
	})
}

// normalPortal treats no witnesses and an empty list alike (app.toml writes
// both as []).
func normalPortal(c node.AppConfig) node.AppConfig {
	if len(c.Portal.Witnesses) == 0 {
		c.Portal.Witnesses = nil
	}
	return c
}
