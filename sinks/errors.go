package sinks

import (
	"errors"
	"net/http"
	"strconv"
	"time"
)

// Error describes a failed send. Workers record Status as the delivery's
// last response status and honour RetryAfter (within bounds).
type Error struct {
	Err        error
	Status     int           // response status, 0 when there was no response
	Permanent  bool          // retrying cannot help
	RetryAfter time.Duration // server's requested wait, 0 when none
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Permanent marks err as not worth retrying.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	var se *Error
	if errors.As(err, &se) {
		c := *se
		c.Permanent = true
		return &c
	}
	return &Error{Err: err, Permanent: true}
}

// IsPermanent reports whether err was marked permanent.
func IsPermanent(err error) bool {
	var se *Error
	return errors.As(err, &se) && se.Permanent
}

// Details returns the status, permanence and Retry-After hint carried by err.
func Details(err error) (status int, permanent bool, retryAfter time.Duration) {
	var se *Error
	if errors.As(err, &se) {
		return se.Status, se.Permanent, se.RetryAfter
	}
	return 0, false, 0
}

// RetryableStatus reports whether an HTTP response status is worth retrying:
// 408, 425, 429 and every 5xx are; other 4xx are permanent.
func RetryableStatus(code int) bool {
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusTooEarly, code == http.StatusTooManyRequests:
		return true
	case code >= 500:
		return true
	}
	return false
}

// HTTPError builds the error for a non-2xx response: permanent or not by
// RetryableStatus, with the Retry-After header parsed (seconds or HTTP-date)
// relative to now.
func HTTPError(err error, code int, h http.Header, now time.Time) error {
	return &Error{
		Err:        err,
		Status:     code,
		Permanent:  !RetryableStatus(code),
		RetryAfter: ParseRetryAfter(h.Get("Retry-After"), now),
	}
}

// ParseRetryAfter parses a Retry-After value, either delay-seconds or an
// HTTP-date. It returns 0 when the value is absent, malformed or in the past.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(365*24*time.Hour/time.Second) {
			secs = int64(365 * 24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
