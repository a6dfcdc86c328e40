package volcopy

import (
	"context"
	"sync"
	"time"
)

// burstTime is how much unused rate a limiter may save up.
const burstTime = 100 * time.Millisecond

// limiter is a token bucket pacing the bytes of the goroutines sharing it to
// a rate. It starts empty, and a request larger than the bucket runs it into
// debt that later requests wait out, so the average rate over a copy stays at
// the limit.
type limiter struct {
	mu     sync.Mutex
	rate   float64 // bytes per second
	burst  float64
	tokens float64
	last   time.Time
}

// newLimiter returns a limiter of bps bytes per second, or nil (no limit) when bps is 0.
func newLimiter(bps int64, start time.Time) *limiter {
	if bps <= 0 {
		return nil
	}
	return &limiter{rate: float64(bps), burst: float64(bps) * burstTime.Seconds(), last: start}
}

// wait takes n bytes from the bucket, sleeping until the rate allows them.
func (l *limiter) wait(ctx context.Context, n int64) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	now := time.Now()
	l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate) - float64(n)
	l.last = now
	debt := -l.tokens
	l.mu.Unlock()
	if debt <= 0 {
		return nil
	}
	t := time.NewTimer(time.Duration(debt / l.rate * float64(time.Second)))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
