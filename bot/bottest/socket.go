package bottest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/gorilla/websocket"
)

// socketMode is the fake's side of Slack's Socket Mode (https://api.slack.com/apis/socket-mode):
// apps.connections.open hands out a WebSocket URL, the connection gets a hello, and envelopes
// sent with SocketSend or SocketDeliver are acknowledged by the client with their envelope_id.
type socketMode struct {
	mu     sync.Mutex
	conn   *websocket.Conn
	ready  chan struct{}
	acks   map[string][]chan json.RawMessage // waiting deliveries by envelope_id, oldest first
	counts map[string]int                    // acknowledgements received by envelope_id
	seq    int
	token  string // the app-level token apps.connections.open was called with
}

func (s *Slack) connectionsOpen(w http.ResponseWriter, r *http.Request) {
	s.sock.mu.Lock()
	s.sock.token = r.Header.Get("Authorization")
	s.sock.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"ok":true,"url":"ws://%s/socket"}`, s.Server.ServerAddr)
}

func (s *Slack) socket(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	hello := `{"type":"hello","num_connections":1,"connection_info":{"app_id":"A0000APP"},"debug_info":{"host":"bottest"}}`
	if err := conn.WriteMessage(websocket.TextMessage, []byte(hello)); err != nil {
		conn.Close()
		return
	}
	s.sock.mu.Lock()
	s.sock.conn = conn
	select {
	case <-s.sock.ready:
	default:
		close(s.sock.ready)
	}
	s.sock.mu.Unlock()
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			return
		}
		var ack struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if json.Unmarshal(msg, &ack) != nil || ack.EnvelopeID == "" {
			continue
		}
		s.sock.mu.Lock()
		s.sock.counts[ack.EnvelopeID]++
		var ch chan json.RawMessage
		if waiting := s.sock.acks[ack.EnvelopeID]; len(waiting) > 0 {
			ch = waiting[0]
			s.sock.acks[ack.EnvelopeID] = waiting[1:]
		}
		s.sock.mu.Unlock()
		if ch != nil {
			ch <- ack.Payload // buffered: one acknowledgement per delivery
		}
	}
}

// SocketAppToken returns the Authorization header apps.connections.open was called with.
func (s *Slack) SocketAppToken() string {
	s.sock.mu.Lock()
	defer s.sock.mu.Unlock()
	return s.sock.token
}

// Envelope is one Socket Mode envelope as Slack sends it
// (https://api.slack.com/apis/socket-mode#events).
type Envelope struct {
	// ID is the envelope_id; "" takes a fresh one ("env-N"). A redelivery may repeat the first
	// delivery's ID or carry a new one.
	ID string
	// Type is "slash_commands", "interactive" or "events_api".
	Type string
	// Payload is marshalled to JSON as the envelope's payload.
	Payload any
	// RetryAttempt and RetryReason mark a redelivery: Slack sends an envelope again, with
	// retry_attempt counting from 1 and a retry_reason such as "timeout", when it saw no
	// acknowledgement in time. 0 and "" for a first delivery.
	RetryAttempt int
	RetryReason  string
}

// SocketSend waits for a Socket Mode client to connect, sends it an envelope of type typ
// ("slash_commands", "interactive") with payload, and returns the payload of its
// acknowledgement ("null" or absent when it acknowledged without one).
func (s *Slack) SocketSend(ctx context.Context, typ string, payload any) (json.RawMessage, error) {
	return s.SocketDeliver(ctx, Envelope{Type: typ, Payload: payload})
}

// SocketDeliver is SocketSend of a whole envelope: it waits for a client, sends env, and
// returns the payload of the acknowledgement (with several deliveries of one envelope_id in
// flight, acknowledgements are handed out in the order the deliveries were sent). Errors: no
// client connected, or no acknowledgement, before ctx ended; a write error.
func (s *Slack) SocketDeliver(ctx context.Context, env Envelope) (json.RawMessage, error) {
	select {
	case <-s.sock.ready:
	case <-ctx.Done():
		return nil, fmt.Errorf("no Socket Mode client connected: %w", ctx.Err())
	}
	body, err := json.Marshal(env.Payload)
	if err != nil {
		return nil, err
	}
	s.sock.mu.Lock()
	id := env.ID
	if id == "" {
		s.sock.seq++
		id = fmt.Sprintf("env-%d", s.sock.seq)
	}
	ch := make(chan json.RawMessage, 1)
	s.sock.acks[id] = append(s.sock.acks[id], ch)
	conn := s.sock.conn
	msg, _ := json.Marshal(map[string]any{"envelope_id": id, "type": env.Type, "payload": json.RawMessage(body),
		"accepts_response_payload": env.Type == "slash_commands", "retry_attempt": env.RetryAttempt, "retry_reason": env.RetryReason})
	err = conn.WriteMessage(websocket.TextMessage, msg)
	s.sock.mu.Unlock()
	if err != nil {
		return nil, err
	}
	select {
	case p := <-ch:
		return p, nil
	case <-ctx.Done():
		s.sock.mu.Lock()
		waiting := s.sock.acks[id]
		for i, c := range waiting {
			if c == ch {
				s.sock.acks[id] = append(waiting[:i:i], waiting[i+1:]...)
				break
			}
		}
		s.sock.mu.Unlock()
		return nil, fmt.Errorf("envelope %s not acknowledged: %w", id, ctx.Err())
	}
}

// SocketAcks counts the acknowledgements the client sent for envelope_id id.
func (s *Slack) SocketAcks(id string) int {
	s.sock.mu.Lock()
	defer s.sock.mu.Unlock()
	return s.sock.counts[id]
}
