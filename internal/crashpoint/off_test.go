//go:build !crashpoints

package crashpoint

import "testing"

// TestHitIsInertInNormalBuilds: outside the crash tests' build, an armed
// environment variable changes nothing.
func TestHitIsInertInNormalBuilds(t *testing.T) {
	if Enabled {
		t.Fatal("Enabled in a build without the crashpoints tag")
	}
	t.Setenv(EnvVar, FinalizeBlock)
	for range 3 {
		for _, p := range All {
			Hit(p)
		}
	}
}
