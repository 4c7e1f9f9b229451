//go:build crashpoints

package crashpoint

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// The child process of TestHitKillsAtTheNthHit.
func TestMain(m *testing.M) {
	if os.Getenv("CRASHPOINT_TEST_CHILD") == "1" {
		for i := 1; i <= 3; i++ {
			Hit(StoreBetweenSaves) // another point: never kills
			fmt.Printf("before %d\n", i)
			Hit(FinalizeBlock)
			fmt.Printf("after %d\n", i)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func child(t *testing.T, env string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "CRASHPOINT_TEST_CHILD=1", EnvVar+"="+env)
	out, _ := cmd.CombinedOutput()
	return cmd, string(out)
}

// TestHitKillsAtTheNthHit: armed with finalize-block:2, the process dies by
// SIGKILL at the second hit of that point, not before, having said so.
func TestHitKillsAtTheNthHit(t *testing.T) {
	cmd, out := child(t, FinalizeBlock+":2")
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child: %v, want killed by SIGKILL\n%s", cmd.ProcessState, out)
	}
	for _, want := range []string{"before 1", "after 1", "before 2", "crashpoint finalize-block reached (hit 2): SIGKILL"} {
		if !strings.Contains(out, want) {
			t.Fatalf("child output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "after 2") {
		t.Fatalf("child went on past the crash point:\n%s", out)
	}
}

// TestUnknownPointRefused: a misspelt point stops the process at start.
func TestUnknownPointRefused(t *testing.T) {
	for _, env := range []string{"finalise-block", FinalizeBlock + ":0", FinalizeBlock + ":x"} {
		cmd, out := child(t, env)
		if cmd.ProcessState.ExitCode() != 2 || strings.Contains(out, "before 1") {
			t.Fatalf("%s=%s: %v, want exit 2 before running\n%s", EnvVar, env, cmd.ProcessState, out)
		}
	}
}
