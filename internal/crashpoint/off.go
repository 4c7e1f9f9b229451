//go:build !crashpoints

package crashpoint

// Enabled reports whether this binary was built with the crashpoints tag.
const Enabled = false

// Hit does nothing outside crash-test builds.
func Hit(string) {}
