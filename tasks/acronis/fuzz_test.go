package acronis_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/acronis"
)

// fuzzStatuses and fuzzContentTypes are what FuzzListDecode's server answers GET /tasks with,
// chosen by index: the statuses the API and the gateways in front of it really send.
var (
	fuzzStatuses = []int{200, 200, 201, 204, 400, 401, 403, 404, 429, 500, 502, 503, 504}

	fuzzContentTypes = []string{"application/json", "application/json; charset=utf-8", "text/html", "text/html; charset=utf-8",
		"text/plain", "", "application/problem+json", "application/json; charset"}
)

// listAnswer is the answer FuzzListDecode's server gives to GET /tasks, swapped per input.
type listAnswer struct {
	mu          sync.Mutex
	status      int
	contentType string
	body        []byte
}

func (a *listAnswer) set(status int, contentType string, body []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.status, a.contentType, a.body = status, contentType, body
}

func (a *listAnswer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	status, ct, body := a.status, a.contentType, a.body
	a.mu.Unlock()
	if ct != "" {
		w.Header().Set("Content-Type", ct)
	} else {
		w.Header()["Content-Type"] = nil // no sniffing: no Content-Type at all
	}
	w.WriteHeader(status)
	w.Write(body)
}

// FuzzListDecode drives the task-list path of acronis.Client through a real HTTP round trip with
// fuzzed answers: any body, with one of fuzzStatuses and fuzzContentTypes. List must not panic
// and must return either a result whose tasks encode to JSON (and decode back to tasks that
// encode the same), or an error; an *APIError carrying the status for a non-2xx answer, never
// one for a 2xx answer. Seeds are the Acronis answers in testdata/acronis (the OpenAPI documents
// excepted: they are no answers and would slow the fuzzer) and testdata/fuzz/FuzzListDecode.
func FuzzListDecode(f *testing.F) {
	fixtures, err := filepath.Glob("../../testdata/acronis/*")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range fixtures {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) > 16<<10 {
			continue
		}
		ct := uint8(0)
		if strings.HasSuffix(name, ".html") {
			ct = 2
		}
		f.Add(b, uint8(0), ct)
		f.Add(b, uint8(11), ct) // 502
	}
	f.Add([]byte(`{"items":[{"id":944455285181775999,"state":"started"}],"paging":{"cursors":{"after":"abc"}}}`), uint8(0), uint8(1))
	f.Add([]byte(`{"items":null}`), uint8(0), uint8(0))
	f.Add([]byte(`{"items":[{"enqueuedAt":"0000-01-01T00:00:00+01:00","context":{"n":1e308}}]}`), uint8(0), uint8(0))

	// One server and one client for the fuzzing process: the client keeps its token and its
	// connection, so an input costs one or two local requests.
	answer := &listAnswer{status: 200, contentType: "application/json", body: []byte(`{"items":[]}`)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+acronis.TokenPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"fuzz-token","token_type":"bearer","expires_on":%d}`, time.Now().Add(2*time.Hour).Unix())
	})
	mux.Handle("GET "+acronis.APIPath+"/tasks", answer)
	srv := httptest.NewServer(mux)
	f.Cleanup(srv.Close)
	client, err := acronis.NewClient(acronis.Config{BaseURL: srv.URL, ClientID: "fuzz", ClientSecret: "fuzz-secret",
		Retries: -1, Timeout: 5 * time.Second})
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, body []byte, statusIndex, typeIndex uint8) {
		status := fuzzStatuses[int(statusIndex)%len(fuzzStatuses)]
		contentType := fuzzContentTypes[int(typeIndex)%len(fuzzContentTypes)]
		answer.set(status, contentType, body)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res, err := client.List(ctx, tasks.Query{States: []tasks.State{tasks.Started, tasks.Paused}})

		var ae *acronis.APIError
		isAPIError := errors.As(err, &ae)
		switch {
		case status < 200 || status > 299:
			if !isAPIError || ae.StatusCode != status {
				t.Fatalf("%d answer gave %v (%T), want an *APIError with status %d", status, err, err, status)
			}
			if msg := err.Error(); !strings.Contains(msg, fmt.Sprint(status)) {
				t.Fatalf("error %q does not name the status %d", msg, status)
			}
			return
		case isAPIError:
			t.Fatalf("%d answer gave an *APIError: %v", status, err)
		case err != nil:
			if res != nil {
				t.Fatalf("List returned a result together with the error %v", err)
			}
			return
		}
		if res == nil {
			t.Fatal("List returned neither a result nor an error")
		}
		if !json.Valid(body) {
			t.Fatalf("List accepted a body that is not JSON: %q", body)
		}
		for i := range res.Tasks {
			first, err := json.Marshal(&res.Tasks[i])
			if err != nil {
				t.Fatalf("task %d of %q does not encode to JSON: %v", i, body, err)
			}
			var back tasks.Task
			if err := json.Unmarshal(first, &back); err != nil {
				t.Fatalf("task %d encodes to %s, which does not decode: %v", i, first, err)
			}
			again, err := json.Marshal(&back)
			if err != nil || !bytes.Equal(first, again) {
				t.Fatalf("task %d encodes to %s, then after a round trip to %s (%v)", i, first, again, err)
			}
		}
	})
}
