package tasks

import (
	"context"
	"errors"
)

// Problem explains a failure to the person who can act on it. The Acronis client's errors
// carry one (tasks/acronis/hints.go holds the one table from error to fix); `taskbot check`,
// /readyz, slash-command answers and logs all word a failure through Explain, so the same 403
// reads the same everywhere.
type Problem struct {
	// What went wrong, as a phrase without a final period: "the API client lacks permission
	// to read tasks".
	What string
	// Fix is what the user can do, as a phrase: "check ACRONIS_CLIENT_ID and …"; "" when there
	// is nothing to do but wait (a 503, a timeout).
	Fix string
}

// Explainer is implemented by errors that know their Problem.
type Explainer interface{ Problem() Problem }

// Explain returns the Problem of the first error in err's chain that implements Explainer.
// A chain without one is explained when it ended in a cancelled or expired context; for any
// other error ok is false.
func Explain(err error) (p Problem, ok bool) {
	var ex Explainer
	switch {
	case err == nil:
		return Problem{}, false
	case errors.As(err, &ex):
		return ex.Problem(), true
	case errors.Is(err, context.Canceled):
		return Problem{What: "the request was cancelled: taskbot is shutting down", Fix: "try again in a moment"}, true
	case errors.Is(err, context.DeadlineExceeded):
		return Problem{What: "the Task Manager API did not answer in time", Fix: "try again in a minute"}, true
	}
	return Problem{}, false
}

// Fix is the fix Explain finds for err, "" when there is none.
func Fix(err error) string {
	p, _ := Explain(err)
	return p.Fix
}
