package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/receivers"
	"github.com/switchboard/switchboard/receivers/receivertest"
	"github.com/switchboard/switchboard/rules"
)

// testStore opens a store in a temporary directory, with a router whose
// one rule sends every event to a log sink.
func testStore(t *testing.T) (*store.Store, *rules.Router) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f, err := rules.Parse("t.yaml", strings.NewReader("sinks: {a: {type: log}}\nrules:\n  - {name: all, when: 'true', to: [a]}\n"),
		func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	return st, f.Router
}

func testServer(t *testing.T) (*httptest.Server, *store.Store, *[]string) {
	t.Helper()
	st, router := testStore(t)
	var notified []string
	s := New(st, slog.New(slog.NewTextHandler(io.Discard, nil)), func(s []string) { notified = append(notified, s...) }, Metrics{})
	s.Swap(&Routing{Receivers: map[string]receivers.Receiver{"t": receivertest.New(receivertest.Config{Token: "tok"})}, Router: router, BodyLimit: 256, Hash: "h"})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv, st, &notified
}

func post(t *testing.T, url, body string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestHook(t *testing.T) {
	srv, st, notified := testServer(t)
	tests := []struct {
		name, path, body string
		code             int
		contains         string
	}{
		{"accepted", "/hooks/t?token=tok", `{"subject":"s1","status":"failure"}`, 200, `"ok":true`},
		{"duplicate acknowledged", "/hooks/t?token=tok", `{"subject":"s1","status":"failure"}`, 200, `"ok":true`},
		{"bad token", "/hooks/t?token=nope", `{"subject":"s2"}`, 401, "bad token"},
		{"malformed", "/hooks/t?token=tok", `{"subject":`, 400, "malformed JSON"},
		{"too large", "/hooks/t?token=tok", `{"subject":"` + strings.Repeat("x", 300) + `"}`, 413, "larger than 256 bytes"},
		{"unknown receiver", "/hooks/nope", `{}`, 404, `no receiver named "nope"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := post(t, srv.URL+tc.path, tc.body)
			if resp.StatusCode != tc.code || !strings.Contains(body, tc.contains) {
				t.Errorf("got %d %q, want %d containing %q", resp.StatusCode, body, tc.code, tc.contains)
			}
		})
	}
	ds, err := st.List(context.Background(), store.Filter{})
	if err != nil || len(ds) != 1 {
		t.Errorf("deliveries = %d (%v), want 1: the duplicate creates none", len(ds), err)
	}
	if len(*notified) != 1 || (*notified)[0] != "a" {
		t.Errorf("notified = %v, want [a] once", *notified)
	}
}

func TestHookMethodNotAllowed(t *testing.T) {
	srv, _, _ := testServer(t)
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/hooks/t", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
		t.Errorf("PUT: %d Allow=%q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// When the store cannot commit, the vendor gets 503 and retries; never 200.
func TestHookStoreDown(t *testing.T) {
	srv, st, _ := testServer(t)
	st.Close()
	resp, body := post(t, srv.URL+"/hooks/t?token=tok", `{"subject":"s9"}`)
	if resp.StatusCode != 503 || !strings.Contains(body, "store unavailable") {
		t.Errorf("got %d %q, want 503", resp.StatusCode, body)
	}
}

func TestReady(t *testing.T) {
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := New(st, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, Metrics{})
	admin := httptest.NewServer(s.Admin())
	defer admin.Close()
	get := func(path string) int {
		resp, err := http.Get(admin.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if get("/healthz") != 200 || get("/readyz") != 503 {
		t.Error("before a configuration is loaded: healthz 200, readyz 503")
	}
	s.Swap(&Routing{Hash: "h"})
	if get("/readyz") != 200 {
		t.Error("readyz after load")
	}
}
