package bot

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// RunSocketMode receives slash commands and interactions over Socket Mode
// (https://api.slack.com/apis/socket-mode) until ctx ends, answering them with the same core as
// the HTTP handler: answers ready within AckWithin and under the 20 KiB envelope limit go in the
// acknowledgement, others through response_url. api must carry the app-level token
// (slack.OptionAppLevelToken). Signatures are not needed: the WebSocket is authenticated.
//
// An envelope Slack delivers again (it saw no acknowledgement in time: retry_attempt > 0, or
// the same envelope on a new connection) is acknowledged with the first delivery's answer and
// not run again; see redeliveryWindow.
func RunSocketMode(ctx context.Context, api *slack.Client, s *Server) error {
	smc := socketmode.New(api)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case evt, ok := <-smc.Events:
				if !ok {
					return
				}
				go s.socketEvent(ctx, smc, evt) // a slow answer must not hold up the next event
			}
		}
	}()
	err := smc.RunContext(ctx) // it returns only with an error, ctx's when ctx ended
	if ctx.Err() != nil {
		return nil
	}
	if de := ClassifySlackError("apps.connections.open", err); de.Hint != "" {
		return fmt.Errorf("socket mode: %w (%s)", err, de.Hint)
	}
	return fmt.Errorf("socket mode: %w", err)
}

// socketState is whether Socket Mode is connected, and why not.
type socketState struct {
	mu        sync.Mutex
	started   bool
	connected bool
	why       string
}

func (st *socketState) set(started, connected bool, why string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.started, st.connected, st.why = started, connected, why
}

// SocketReady reports, for /readyz, whether Socket Mode is connected: without the WebSocket no
// slash command can arrive. It is ready when Socket Mode is not in use.
func (s *Server) SocketReady() (bool, string) {
	st := &s.socket
	st.mu.Lock()
	defer st.mu.Unlock()
	switch {
	case !st.started || st.connected:
		return true, ""
	case st.why == "":
		return false, "socket mode is connecting"
	}
	return false, "socket mode is not connected: " + st.why
}

func (s *Server) socketEvent(ctx context.Context, smc *socketmode.Client, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeConnecting:
		s.socket.mu.Lock()
		s.socket.started = true
		s.socket.mu.Unlock()
	case socketmode.EventTypeConnected:
		s.socket.set(true, true, "")
		s.cfg.Logger.Info("socket mode connected")
	case socketmode.EventTypeConnectionError:
		why, fix := "unknown error", ""
		if ce, ok := evt.Data.(*slack.ConnectionErrorEvent); ok && ce.ErrorObj != nil {
			why = ce.ErrorObj.Error()
			if de := ClassifySlackError("apps.connections.open", ce.ErrorObj); de != nil {
				why, fix = de.Code, de.Hint
				if de.Code == "network" {
					fix = "check SLACK_API_URL and the network to Slack"
				}
			}
		}
		s.socket.set(true, false, why)
		s.cfg.Logger.Warn("socket mode connection failed; retrying", "err", why, "fix", fix)
	case socketmode.EventTypeDisconnect:
		s.socket.set(true, false, "disconnected")
	case socketmode.EventTypeInvalidAuth:
		s.socket.set(true, false, "SLACK_APP_TOKEN was refused")
		s.cfg.Logger.Error("socket mode: SLACK_APP_TOKEN was refused; create an app-level token (xapp-…) with the connections:write scope")
	case socketmode.EventTypeSlashCommand:
		cmd, ok := evt.Data.(slack.SlashCommand)
		if !ok || evt.Request == nil {
			return
		}
		var ack any
		if d, first := s.claimEnvelope(evt.Request, cmd.TriggerID); first {
			ack = responsePayload(s.Respond(Request{Text: cmd.Text, Channel: cmd.ChannelID, User: cmd.UserID}, cmd.ResponseURL, socketAckLimit))
			d.settle(ack)
		} else {
			// The first delivery acknowledges with its answer or progress note within
			// AckWithin; this one says the same, and response_url gets the answer once.
			select {
			case <-d.done:
				ack = d.ack
			case <-ctx.Done():
				return
			}
		}
		if err := smc.AckCtx(ctx, evt.Request.EnvelopeID, ack); err != nil {
			s.cfg.Logger.Warn("socket mode: acknowledge slash command", "err", err)
		}
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(slack.InteractionCallback)
		if evt.Request == nil {
			return
		}
		d, first := s.claimEnvelope(evt.Request, cb.TriggerID)
		d.settle(nil) // an interaction's acknowledgement carries nothing
		if err := smc.AckCtx(ctx, evt.Request.EnvelopeID, nil); err != nil {
			s.cfg.Logger.Warn("socket mode: acknowledge interaction", "err", err)
		}
		if ok && first {
			s.Interact(cb)
		}
	}
}

