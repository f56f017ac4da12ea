package bot

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/taskbot/taskbot/bot/bottest"
	"github.com/taskbot/taskbot/state"
	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/announce"
)

// The tests in this file inject the ways delivery used to stall, against the real announcer,
// the real SlackNotifier, a real state file and the fake Slack, and assert that nothing stalls.

// postsOf are the texts of the chat.postMessage calls Slack accepted in channel.
func postsOf(s *bottest.Slack, channel string) []string {
	var out []string
	for _, m := range s.Messages() {
		if m.Channel == channel {
			out = append(out, m.Text)
		}
	}
	return out
}

func TestUnknownSlackErrorDoesNotStallTheOutbox(t *testing.T) {
	f := newAnnouncerFixture(t)
	// Slack answers an error nobody foresaw, to every form of the first announcement: five
	// tries in full, then the plainest form.
	f.slack.Fail(bottest.Fault{Method: "chat.postMessage", Error: "brand_new_error", Times: 6})
	f.transition(t, "a", tasks.Paused, 0)
	f.transition(t, "b", tasks.Paused, time.Second)
	f.run(t)
	waitUntil(t, "outbox drained", func() bool { return f.pending(t) == 0 })
	f.stop()
	if got := strings.Join(postsOf(f.slack, "C0123ABCDEF"), " | "); !strings.Contains(got, "Backup b") || strings.Contains(got, "Backup a") {
		t.Fatalf("posts %q: want b posted after a was dropped", got)
	}
	if n := testutil.ToFloat64(f.pipeline.Announcements.WithLabelValues("dropped")); n != 1 {
		t.Errorf("dropped = %v, want 1", n)
	}
	if !strings.Contains(f.logs.String(), "level=ERROR") || !strings.Contains(f.logs.String(), "dropped it") {
		t.Errorf("no ERROR log for the dropped announcement:\n%s", f.logs)
	}
	if calls := f.slack.Calls(); calls != 7 {
		t.Errorf("%d calls to Slack, want 7 (5 full tries, 1 plain, then b)", calls)
	}
}

func TestRefusedMessagesAreShortenedThenDropped(t *testing.T) {
	for _, tc := range []struct {
		name    string
		refused int
		want    string // what reached Slack of the flood summary
	}{
		{"the summary as text", 2, "text"},
		{"dropped after every form", 3, "nothing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newAnnouncerFixture(t)
			var poll []tasks.Task
			for i := range 25 {
				poll = append(poll, tasks.Task{UUID: fmt.Sprintf("t%02d", i), State: tasks.Started, UpdatedAt: base.Add(time.Duration(i) * time.Second),
					Context: map[string]any{"title": fmt.Sprintf("Backup %02d", i)}})
			}
			flood := allEvents
			flood.Burst = 10
			applyPoll(t, f.store, flood, announce.Poll{Tasks: poll})
			f.slack.Fail(bottest.Fault{Method: "chat.postMessage", Error: "msg_blocks_too_long", Times: tc.refused})
			f.transition(t, "after", tasks.Paused, time.Hour)
			f.run(t)
			waitUntil(t, "outbox drained", func() bool { return f.pending(t) == 0 })
			f.stop()
			msgs := f.slack.Messages()
			var summary, after int
			for _, m := range msgs {
				switch {
				case strings.Contains(m.Text, "25 started"):
					summary++
					if len(m.Blocks) != 0 {
						t.Errorf("the summary went through with blocks after %d refusals", tc.refused)
					}
				case strings.Contains(m.Text, "Backup after"):
					after++
				}
			}
			if want := map[string]int{"text": 1, "nothing": 0}[tc.want]; summary != want || after != 1 {
				t.Fatalf("summary posted %d times (want %d), the entry behind it %d times (want 1): %+v", summary, want, after, msgs)
			}
		})
	}
}

func TestAReplyWhoseThreadIsGoneStartsANewThread(t *testing.T) {
	f := newAnnouncerFixture(t)
	f.transition(t, "a", tasks.Started, 0)
	f.run(t)
	waitUntil(t, "first post", func() bool { return f.pending(t) == 0 })
	// Someone deleted the first message: replies in its thread are refused.
	f.slack.Fail(bottest.Fault{Method: "chat.postMessage", InThread: true, Error: "thread_not_found", Times: 1})
	f.transition(t, "a", tasks.Paused, time.Second)
	waitUntil(t, "the pause posted", func() bool { return len(f.slack.Messages()) >= 2 && f.pending(t) == 0 })
	f.transition(t, "a", tasks.Started, 2*time.Second)
	waitUntil(t, "the resume posted", func() bool { return len(f.slack.Messages()) >= 3 && f.pending(t) == 0 })
	f.stop()
	msgs := f.slack.Messages()
	if len(msgs) != 3 {
		t.Fatalf("posts: %+v", msgs)
	}
	if msgs[1].ThreadTS != "" || !strings.Contains(msgs[1].Text, "paused") {
		t.Errorf("the pause: %+v, want it outside the lost thread", msgs[1])
	}
	if msgs[2].ThreadTS != msgs[1].TS {
		t.Errorf("the resume replied in %q, want the new thread %q", msgs[2].ThreadTS, msgs[1].TS)
	}
}

