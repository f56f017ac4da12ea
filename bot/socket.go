package bot

import (
	"context"
	"fmt"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// RunSocketMode receives slash commands and interactions over Socket Mode
// (https://api.slack.com/apis/socket-mode) until ctx ends, answering them with the same core as
// the HTTP handler: answers ready within AckWithin and under the 20 KiB envelope limit go in the
// acknowledgement, others through response_url. api must carry the app-level token
// (slack.OptionAppLevelToken). Signatures are not needed: the WebSocket is authenticated.
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

func (s *Server) socketEvent(ctx context.Context, smc *socketmode.Client, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeConnected:
		s.cfg.Logger.Info("socket mode connected")
	case socketmode.EventTypeConnectionError:
		s.cfg.Logger.Warn("socket mode connection failed; retrying")
	case socketmode.EventTypeInvalidAuth:
		s.cfg.Logger.Error("socket mode: SLACK_APP_TOKEN was refused; create an app-level token (xapp-…) with the connections:write scope")
	case socketmode.EventTypeSlashCommand:
		cmd, ok := evt.Data.(slack.SlashCommand)
		if !ok || evt.Request == nil {
			return
		}
		m := s.Respond(cmd.Text, cmd.ResponseURL, socketAckLimit)
		if err := smc.AckCtx(ctx, evt.Request.EnvelopeID, ephemeral(m)); err != nil {
			s.cfg.Logger.Warn("socket mode: acknowledge slash command", "err", err)
		}
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(slack.InteractionCallback)
		if evt.Request != nil {
			if err := smc.AckCtx(ctx, evt.Request.EnvelopeID, nil); err != nil {
				s.cfg.Logger.Warn("socket mode: acknowledge interaction", "err", err)
			}
		}
		if ok {
			s.Interact(cb)
		}
	}
}
