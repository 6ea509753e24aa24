package app

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/switchboard/switchboard/internal/deliver"
	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/rules"
)

// These tests run the real sinks through the real delivery pipeline (store,
// workers, retry policy) against real servers: what a sink classifies as
// retryable or permanent must turn into the right delivery state.

type slackServer struct {
	mu    sync.Mutex
	times []time.Time
	reply func(n int, w http.ResponseWriter)
}

func (s *slackServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	s.mu.Lock()
	s.times = append(s.times, time.Now())
	n := len(s.times)
	s.mu.Unlock()
	s.reply(n, w)
}

func (s *slackServer) calls() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.times...)
}

// smtpBackend rejects RCPT with the errors in order, then accepts.
type smtpBackend struct {
	mu       sync.Mutex
	rejects  []error
	received int
}

type smtpSession struct{ b *smtpBackend }

func (s *smtpSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *smtpSession) Rcpt(string, *smtp.RcptOptions) error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if len(s.b.rejects) > 0 {
		err := s.b.rejects[0]
		if len(s.b.rejects) > 1 {
			s.b.rejects = s.b.rejects[1:]
		}
		if err != nil {
			return err
		}
	}
	return nil
}
func (s *smtpSession) Data(r io.Reader) error {
	io.Copy(io.Discard, r)
	s.b.mu.Lock()
	s.b.received++
	s.b.mu.Unlock()
	return nil
}
func (s *smtpSession) Reset()        {}
func (s *smtpSession) Logout() error { return nil }

func startSMTP(t *testing.T, b *smtpBackend) int {
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &smtpSession{b}, nil }))
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

var (
	temp451 = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	perm550 = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
)

func TestSinksThroughPipeline(t *testing.T) {
	limited := &slackServer{reply: func(n int, w http.ResponseWriter) {
		if n == 1 {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, "rate_limited")
			return
		}
		io.WriteString(w, "ok")
	}}
	revoked := &slackServer{reply: func(n int, w http.ResponseWriter) {
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, "invalid_token")
	}}
	limitedSrv, revokedSrv := httptest.NewServer(limited), httptest.NewServer(revoked)
	defer limitedSrv.Close()
	defer revokedSrv.Close()
	flaky := &smtpBackend{rejects: []error{temp451, nil}}
	refusing := &smtpBackend{rejects: []error{perm550}}
	flakyPort, refusingPort := startSMTP(t, flaky), startSMTP(t, refusing)

	src := fmt.Sprintf(`
sinks:
  slack-limited: {type: slack, webhook_url: "%s/services/T/B/X", retry: {initial_backoff: 50ms}}
  slack-revoked: {type: slack, webhook_url: "%s/services/T/B/Y", retry: {initial_backoff: 50ms}}
  mail-flaky:
    type: email
    smtp: {host: 127.0.0.1, port: %d, tls: none}
    from: switchboard@example.com
    to: [ops@example.com]
    retry: {initial_backoff: 50ms}
  mail-refusing:
    type: email
    smtp: {host: 127.0.0.1, port: %d, tls: none}
    from: switchboard@example.com
    to: [nobody@example.com]
    retry: {initial_backoff: 50ms}
rules:
  - {name: all, when: "true", to: [slack-limited, slack-revoked, mail-flaky, mail-refusing]}
`, limitedSrv.URL, revokedSrv.URL, flakyPort, refusingPort)
	f, err := rules.Parse("pipeline.yaml", strings.NewReader(src), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	b, err := Build(f, logger)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	ev := &event.Event{Source: "interfax", Type: "fax.outbound", Subject: "664598111", Status: "failure", Final: true,
		Code: 263, Description: "busy", DedupKey: "x", Data: map[string]any{"DestinationFax": "0012125551234"}}
	ev.Seal("interfax", time.Now())
	if _, err := st.Ingest(context.Background(), []*event.Event{ev}, f.Router.Route, nil); err != nil {
		t.Fatal(err)
	}
	d := deliver.New(st, logger, deliver.Options{Poll: 50 * time.Millisecond})
	d.Update(b.Targets)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d.Stop(ctx)
	}()

	want := map[string]struct {
		state    string
		attempts int
	}{
		"slack-limited": {store.StateDelivered, 2},
		"slack-revoked": {store.StateDead, 1},
		"mail-flaky":    {store.StateDelivered, 2},
		"mail-refusing": {store.StateDead, 1},
	}
	var ds []*store.Delivery
	finished := testutil.WaitFor(15*time.Second, func() bool {
		var err error
		if ds, err = st.List(context.Background(), store.Filter{}); err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, dl := range ds {
			if dl.State != store.StatePending {
				done++
			}
		}
		return done == len(want)
	})
	if !finished {
		t.Fatalf("deliveries not finished: %+v", ds)
	}
	for _, dl := range ds {
		w := want[dl.Sink]
		if dl.State != w.state || dl.Attempts != w.attempts {
			t.Errorf("%s: %s after %d attempts (last %d %q), want %s after %d", dl.Sink, dl.State, dl.Attempts, dl.LastStatus, dl.LastError, w.state, w.attempts)
		}
	}
	calls := limited.calls()
	if len(calls) != 2 || calls[1].Sub(calls[0]) < 2*time.Second {
		t.Errorf("rate-limited Slack: %d calls, gap %v; want 2 calls at least 2s apart (Retry-After: 2)", len(calls), gapOf(calls))
	}
	if n := len(revoked.calls()); n != 1 {
		t.Errorf("invalid_token: %d calls, want 1 (permanent)", n)
	}
	if flaky.received != 1 || refusing.received != 0 {
		t.Errorf("SMTP messages received: flaky %d refusing %d, want 1 and 0", flaky.received, refusing.received)
	}
	for _, dl := range []string{"slack-revoked", "mail-refusing"} {
		ds, _ := st.List(context.Background(), store.Filter{Sink: dl})
		if len(ds) != 1 || ds[0].LastError == "" || !strings.HasPrefix(ds[0].LastError, "permanent: ") {
			t.Errorf("%s: last error %q, want it marked permanent", dl, ds[0].LastError)
		}
	}
}

func gapOf(ts []time.Time) time.Duration {
	if len(ts) < 2 {
		return 0
	}
	return ts[1].Sub(ts[0])
}