func TestABlockedChannelHoldsOnlyItsOwnAnnouncements(t *testing.T) {
	f := newAnnouncerFixture(t)
	other := allEvents
	other.Channel = "C0SECONDCHAN"
	// The bot was removed from the second channel.
	f.slack.Fail(bottest.Fault{Method: "chat.postMessage", Channel: "C0SECONDCHAN", Error: "not_in_channel"})
	for i, st := range []tasks.State{tasks.Started, tasks.Paused} {
		tk := tasks.Task{UUID: fmt.Sprintf("x%d", i), State: st, UpdatedAt: base.Add(time.Duration(i) * time.Second),
			Context: map[string]any{"title": fmt.Sprintf("Backup x%d", i)}}
		applyPoll(t, f.store, other, announce.Poll{Tasks: []tasks.Task{tk}})
	}
	f.transition(t, "a", tasks.Started, 5*time.Second)
	f.transition(t, "b", tasks.Paused, 6*time.Second)
	f.run(t)
	waitUntil(t, "the first channel drained", func() bool { return len(postsOf(f.slack, "C0123ABCDEF")) == 2 })
	if ok, why := f.ann.Ready(); !ok || !strings.Contains(why, "C0SECONDCHAN") || !strings.Contains(why, "not_in_channel") {
		t.Errorf("Ready() = %v, %q; want ready, naming the blocked channel", ok, why)
	}
	if p, _ := f.store.Pending("C0SECONDCHAN", 0); len(p) != 2 {
		t.Fatalf("the blocked channel's entries: %d, want both kept", len(p))
	}
	f.slack.ClearFaults() // /invite @taskbot
	waitUntilFor(t, "the second channel drained", 10*time.Second, func() bool { return len(postsOf(f.slack, "C0SECONDCHAN")) == 2 })
	f.stop()
	if got := postsOf(f.slack, "C0SECONDCHAN"); !strings.Contains(got[0], "x0") || !strings.Contains(got[1], "x1") {
		t.Errorf("second channel posts %q, want x0 then x1", got)
	}
}

// diskFullStore is a state file whose Delivered fails while fail is above zero, as on a full
// disk; every other call reaches the real file.
type diskFullStore struct {
	*state.Store
	fail atomic.Int64
}

func (d *diskFullStore) Delivered(channel string, seq uint64, key, thread string, replace bool) error {
	if d.fail.Add(-1) >= 0 {
		return errors.New("write taskbot.db: no space left on device")
	}
	return d.Store.Delivered(channel, seq, key, thread, replace)
}

func TestAnUnwritableStateFileStopsPostingWithoutRepeats(t *testing.T) {
	f := newAnnouncerFixture(t)
	disk := &diskFullStore{Store: f.store}
	disk.fail.Store(4)
	f.cfg.Store = disk
	f.transition(t, "a", tasks.Paused, 0)
	f.transition(t, "b", tasks.Paused, time.Second)
	f.run(t)
	waitUntil(t, "the first post", func() bool { return len(f.slack.Messages()) == 1 })
	if ok, why := f.ann.Ready(); ok || !strings.Contains(why, "no space left") {
		t.Errorf("Ready() = %v, %q while deliveries cannot be recorded; want unready saying why", ok, why)
	}
	waitUntil(t, "outbox drained", func() bool { return f.pending(t) == 0 })
	f.stop()
	got := postsOf(f.slack, "C0123ABCDEF")
	if len(got) != 2 || !strings.Contains(got[0], "Backup a") || !strings.Contains(got[1], "Backup b") {
		t.Fatalf("posts %q: want a once, then b", got)
	}
	if ok, _ := f.ann.Ready(); !ok {
		t.Error("still unready after the state file recovered")
	}
}

func TestAFailedThreadUpdateIsRetried(t *testing.T) {
	f := newAnnouncerFixture(t)
	f.transition(t, "a", tasks.Started, 0)
	f.run(t)
	waitUntil(t, "first post", func() bool { return f.pending(t) == 0 })
	f.slack.Fail(bottest.Fault{Method: "chat.update", Status: 503, Times: 2})
	f.transition(t, "a", tasks.Paused, time.Second)
	waitUntil(t, "outbox drained", func() bool { return f.pending(t) == 0 })
	f.stop()
	var updates []bottest.Post
	for _, p := range f.slack.Posts() {
		if p.Method == "chat.update" {
			updates = append(updates, p)
		}
	}
	if len(updates) != 1 || !strings.Contains(updates[0].Text, "Paused") {
		t.Fatalf("thread parent updates after two 503s: %+v, want one showing Paused", updates)
	}
}

func TestTheThreadParentFollowsTransitionsThatAreNotAnnounced(t *testing.T) {
	f := newAnnouncerFixture(t)
	quiet := allEvents
	quiet.Announce = mustAnnounceSet("started", "paused")
	for i, st := range []tasks.State{tasks.Paused, tasks.Completed} {
		tk := tasks.Task{UUID: "a", State: st, UpdatedAt: base.Add(time.Duration(i) * time.Second), Context: map[string]any{"title": "Backup a"}}
		if st == tasks.Completed {
			tk.Result = &tasks.Result{Code: tasks.ResultOK}
		}
		applyPoll(t, f.store, quiet, announce.Poll{Tasks: []tasks.Task{tk}})
	}
	f.run(t)
	waitUntil(t, "outbox drained", func() bool { return f.pending(t) == 0 })
	f.stop()
	var last bottest.Post
	for _, p := range f.slack.Posts() {
		if p.Method == "chat.update" {
			last = p
		}
	}
	if len(f.slack.Messages()) != 1 || !strings.Contains(last.Text, "Completed") {
		t.Fatalf("posts %+v, last update %+v: want the pause announced and its message updated to Completed", f.slack.Messages(), last)
	}
}
