package tasks

import (
	"context"
	"errors"
	"time"
)

// Lister is what the slash commands need of the Task Manager API; the Acronis client (package
// tasks/acronis) implements it.
type Lister interface {
	// List fetches the tasks q selects, every page of them (or q.MaxTasks). Its errors carry a
	// fix for the user where there is one (see Explain).
	List(ctx context.Context, q Query) (*ListResult, error)
}

// Service is what the poller needs of the Task Manager API: listing, and looking one task up
// (to confirm that a task the lists no longer return is really gone). The Acronis client
// implements it.
type Service interface {
	Lister
	// Each is List that hands each page's tasks to page as they arrive and keeps none
	// (ListResult.Tasks is nil), so a listing holds one page in memory; an error from page
	// stops it and is returned.
	Each(ctx context.Context, q Query, page func([]Task) error) (*ListResult, error)
	// Task fetches one task by its decimal id (idString) or UUID. A task the API does not know
	// is an error that IsNotFound recognises.
	Task(ctx context.Context, key string) (*Task, error)
}

// IsNotFound reports whether err says that the API does not know the task asked for: an error
// in its chain has a method NotFound() bool that returns true (the Acronis client's 404 does).
func IsNotFound(err error) bool {
	var nf interface{ NotFound() bool }
	return errors.As(err, &nf) && nf.NotFound()
}

// ListResult is what a List collected.
type ListResult struct {
	// Tasks are the tasks of every page that match the query, in the order the API sent them.
	Tasks []Task
	// More reports that Query.MaxTasks stopped the listing early: tasks were cut from the last
	// page or the API offered a further page.
	More bool
	// TimeStamp is the top-level "timeStamp" of the last page (the server's clock when it
	// answered); zero when the API sent none.
	TimeStamp time.Time
	// ServerTime is the Date header of the last answer (the API's clock, whole seconds); zero
	// when it sent none.
	ServerTime time.Time
	// StartTime is the Date header of the first answer: every update the API had made visible
	// by then is in the listing (if it matched the query). Zero when it sent none.
	StartTime time.Time
	// Pages is how many pages were fetched.
	Pages int
	// Skipped counts items that could not be decoded and were left out (each is logged).
	Skipped int
	// Incomplete reports that the API stopped the listing short: it kept sending empty pages
	// that named a next page, and taskbot stopped following them. Tasks may be missing.
	Incomplete bool
}
