package state

import (
	"encoding/binary"
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/taskbot/taskbot/tasks/announce"
)

var _ announce.DigestStore = (*Store)(nil)

// LastDigest is the local date (YYYY-MM-DD) of the last digest queued, "" if none ever was.
func (s *Store) LastDigest() (string, error) {
	var date string
	err := s.db.View(func(tx *bolt.Tx) error {
		date = string(tx.Bucket(bucketMeta).Get(keyDigest))
		return nil
	})
	return date, err
}

// DigestData reads the history recorded since a time (unreadable items skipped), the tasks in
// progress, and the subscriptions and scopes, in one read transaction.
func (s *Store) DigestData(since time.Time) (announce.DigestData, error) {
	var d announce.DigestData
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketHistory).Cursor()
		start := make([]byte, 8)
		binary.BigEndian.PutUint64(start, uint64(max(since.UnixNano(), 0)))
		for k, v := c.Seek(start); k != nil; k, v = c.Next() {
			var r announce.Record
			if json.Unmarshal(v, &r) == nil {
				d.History = append(d.History, r)
			}
		}
		rs := recordsIn(tx)
		err := rs.tb.ForEach(func(k, v []byte) error {
			if rec, err := rs.decode(k, v); err == nil && rec.State.InProgress() {
				rec.Task = nil // not needed: keep the digest's memory small
				d.InProgress = append(d.InProgress, rec)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if d.Subscriptions, err = subscriptions(tx.Bucket(bucketSubscriptions)); err != nil {
			return err
		}
		d.Scopes, err = scopes(tx.Bucket(bucketScopes))
		return err
	})
	return d, err
}

// QueueDigest queues entries and records date as the last digest's in one transaction, so a
// crash either loses neither or keeps both: a digest is never queued twice, nor recorded as made
// without being queued. A date not after the recorded one queues nothing (false).
func (s *Store) QueueDigest(date string, entries []announce.Entry) (bool, error) {
	queued := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if last := string(meta.Get(keyDigest)); last != "" && date <= last {
			return nil
		}
		for i := range entries {
			if err := enqueue(tx.Bucket(bucketOutbox), &entries[i]); err != nil {
				return err
			}
		}
		queued = true
		return meta.Put(keyDigest, []byte(date))
	})
	return queued, err
}
