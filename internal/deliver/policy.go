package deliver

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/sinks"
)

// Backoff returns the wait before the attempt after attempt number n (1 for
// the first failure): InitialBackoff doubling up to MaxBackoff, with equal
// jitter (a random point in the upper half) so retries of a burst spread out.
func Backoff(r config.Retry, n int, rnd func() float64) time.Duration {
	d := time.Duration(r.InitialBackoff)
	maxB := time.Duration(r.MaxBackoff)
	for i := 1; i < n && d < maxB; i++ {
		d *= 2
	}
	d = min(d, maxB)
	return d/2 + time.Duration(rnd()*float64(d/2))
}

// decide turns the result of one attempt into the delivery's next state.
// attempts counts this attempt; queued is when the delivery was (re)queued.
func decide(r config.Retry, sendErr error, attempts int, queued, now time.Time, rnd func() float64) store.Outcome {
	if sendErr == nil {
		return store.Outcome{State: store.StateDelivered}
	}
	status, permanent, retryAfter := sinks.Details(sendErr)
	msg := sendErr.Error()
	if errors.Is(sendErr, context.DeadlineExceeded) {
		msg = "timeout: " + msg
	}
	o := store.Outcome{State: store.StateDead, Status: status, Error: msg}
	switch {
	case permanent:
		o.Error = "permanent: " + msg
		return o
	case attempts >= r.MaxAttempts:
		o.Error = fmt.Sprintf("gave up after %d attempts: %s", attempts, msg)
		return o
	}
	wait := Backoff(r, attempts, rnd)
	if retryAfter > 0 {
		wait = min(retryAfter, time.Duration(r.MaxRetryAfter))
	}
	next := now.Add(wait)
	if next.Sub(queued) > time.Duration(r.MaxAge) {
		o.Error = fmt.Sprintf("gave up after %d attempts (max age %s): %s", attempts, time.Duration(r.MaxAge), msg)
		return o
	}
	o.State, o.NextAttemptAt = store.StatePending, next
	return o
}

func defaultRand() float64 { return rand.Float64() }