// claimEnvelope claims the delivery of req, whose payload has triggerID (may be empty), under
// its envelope_id and trigger_id: first is false for an envelope taskbot is already answering
// or has answered in the last redeliveryWindow, which the caller acknowledges with the first
// delivery's answer and does not run. Redeliveries are logged (envelope_id, type,
// retry_attempt, retry_reason).
func (s *Server) claimEnvelope(req *socketmode.Request, triggerID string) (d *delivery, first bool) {
	var keys []string
	if req.EnvelopeID != "" {
		keys = append(keys, "envelope:"+req.EnvelopeID)
	}
	if triggerID != "" {
		keys = append(keys, "trigger:"+triggerID)
	}
	d, first = s.deliveries.claim(time.Now(), keys...)
	attrs := []slog.Attr{slog.String("envelope_id", req.EnvelopeID), slog.String("type", req.Type),
		slog.Int("retry_attempt", req.RetryAttempt), slog.String("retry_reason", req.RetryReason)}
	switch {
	case !first:
		s.cfg.Logger.LogAttrs(context.Background(), slog.LevelInfo,
			"socket mode: a redelivered envelope is acknowledged with its first answer and not run again", attrs...)
	case req.RetryAttempt > 0:
		s.cfg.Logger.LogAttrs(context.Background(), slog.LevelInfo,
			"socket mode: a redelivered envelope whose first delivery never arrived; answering it", attrs...)
	}
	return d, first
}

// redeliveryWindow is how long an envelope is remembered after its first delivery. Slack
// delivers an envelope again when it saw no acknowledgement in time, with retry_attempt and
// retry_reason set, possibly with a new envelope_id and on another connection; its retries of
// Events API deliveries come at once, after 1 minute and after 5 minutes
// (https://api.slack.com/apis/events-api#retries). Ten minutes outlasts the last one.
const redeliveryWindow = 10 * time.Minute

// deliveries remembers the Socket Mode envelopes of the last redeliveryWindow under keys that
// a redelivery repeats: "envelope:<envelope_id>" and "trigger:<trigger_id>" (the payload's
// trigger_id, unique to one slash command or one button click, is the same in every delivery
// of it). The zero value is ready to use.
type deliveries struct {
	mu    sync.Mutex
	byKey map[string]*delivery
}

// delivery is the first delivery of an envelope: ack, the payload of its acknowledgement, is
// set once and then done is closed.
type delivery struct {
	done    chan struct{}
	once    sync.Once
	ack     any
	expires time.Time
}

// settle records ack, the first delivery's acknowledgement payload, for its redeliveries.
// Later calls do nothing.
func (d *delivery) settle(ack any) {
	d.once.Do(func() { d.ack = ack; close(d.done) })
}

// claim returns the delivery that any of keys names and first=false, or, when none does (at
// time now), a new delivery and first=true; either way all of keys then name it. The caller of
// a first delivery must settle it. With no keys the delivery is always first. Entries older than
// redeliveryWindow are dropped.
func (ds *deliveries) claim(now time.Time, keys ...string) (d *delivery, first bool) {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if ds.byKey == nil {
		ds.byKey = map[string]*delivery{}
	}
	for k, d := range ds.byKey {
		if now.After(d.expires) {
			delete(ds.byKey, k)
		}
	}
	first = true
	for _, k := range keys {
		if known := ds.byKey[k]; known != nil {
			d, first = known, false
			break
		}
	}
	if first {
		d = &delivery{done: make(chan struct{}), expires: now.Add(redeliveryWindow)}
	}
	for _, k := range keys {
		ds.byKey[k] = d // a redelivery's new envelope_id names the first delivery too
	}
	return d, first
}
