package announce

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff is the wait after n consecutive failures: base·2^(n-1) with ±20% jitter, capped at
// maxWait (before jitter).
func backoff(n int, base, maxWait time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < maxWait; i++ {
		d *= 2
	}
	d = min(d, maxWait)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// sleep waits d, or until wake fires, or ctx ends (then it returns ctx.Err()).
func sleep(ctx context.Context, wake <-chan struct{}, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-wake:
		return nil
	case <-t.C:
		return nil
	}
}
