package exitcode

import "errors"

// Exit statuses shared by both binaries.
const (
	OK          = 0
	Failed      = 1 // the chain rejected the tx, the record was not found, or verification failed
	Usage       = 2 // bad flags or arguments, or nothing could be checked or sent
	Unreachable = 3 // the node could not be reached, or inclusion timed out
)

// Error carries an explicit process exit status with the error that
// caused it.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// With wraps err so that the process exits with code; a nil err stays nil.
func With(code int, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Err: err}
}

// Of is the exit status for err: OK for nil, the code of the outermost
// *Error in its chain, else Failed.
func Of(err error) int {
	if err == nil {
		return OK
	}
	var ee *Error
	if errors.As(err, &ee) {
		return ee.Code
	}
	return Failed
}
