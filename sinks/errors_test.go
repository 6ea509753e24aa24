package sinks

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestRetryableStatus(t *testing.T) {
	tests := map[int]bool{
		400: false, 401: false, 403: false, 404: false, 405: false, 409: false, 410: false, 413: false, 422: false,
		408: true, 425: true, 429: true, 500: true, 502: true, 503: true, 504: true, 599: true,
	}
	for code, want := range tests {
		if got := RetryableStatus(code); got != want {
			t.Errorf("RetryableStatus(%d) = %v, want %v", code, got, want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"2", 2 * time.Second},
		{"120", 2 * time.Minute},
		{"0", 0},
		{"-5", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"Sat, 21 Nov 2026 12:00:30 GMT", 30 * time.Second},
	}
	for _, tc := range tests {
		if got := ParseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestHTTPError(t *testing.T) {
	now := time.Now()
	h := http.Header{"Retry-After": {"7"}}
	err := HTTPError(errors.New("x"), 429, h, now)
	status, permanent, ra := Details(err)
	if status != 429 || permanent || ra != 7*time.Second {
		t.Errorf("429: %d %v %v", status, permanent, ra)
	}
	if !IsPermanent(HTTPError(errors.New("x"), 404, http.Header{}, now)) {
		t.Error("404 must be permanent")
	}
	wrapped := Permanent(HTTPError(errors.New("x"), 503, h, now))
	if s, p, ra := Details(wrapped); s != 503 || !p || ra != 7*time.Second {
		t.Errorf("Permanent must keep status and hint: %d %v %v", s, p, ra)
	}
	if IsPermanent(errors.New("network")) {
		t.Error("plain errors are retryable")
	}
}
