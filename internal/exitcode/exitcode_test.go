package exitcode_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/civicledger/civicledger/internal/exitcode"
)

func TestOf(t *testing.T) {
	base := errors.New("boom")
	cases := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, exitcode.OK},
		{"plain", base, exitcode.Failed},
		{"usage", exitcode.With(exitcode.Usage, base), exitcode.Usage},
		{"wrapped", fmt.Errorf("ctx: %w", exitcode.With(exitcode.Unreachable, base)), exitcode.Unreachable},
		{"outermost wins", exitcode.With(exitcode.Usage, exitcode.With(exitcode.Failed, base)), exitcode.Usage},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := exitcode.Of(c.err); got != c.want {
				t.Fatalf("Of(%v) = %d, want %d", c.err, got, c.want)
			}
		})
	}
	if exitcode.With(exitcode.Usage, nil) != nil {
		t.Fatal("With(code, nil) is not nil")
	}
	if err := exitcode.With(exitcode.Usage, base); !errors.Is(err, base) || err.Error() != "boom" {
		t.Fatalf("With does not wrap: %v", err)
	}
}
