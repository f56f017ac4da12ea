package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/announce"
)

// Subscriptions, mutes and scopes: what users set with /tasks, kept in the state file so that
// they survive restarts and need no configuration reload. Each change is one transaction.

// Subscriptions returns every channel's subscriptions, ordered by channel and tenant.
func (s *Store) Subscriptions() ([]announce.Subscription, error) {
	var out []announce.Subscription
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = subscriptions(tx.Bucket(bucketSubscriptions))
		return err
	})
	return out, err
}

func subscriptions(b *bolt.Bucket) ([]announce.Subscription, error) {
	var out []announce.Subscription
	err := b.ForEach(func(k, v []byte) error {
		var sub announce.Subscription
		if err := json.Unmarshal(v, &sub); err != nil {
			return nil // unreadable: skipped, never fatal to the announcements
		}
		out = append(out, sub)
		return nil
	})
	return out, err
}

// Subscribe stores sub, replacing the subscription of its channel and tenant if there is one.
// It reports whether one was replaced.
func (s *Store) Subscribe(sub announce.Subscription) (replaced bool, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSubscriptions)
		replaced = b.Get([]byte(sub.Key())) != nil
		return putJSON(b, []byte(sub.Key()), sub)
	})
	return replaced, err
}

// Unsubscribe removes channel's subscriptions for tenants (compared ignoring case), or all of
// channel's when tenants is empty, and returns the ones it removed.
func (s *Store) Unsubscribe(channel string, tenants []string) ([]announce.Subscription, error) {
	var removed []announce.Subscription
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSubscriptions)
		all, err := subscriptions(b)
		if err != nil {
			return err
		}
		for _, sub := range all {
			if sub.Channel != channel {
				continue
			}
			if len(tenants) > 0 && !slices.ContainsFunc(tenants, func(t string) bool {
				return strings.EqualFold(strings.TrimSpace(t), strings.TrimSpace(sub.Tenant))
			}) {
				continue
			}
			if err := b.Delete([]byte(sub.Key())); err != nil {
				return err
			}
			removed = append(removed, sub)
		}
		return nil
	})
	return removed, err
}

// Mutes returns the stored mutes, active or not yet pruned, by number.
func (s *Store) Mutes() ([]announce.Mute, error) {
	var out []announce.Mute
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = mutes(tx.Bucket(bucketMutes))
		return err
	})
	return out, err
}

func mutes(b *bolt.Bucket) ([]announce.Mute, error) {
	var out []announce.Mute
	err := b.ForEach(func(k, v []byte) error {
		var m announce.Mute
		if json.Unmarshal(v, &m) == nil {
			out = append(out, m)
		}
		return nil
	})
	return out, err
}

// sameMuteMargin: a mute of a target already muted must end this much later than the mute in
// force to replace it; a double click a second later does not.
const sameMuteMargin = time.Minute

// AddMute stores m under the next mute number (never reused) and returns it with that number,
// unless an active mute (at m.At) of the same target lasts at least as long, give or take
// sameMuteMargin: then it stores nothing and returns that mute with existing true (a repeated
// command or a double click makes no second mute). The active mutes of the same target that
// end sooner are removed in the same transaction, m replacing them; replaced are their numbers.
func (s *Store) AddMute(m announce.Mute) (got announce.Mute, replaced []uint64, existing bool, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		replaced, existing = nil, false
		b := tx.Bucket(bucketMutes)
		all, err := mutes(b)
		if err != nil {
			return err
		}
		for _, o := range all {
			if !o.Active(m.At) || !o.SameTarget(m) {
				continue
			}
			if !o.Until.Before(m.Until.Add(-sameMuteMargin)) {
				got, existing = o, true
				return nil
			}
			replaced = append(replaced, o.N)
		}
		for _, n := range replaced {
			if err := b.Delete(seqKey(n)); err != nil {
				return err
			}
		}
		n, err := b.NextSequence()
		if err != nil {
			return err
		}
		m.N = n
		got = m
		return putJSON(b, seqKey(n), m)
	})
	if err != nil {
		return announce.Mute{}, nil, false, err
	}
	return got, replaced, existing, nil
}

