package acronis

import (
	"errors"
	"net/http"
	"time"

	"github.com/taskbot/taskbot/tasks"
)

// The fixes this table gives, in one place. The scopes are those of the published OpenAPI
// document (x-AllowedTo of GET /tasks); the console paths those of Acronis Cyber Protect Cloud.
const (
	fixCredentials = "check ACRONIS_CLIENT_ID and ACRONIS_CLIENT_SECRET (Acronis console → Settings → API clients), and that the API client is enabled"
	fixRole        = "the API client lacks the scope urn:acronis.com::task_manager::viewer (or ::admin): give it a role that may read tasks (the default role of a partner or customer administrator's API client may)"
	fixURL         = "is ACRONIS_URL your data center's address, e.g. https://eu2-cloud.acronis.com?"
	fixNetwork     = "check ACRONIS_URL and the network between taskbot and Acronis"
	fixLater       = "try again in a minute"
)

// problem is the one table from a failure of the Task Manager API or its token endpoint to what
// the user can do about it. Every error type of this package that a caller can meet explains
// itself through it (tasks.Explainer), so callers need not import this package to word one.
func problem(err error) tasks.Problem {
	var te *TokenError
	var ae *APIError
	var to *timeoutError
	var ne *networkError
	var be *badAnswerError
	switch {
	case errors.As(err, &te) && te.StatusCode == http.StatusNotFound:
		return tasks.Problem{What: "the Acronis sign-in endpoint was not found", Fix: fixURL}
	case errors.As(err, &te) && te.Temporary():
		return tasks.Problem{What: "the Acronis sign-in service failed", Fix: fixLater}
	case errors.As(err, &te) && te.NotToken && te.HTML:
		return tasks.Problem{What: "the Acronis sign-in endpoint answered with a web page, not a token", Fix: fixURL}
	case errors.As(err, &te) && te.NotToken:
		return tasks.Problem{What: "the Acronis sign-in endpoint answered with something that is not a token", Fix: fixURL}
	case errors.As(err, &te) && te.HTML:
		// The Acronis sign-in service answers its errors in JSON (schema "tokenError"): a web
		// page comes from something else, a proxy or another site.
		return tasks.Problem{What: "the Acronis sign-in endpoint answered with a web page, not as the Acronis sign-in service does", Fix: fixURL}
	case errors.As(err, &te) && (te.StatusCode == http.StatusBadRequest || te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden):
		return tasks.Problem{What: "taskbot could not sign in to Acronis", Fix: fixCredentials}
	case errors.As(err, &te):
		return tasks.Problem{What: "taskbot could not sign in to Acronis", Fix: fixCredentials}
	case errors.As(err, &ae) && ae.StatusCode == http.StatusUnauthorized:
		return tasks.Problem{What: "the Task Manager API refused taskbot's access token", Fix: fixCredentials}
	case errors.As(err, &ae) && ae.StatusCode == http.StatusForbidden:
		return tasks.Problem{What: "the API client lacks permission to read tasks", Fix: fixRole}
	case errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound:
		return tasks.Problem{What: "the Task Manager API was not found", Fix: fixURL}
	case errors.As(err, &ae) && (ae.StatusCode == http.StatusMethodNotAllowed || ae.StatusCode == http.StatusNotImplemented):
		// The Task Manager answers GET /tasks; a server that does not know the method is
		// another server (a static web site, a proxy).
		return tasks.Problem{What: "the server at ACRONIS_URL is not the Task Manager API (" + ae.Status + ")", Fix: fixURL}
	case errors.As(err, &ae) && ae.RetryAfter > 0:
		return tasks.Problem{What: "the Task Manager API answered " + ae.Error(),
			Fix: "it asked to wait " + ae.RetryAfter.Round(time.Second).String() + "; taskbot tries again then"}
	case errors.As(err, &ae) && ae.Temporary():
		return tasks.Problem{What: "the Task Manager API answered " + ae.Error(), Fix: fixLater}
	case errors.As(err, &ae):
		return tasks.Problem{What: "the Task Manager API answered " + ae.Error()}
	case errors.As(err, &to):
		return tasks.Problem{What: "the Task Manager API did not answer in time",
			Fix: "try again in a minute; if it keeps happening, check the network to ACRONIS_URL, and for a partner account with many tasks allow a longer ACRONIS_TIMEOUT"}
	case errors.As(err, &ne):
		return tasks.Problem{What: "the Task Manager API could not be reached", Fix: fixNetwork}
	case errors.As(err, &be):
		return tasks.Problem{What: "the Task Manager API sent an answer taskbot cannot read", Fix: fixURL}
	}
	return tasks.Problem{What: "the Task Manager API failed"}
}

// Problem implements tasks.Explainer.
func (e *APIError) Problem() tasks.Problem { return problem(e) }

// HTTPStatus is the answer's status code, for metrics that count failures by status.
func (e *APIError) HTTPStatus() int { return e.StatusCode }

// NotFound reports a 404: the API does not know the task or path asked for (tasks.IsNotFound;
// GET /tasks/{id} answers 404 for a task it does not know, OpenAPI GET /tasks/{task-id}). A 404
// that is an HTML page is not one: a gateway's or web server's page means the request did not
// reach the Task Manager (a wrong ACRONIS_URL, a proxy's routing), and the task must not be taken
// for gone.
func (e *APIError) NotFound() bool { return e.StatusCode == http.StatusNotFound && !e.HTML }

// Problem implements tasks.Explainer.
func (e *TokenError) Problem() tasks.Problem { return problem(e) }

// Problem implements tasks.Explainer.
func (e *timeoutError) Problem() tasks.Problem { return problem(e) }

// Problem implements tasks.Explainer.
func (e *networkError) Problem() tasks.Problem { return problem(e) }

// Problem implements tasks.Explainer.
func (e *badAnswerError) Problem() tasks.Problem { return problem(e) }

// badAnswerError is a 2xx answer whose body is not the documented JSON (a proxy's login page,
// a truncated body). Its text is the wrapped error's.
type badAnswerError struct{ err error }

func (e *badAnswerError) Error() string { return e.err.Error() }
func (e *badAnswerError) Unwrap() error { return e.err }
