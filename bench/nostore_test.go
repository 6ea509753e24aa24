package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// noStoreFixture is the no-store reference for a receiver, its webhook
// sink posting to a server that answers with *status and keeps what it got.
type noStoreFixture struct {
	ref    *localServer
	maker  *callbackMaker
	mu     sync.Mutex
	got    []*http.Request
	bodies []string
	status int
}

func newNoStoreFixture(t *testing.T, receiver string) *noStoreFixture {
	t.Helper()
	f := &noStoreFixture{status: http.StatusOK}
	dest, err := startServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		defer f.mu.Unlock()
		f.got, f.bodies = append(f.got, r), append(f.bodies, string(body))
		w.WriteHeader(f.status)
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dest.close)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nostore.yaml")
	o := &options{Receiver: receiver, Sink: "webhook"}
	if err := os.WriteFile(cfg, []byte(configFor(o, "127.0.0.1:0", "127.0.0.1:0", filepath.Join(dir, "db"), dest.url+"/hook")), 0o600); err != nil {
		t.Fatal(err)
	}
	h, err := noStoreHandler(cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if f.ref, err = startServer(h); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.ref.close)
	if f.maker, err = newCallbackMaker(receiver); err != nil {
		t.Fatal(err)
	}
	return f
}

// post sends the callback with vendor id id, with change applied to the
// request, and returns the reply.
func (f *noStoreFixture) post(t *testing.T, id int64, change func(*http.Request)) (int, string) {
	t.Helper()
	req, err := f.maker.request(context.Background(), f.ref.url+"/hooks/"+f.maker.receiver, id)
	if err != nil {
		t.Fatal(err)
	}
	if change != nil {
		change(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// The no-store reference does serve's work on a callback short of storing
// it: the webhook sink has the event before the vendor has its
// 200; a failed send is a 502.
func TestNoStoreSendsBeforeAnswering(t *testing.T) {
	f := newNoStoreFixture(t, "interfax")
	const id = 2_000_000_000_042
	if code, body := f.post(t, id, nil); code != http.StatusOK {
		t.Fatalf("answered %d %q, want 200", code, body)
	}
	f.mu.Lock()
	if len(f.got) != 1 {
		t.Fatalf("webhook server got %d requests, want 1", len(f.got))
	}
	r, body := f.got[0], f.bodies[0]
	var ev eventStamp
	if err := ev.parse([]byte(body)); err != nil || ev.Subject != strconv.Itoa(id) || ev.ReceivedAt.IsZero() {
		t.Errorf("webhook body %s: subject %q, received_at %v, %v; want the event of transaction %d", body, ev.Subject, ev.ReceivedAt, err, id)
	}
	if !strings.Contains(body, `"status":"success"`) || !strings.Contains(body, `"source":"interfax"`) {
		t.Errorf("webhook body is not the normalized event: %s", body)
	}
	if r.Header.Get("webhook-id") == "" || r.Header.Get("webhook-timestamp") == "" || r.Header.Get("User-Agent") != "switchboard" {
		t.Errorf("webhook headers %v: want the webhook sink's", r.Header)
	}
	f.status = http.StatusServiceUnavailable
	f.mu.Unlock()

	if code, body := f.post(t, id+1, nil); code != http.StatusBadGateway || !strings.Contains(body, "503") {
		t.Errorf("with the webhook failing: %d %q, want 502 naming the 503", code, body)
	}
}

// It verifies callbacks as serve does: a Telesign callback with a wrong
// signature is refused and sends nothing.
func TestNoStoreVerifies(t *testing.T) {
	f := newNoStoreFixture(t, "telesign")
	if code, body := f.post(t, 7, nil); code != http.StatusOK {
		t.Fatalf("signed callback: %d %q, want 200", code, body)
	}
	code, _ := f.post(t, 8, func(r *http.Request) {
		r.Header.Set("Authorization", "TSA "+telesignCustomer+":"+tsaSignature([]byte("wrong key"), []byte("x")))
	})
	if code != http.StatusUnauthorized {
		t.Errorf("wrongly signed callback: %d, want 401", code)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.got) != 1 {
		t.Errorf("webhook server got %d requests, want 1 (the signed callback's)", len(f.got))
	}
}