// Unmute removes mute n and returns it; found is false when there is no mute n.
func (s *Store) Unmute(n uint64) (m announce.Mute, found bool, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMutes)
		found, err = getJSON(b, seqKey(n), &m)
		if err != nil || !found {
			return err
		}
		return b.Delete(seqKey(n))
	})
	return m, found, err
}

// pruneMutes deletes mutes that ended before now.
func pruneMutes(b *bolt.Bucket, now time.Time) error {
	var old [][]byte
	err := b.ForEach(func(k, v []byte) error {
		var m announce.Mute
		if json.Unmarshal(v, &m) != nil || !m.Active(now) {
			old = append(old, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Scope returns channel's scope and whether it has one.
func (s *Store) Scope(channel string) (announce.Scope, bool, error) {
	var sc announce.Scope
	var found bool
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		found, err = getJSON(tx.Bucket(bucketScopes), []byte(channel), &sc)
		return err
	})
	return sc, found, err
}

// Scopes returns every channel's scope.
func (s *Store) Scopes() ([]announce.Scope, error) {
	var out []announce.Scope
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = scopes(tx.Bucket(bucketScopes))
		return err
	})
	return out, err
}

// scopes reads the scopes bucket b; a scope that does not decode is left out.
func scopes(b *bolt.Bucket) ([]announce.Scope, error) {
	var out []announce.Scope
	err := b.ForEach(func(_, v []byte) error {
		var sc announce.Scope
		if json.Unmarshal(v, &sc) == nil {
			out = append(out, sc)
		}
		return nil
	})
	return out, err
}

// SetScope stores sc as its channel's scope (it must name at least one tenant) and, in the same
// transaction:
//   - narrows the channel's subscriptions to it, so that removing the scope later does not
//     widen what the channel is sent: a subscription of a tenant the scope does not name
//     (Scope.Names) is removed; one for all tenants is replaced by one per scope tenant with its
//     events (a tenant's own subscription, if any, is kept);
//   - removes the channel's queued announcements and thread refreshes about tasks outside the
//     scope, which were routed there before it was set. A queued flood summary keeps only the
//     transitions it lists in full that are in scope (its other transitions' tenants were not
//     recorded); one left with none is removed.
//
// A delivery already in flight when the transaction commits (at most one per channel) is not
// recalled.
func (s *Store) SetScope(sc announce.Scope) (announce.ScopeChange, error) {
	if len(sc.Tenants) == 0 {
		return announce.ScopeChange{}, fmt.Errorf("a scope needs at least one tenant")
	}
	var ch announce.ScopeChange
	err := s.db.Update(func(tx *bolt.Tx) error {
		ch = announce.ScopeChange{}
		if err := putJSON(tx.Bucket(bucketScopes), []byte(sc.Channel), sc); err != nil {
			return err
		}
		var err error
		if ch.Removed, ch.Added, err = narrowSubscriptions(tx.Bucket(bucketSubscriptions), sc); err != nil {
			return err
		}
		ch.Dropped, ch.Narrowed, err = narrowOutbox(tx.Bucket(bucketOutbox).Bucket(channelBucket(sc.Channel)), sc)
		return err
	})
	if err != nil {
		return announce.ScopeChange{}, err
	}
	return ch, nil
}

func narrowSubscriptions(b *bolt.Bucket, sc announce.Scope) (removed, added []announce.Subscription, err error) {
	all, err := subscriptions(b)
	if err != nil {
		return nil, nil, err
	}
	var mine []announce.Subscription
	for _, sub := range all {
		if sub.Channel == sc.Channel {
			mine = append(mine, sub)
		}
	}
	for _, sub := range mine {
		if sub.Tenant != "" && sc.Names(sub.Tenant) {
			continue
		}
		if err := b.Delete([]byte(sub.Key())); err != nil {
			return nil, nil, err
		}
		removed = append(removed, sub)
		if sub.Tenant != "" {
			continue
		}
		for _, t := range sc.Tenants {
			if slices.ContainsFunc(mine, func(o announce.Subscription) bool { return o.Tenant != "" && strings.EqualFold(o.Tenant, t) }) {
				continue
			}
			n := sub
			n.Tenant = t
			if err := putJSON(b, []byte(n.Key()), n); err != nil {
				return nil, nil, err
			}
			added = append(added, n)
		}
	}
	return removed, added, nil
}

// narrowOutbox removes or narrows the entries of one channel's outbox bucket (nil: none) that
// sc does not allow; an entry it cannot decode is left for the Announcer to report.
func narrowOutbox(cb *bolt.Bucket, sc announce.Scope) (dropped, narrowed int, err error) {
	if cb == nil {
		return 0, 0, nil
	}
	allows := func(t tasks.Snapshot) bool { return sc.Allows(t.TenantID, t.TenantName) }
	var del [][]byte
	put := map[string]announce.Entry{}
	err = cb.ForEach(func(k, v []byte) error {
		var e announce.Entry
		if json.Unmarshal(v, &e) != nil {
			return nil
		}
		switch {
		case e.Digest != nil:
			kept := slices.DeleteFunc(slices.Clone(e.Digest.Tenants), func(t announce.DigestTenant) bool { return !sc.Allows(t.ID, t.Name) })
			if len(kept) == len(e.Digest.Tenants) {
				return nil
			}
			d := *e.Digest
			d.Tenants, d.Failed, d.Paused, d.Stuck = kept, 0, 0, 0
			for _, t := range kept {
				d.Failed, d.Paused, d.Stuck = d.Failed+t.Failed, d.Paused+t.Paused, d.Stuck+t.Stuck
			}
			e.Digest = &d
			put[string(k)] = e
		case e.Summary == nil && !allows(e.Task):
			del = append(del, bytes.Clone(k))
		case e.Summary != nil:
			kept := slices.DeleteFunc(slices.Clone(e.Summary.First), func(tr announce.Transition) bool { return !allows(tr.Task) })
			if len(kept) == len(e.Summary.First) && e.Summary.Total() == len(kept) {
				return nil
			}
			if len(kept) == 0 {
				del = append(del, bytes.Clone(k))
				return nil
			}
			counts := map[tasks.Event]int{}
			for _, tr := range kept {
				counts[tr.Event]++
			}
			e.Summary = &announce.Summary{Counts: counts, First: kept}
			put[string(k)] = e
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	for _, k := range del {
		if err := cb.Delete(k); err != nil {
			return 0, 0, err
		}
	}
	for k, e := range put {
		if err := putJSON(cb, []byte(k), e); err != nil {
			return 0, 0, err
		}
	}
	return len(del), len(put), nil
}

// ClearScope removes channel's scope and reports whether there was one.
func (s *Store) ClearScope(channel string) (bool, error) {
	var had bool
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketScopes)
		had = b.Get([]byte(channel)) != nil
		return b.Delete([]byte(channel))
	})
	return had, err
}

// ButtonKey is the secret that signs the values of Slack buttons: 32 random bytes made when
// the state file was created (or migrated), the same across restarts.
func (s *Store) ButtonKey() ([]byte, error) {
	var key []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		key = bytes.Clone(tx.Bucket(bucketMeta).Get(keyButtonKey))
		return nil
	})
	if err == nil && len(key) == 0 {
		err = fmt.Errorf("the state file has no button key")
	}
	return key, err
}

