package taskstest

import (
	"encoding/json"
	"fmt"
)

// This file holds the knobs that make the fake behave like the real API where it departs from
// its OpenAPI document, as public clients of Acronis (Zabbix's template, a Prometheus exporter,
// Acronis's own samples) have to cope with. Each knob stays until changed; the zero setting is
// the documented behaviour.

// SetRawItems makes the first page of every list answer (a GET /tasks without `after`) carry
// items after its tasks, verbatim and whatever the query asked: task objects the real API sends
// that do not match the schema, such as {"id":"abc"}, {"completedAt":12} or {"state":5}. Size
// counts them. Each item must be valid JSON (the answer stays valid JSON); anything else panics,
// as a bug in the calling test. No items restores normal answers.
func (s *Server) SetRawItems(items ...string) {
	raw := make([]json.RawMessage, 0, len(items))
	for _, it := range items {
		if !json.Valid([]byte(it)) {
			panic(fmt.Sprintf("taskstest: SetRawItems: %q is not valid JSON", it))
		}
		raw = append(raw, json.RawMessage(it))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rawItems = raw
}
