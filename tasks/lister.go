package tasks

import (
	"context"
	"time"
)

// Lister is what taskbot needs of the Task Manager API: the poller, the slash commands and
// `taskbot check` depend on it, and the Acronis client (package tasks/acronis) implements it.
type Lister interface {
	// List fetches the tasks q selects, every page of them (or q.MaxTasks). Its errors carry a
	// fix for the user where there is one (see Hint).
	List(ctx context.Context, q Query) (*ListResult, error)
}

// ListResult is what a List collected.
type ListResult struct {
	// Tasks are the tasks of every page, in the order the API sent them.
	Tasks []Task
	// More reports that Query.MaxTasks stopped the listing early: tasks were cut from the last
	// page or the API offered a further page.
	More bool
	// TimeStamp is the top-level "timeStamp" of the last page (the server's clock when it
	// answered); zero when the API sent none.
	TimeStamp time.Time
	// Pages is how many pages were fetched.
	Pages int
}
