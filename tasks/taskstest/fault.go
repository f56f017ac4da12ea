package taskstest

import (
	"net/http"
	"time"
)

// Fault is an injected failure: requests to Path get Status with Body instead of the real
// answer, optionally after Delay. Faults apply before authentication, like a gateway's.
type Fault struct {
	// Path is the exact request path the fault applies to: TasksPath
	// ("/api/task_manager/v2/tasks", the list) or TokenPath ("/api/2/idp/token"); "" means
	// TasksPath.
	Path string
	// Status is the answer's status code. 0 answers normally (after Delay): a pure delay.
	Status int
	// ContentType and Body are the answer's; ContentType "" sends no Content-Type header.
	ContentType string
	Body        string
	// Header holds extra answer headers, e.g. Retry-After.
	Header http.Header
	// Delay holds the answer back this long; a client whose timeout is shorter sees a timeout.
	Delay time.Duration
	// Until, when not nil, holds the answer back until it is closed (after Delay, if both are
	// set): a test releases the API exactly when it has seen what must happen first, instead
	// of betting on a delay. The request's end or Close also end the wait.
	Until <-chan struct{}
	// Times is how many requests the fault affects before it is removed; 0 means every
	// request until ClearFaults.
	Times int
	// AfterPages lets this many matching requests succeed before the fault starts: with the
	// list path it fails paging in the middle.
	AfterPages int
}

// faultState is a Fault with its counters.
type faultState struct {
	Fault
	passed int // requests let through because of AfterPages
	hits   int // requests affected
}

// Fail injects f. Faults are matched in the order they were injected; the first one that
// applies to a request is used.
func (s *Server) Fail(f Fault) {
	if f.Path == "" {
		f.Path = TasksPath
	}
	f.Header = f.Header.Clone()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultState{Fault: f})
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// matchFaultLocked returns the fault that affects a request to path, counting it, or nil.
func (s *Server) matchFaultLocked(path string) *Fault {
	for i, f := range s.faults {
		if f.Path != path {
			continue
		}
		if f.passed < f.AfterPages {
			f.passed++
			return nil
		}
		f.hits++
		if f.Times > 0 && f.hits >= f.Times {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
		}
		c := f.Fault
		return &c
	}
	return nil
}

// writeFault sends the answer a fault prescribes.
func writeFault(w http.ResponseWriter, f *Fault) {
	for k, vs := range f.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	writeRaw(w, f.Status, f.ContentType, []byte(f.Body))
}