// ReadSettings reads the subscriptions and scopes of the state file at path without changing
// it (`taskbot check`). A missing file has none; a file of a schema this taskbot cannot run
// fails with an error wrapping ErrSchema. While another process (a running taskbot)
// holds the file, it waits at most timeout and fails with an error wrapping ErrLocked: bbolt
// lets one process at a time open a file for writing, and a reader only when no writer has it.
func ReadSettings(path string, timeout time.Duration) ([]announce.Subscription, []announce.Scope, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: timeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, nil, fmt.Errorf("%w: %s", ErrLocked, path)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read state file %s: %w", path, err)
	}
	defer db.Close()
	var subs []announce.Subscription
	var scs []announce.Scope
	err = db.View(func(tx *bolt.Tx) error {
		var err error
		if meta := tx.Bucket(bucketMeta); meta != nil && !knownSchema(string(meta.Get(keySchema))) {
			return fmt.Errorf("state file %s: %w", path, schemaError(string(meta.Get(keySchema))))
		}
		if b := tx.Bucket(bucketSubscriptions); b != nil {
			if subs, err = subscriptions(b); err != nil {
				return err
			}
		}
		if b := tx.Bucket(bucketScopes); b != nil {
			scs, err = scopes(b)
		}
		return err
	})
	return subs, scs, err
}
