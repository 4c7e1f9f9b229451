//go:build crashpoints

package crashpoint

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Enabled reports whether this binary was built with the crashpoints tag.
const Enabled = true

var (
	mu    sync.Mutex
	armed string // the point named by EnvVar
	after = 1    // crash at this hit of it
	hits  int
)

func init() {
	v := strings.TrimSpace(os.Getenv(EnvVar))
	if v == "" {
		return
	}
	name, n, found := strings.Cut(v, ":")
	if found {
		c, err := strconv.Atoi(n)
		if err != nil || c < 1 {
			fmt.Fprintf(os.Stderr, "%s=%q: the hit count must be a positive integer\n", EnvVar, v)
			os.Exit(2)
		}
		after = c
	}
	for _, p := range All {
		if p == name {
			armed = name
			fmt.Fprintf(os.Stderr, "crashpoint armed: %s at hit %d\n", armed, after)
			return
		}
	}
	fmt.Fprintf(os.Stderr, "%s=%q: unknown crash point (known: %s)\n", EnvVar, v, strings.Join(All, ", "))
	os.Exit(2)
}

// Hit kills the process with SIGKILL if name is the armed point and this is
// its configured hit.
func Hit(name string) {
	mu.Lock()
	if name != armed {
		mu.Unlock()
		return
	}
	hits++
	if hits < after {
		mu.Unlock()
		return
	}
	// Keep mu: no other point may run past here.
	fmt.Fprintf(os.Stderr, "crashpoint %s reached (hit %d): SIGKILL\n", name, hits)
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal is delivered asynchronously; never return
}
