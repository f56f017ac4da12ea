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
// sent with SocketSend are acknowledged by the client with their envelope_id.
type socketMode struct {
	mu    sync.Mutex
	conn  *websocket.Conn
	ready chan struct{}
	acks  map[string]chan json.RawMessage
	seq   int
	token string // the app-level token apps.connections.open was called with
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
		ch := s.sock.acks[ack.EnvelopeID]
		s.sock.mu.Unlock()
		if ch != nil {
			ch <- ack.Payload
		}
	}
}

// SocketAppToken returns the Authorization header apps.connections.open was called with.
func (s *Slack) SocketAppToken() string {
	s.sock.mu.Lock()
	defer s.sock.mu.Unlock()
	return s.sock.token
}

// SocketSend waits for a Socket Mode client to connect, sends it an envelope of type typ
// ("slash_commands", "interactive") with payload, and returns the payload of its
// acknowledgement ("null" or absent when it acknowledged without one).
func (s *Slack) SocketSend(ctx context.Context, typ string, payload any) (json.RawMessage, error) {
	select {
	case <-s.sock.ready:
	case <-ctx.Done():
		return nil, fmt.Errorf("no Socket Mode client connected: %w", ctx.Err())
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	s.sock.mu.Lock()
	s.sock.seq++
	id := fmt.Sprintf("env-%d", s.sock.seq)
	ch := make(chan json.RawMessage, 1)
	s.sock.acks[id] = ch
	conn := s.sock.conn
	env, _ := json.Marshal(map[string]any{"envelope_id": id, "type": typ, "payload": json.RawMessage(body), "accepts_response_payload": typ == "slash_commands"})
	err = conn.WriteMessage(websocket.TextMessage, env)
	s.sock.mu.Unlock()
	if err != nil {
		return nil, err
	}
	select {
	case p := <-ch:
		return p, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("envelope %s not acknowledged: %w", id, ctx.Err())
	}
}
