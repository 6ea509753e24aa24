package webhook

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/sinks"
)

// internalAPI stands in for the internal API a shaped webhook talks to: it
// records every request as it arrived.
type apiRequest struct {
	method, uri string
	header      http.Header
	body        string
}

func internalAPI(t *testing.T) (*httptest.Server, func() []apiRequest) {
	var mu sync.Mutex
	var got []apiRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, apiRequest{r.Method, r.RequestURI, r.Header.Clone(), string(b)})
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []apiRequest {
		mu.Lock()
		defer mu.Unlock()
		return append([]apiRequest(nil), got...)
	}
}

// faxMessage is a delivery of a failed fax whose transaction id needs
// escaping in a path, as the store hands it over: the event and its JSON.
func faxMessage(t *testing.T, rule string) *sinks.Message {
	t.Helper()
	ev := &event.Event{
		ID: "evt_1", Source: "interfax", Type: "fax.outbound", Receiver: "fax", Subject: "6645/98 111?",
		Status: event.StatusFailure, Final: true, Code: 263, Description: "busy",
		Time: time.Date(2024, 6, 23, 17, 23, 13, 0, time.UTC),
		Data: map[string]any{"PagesSent": 1, "Ref": "a&b=c", "CompletionTime": time.Date(2024, 6, 23, 17, 23, 13, 0, time.UTC)},
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return &sinks.Message{DeliveryID: "msg_abc", Rule: rule, Title: "t", Text: "x", Event: ev, EventJSON: b, Attempt: 1}
}

// fakeCompiler stands in for rules.CompileBody: each source maps to a
// hand-written body.
func fakeCompiler(bodies map[string]Body) func(string) (Body, error) {
	return func(src string) (Body, error) {
		if b, ok := bodies[src]; ok {
			return b, nil
		}
		return nil, errors.New("unknown name nope (1:1)")
	}
}

var faxBody Body = func(ev *event.Event) (any, error) {
	return map[string]any{"fax_id": ev.Subject, "delivered": ev.Status == "success", "pages": ev.Data["PagesSent"], "at": ev.Time, "done": ev.Data["CompletionTime"]}, nil
}

func whsec(raw string) string { return "whsec_" + base64.StdEncoding.EncodeToString([]byte(raw)) }

func TestShapedRequest(t *testing.T) {
	srv, got := internalAPI(t)
	newKey, oldKey := whsec("new-key-0123456789abcdef"), "old raw key"
	s, err := New("api", Config{
		URL:     config.Secret(srv.URL + "/faxes/{{ .subject }}/status?ref={{ .data.Ref }}&kind={{ .type }}"),
		Method:  "PUT",
		Secret:  config.SecretList{config.Secret(newKey), config.Secret(oldKey)},
		Headers: map[string]string{"Authorization": "Bearer api-token", "X-Fax-Id": "{{ .subject | upper }}"},
		Body:    "shape",
	}, Options{CompileBody: fakeCompiler(map[string]Body{"shape": faxBody})})
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return time.Unix(1700000000, 0) }
	if err := s.Send(context.Background(), faxMessage(t, "forward")); err != nil {
		t.Fatal(err)
	}
	reqs := got()
	if len(reqs) != 1 {
		t.Fatalf("requests = %d, want 1", len(reqs))
	}
	r := reqs[0]
	if r.method != "PUT" {
		t.Errorf("method = %s, want PUT", r.method)
	}
	if want := "/faxes/6645%2F98%20111%3F/status?ref=a%26b%3Dc&kind=fax.outbound"; r.uri != want {
		t.Errorf("request URI = %s, want %s (the subject one escaped path segment, the query values escaped)", r.uri, want)
	}
	if want := `{"at":"2024-06-23T17:23:13Z","delivered":false,"done":"2024-06-23T17:23:13Z","fax_id":"6645/98 111?","pages":1}`; r.body != want {
		t.Errorf("body = %s, want %s", r.body, want)
	}
	for k, want := range map[string]string{
		"Authorization": "Bearer api-token", "X-Fax-Id": "6645/98 111?", "Content-Type": "application/json",
		"Webhook-Id": "msg_abc", "Webhook-Timestamp": "1700000000",
	} {
		if r.header.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, r.header.Get(k), want)
		}
	}
	// Each secret signs the body actually sent; a receiver holding either
	// key verifies one of the space-separated signatures.
	sigs := strings.Split(r.header.Get("webhook-signature"), " ")
	if len(sigs) != 2 {
		t.Fatalf("webhook-signature = %q, want two signatures", r.header.Get("webhook-signature"))
	}
	for i, secret := range []string{newKey, oldKey} {
		k, _ := key(config.Secret(secret))
		if !verifies(k, r, sigs) {
			t.Errorf("no signature verifies with secret %d", i+1)
		}
		if want := Sign(k, "msg_abc", 1700000000, []byte(r.body)); sigs[i] != want {
			t.Errorf("signature %d = %s, want %s (in the order of the list)", i+1, sigs[i], want)
		}
	}
}

// verifies checks a request as a Standard Webhooks receiver does: any of
// the signatures matching the key is enough.
func verifies(key []byte, r apiRequest, sigs []string) bool {
	ts := r.header.Get("webhook-timestamp")
	var tsn int64
	for _, c := range ts {
		tsn = tsn*10 + int64(c-'0')
	}
	want := Sign(key, r.header.Get("webhook-id"), tsn, []byte(r.body))
	for _, s := range sigs {
		if s == want {
			return true
		}
	}
	return false
}

// A rule's body wins over the sink's for that rule's deliveries; other
// rules get the sink's, and without any, the event JSON as stored.
func TestBodyPrecedence(t *testing.T) {
	srv, got := internalAPI(t)
	ruleBody := func(ev *event.Event) (any, error) { return []any{"rule", ev.Subject}, nil }
	s, err := New("api", Config{URL: config.Secret(srv.URL), Body: "shape"},
		Options{CompileBody: fakeCompiler(map[string]Body{"shape": faxBody}), RuleBodies: map[string]Body{"special": ruleBody}})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := New("plain", Config{URL: config.Secret(srv.URL)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, send := range []struct {
		s    *Sink
		rule string
	}{{s, "special"}, {s, "other"}, {plain, "other"}} {
		if err := send.s.Send(context.Background(), faxMessage(t, send.rule)); err != nil {
			t.Fatal(err)
		}
	}
	reqs := got()
	if len(reqs) != 3 {
		t.Fatalf("requests = %d", len(reqs))
	}
	if reqs[0].body != `["rule","6645/98 111?"]` {
		t.Errorf("rule's body: %s", reqs[0].body)
	}
	if !strings.HasPrefix(reqs[1].body, `{"at":`) {
		t.Errorf("sink's body: %s", reqs[1].body)
	}
	if want := string(faxMessage(t, "").EventJSON); reqs[2].body != want {
		t.Errorf("no body: %s, want the event JSON %s", reqs[2].body, want)
	}
	if reqs[2].method != "POST" {
		t.Errorf("default method = %s", reqs[2].method)
	}
}

// The body and templates are evaluated on the event as stored, so a
// delivery handed over at intake (its event in memory, data times as
// time.Time) and the same one claimed from the store (decoded, data times
// as strings) send the same bytes, and so the same signature.
func TestBodyFromStoredEvent(t *testing.T) {
	s, err := New("api", Config{URL: "https://api.internal/x/{{ .data.CompletionTime }}", Body: "shape", Secret: config.SecretList{"k3y-k3y-k3y"}},
		Options{CompileBody: fakeCompiler(map[string]Body{"shape": faxBody})})
	if err != nil {
		t.Fatal(err)
	}
	fresh := faxMessage(t, "r")
	claimed := faxMessage(t, "r")
	claimed.Event = nil
	now := time.Unix(1700000000, 0)
	a, err := s.Request(fresh, now)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Request(claimed, now)
	if err != nil {
		t.Fatal(err)
	}
	if string(a.Body) != string(b.Body) || a.URL != b.URL || a.Header.Get("webhook-signature") != b.Header.Get("webhook-signature") {
		t.Errorf("fresh and claimed differ:\n%s %s\n%s %s", a.URL, a.Body, b.URL, b.Body)
	}
	if a.URL != "https://api.internal/x/2024-06-23T17:23:13Z" {
		t.Errorf("URL = %s", a.URL)
	}
}

// A body or template that fails on an event makes the delivery dead at
// once, with an error that says what failed, and no request is made.
func TestShapeFailsDead(t *testing.T) {
	failing := func(*event.Event) (any, error) { return nil, errors.New("evaluated to string, want a map or a list") }
	tests := []struct {
		name string
		cfg  func(base string) Config
		opts Options
		msg  func(m *sinks.Message)
		want string
	}{
		{"body fails", func(base string) Config { return Config{URL: config.Secret(base), Body: "bad"} },
			Options{CompileBody: fakeCompiler(map[string]Body{"bad": failing})}, nil,
			"webhook api: body: evaluated to string, want a map or a list"},
		{"rule's body fails", func(base string) Config { return Config{URL: config.Secret(base)} },
			Options{RuleBodies: map[string]Body{"forward": failing}}, nil,
			`webhook api: webhook.body of rule "forward": evaluated to string`},
		{"body not JSON", func(base string) Config { return Config{URL: config.Secret(base), Body: "nan"} },
			Options{CompileBody: fakeCompiler(map[string]Body{"nan": func(*event.Event) (any, error) { return []any{func() {}}, nil }})}, nil,
			"webhook api: body: encode as JSON: json: unsupported type: func()"},
		{"missing data field in the path", func(base string) Config { return Config{URL: config.Secret(base + "/x/{{ .data.Nope }}/y")} },
			Options{}, nil, "webhook api: url: {{ .data.Nope }} has no value for this event"},
		{"empty path segment", func(base string) Config { return Config{URL: config.Secret(base + "/x/{{ .subject }}/y")} },
			Options{}, func(m *sinks.Message) { m.EventJSON = []byte(`{"id":"evt_1","subject":""}`) },
			"webhook api: url: {{ .subject }} is empty for this event, which would leave an empty path segment"},
		{"field of a string", func(base string) Config { return Config{URL: config.Secret(base + "/x/{{ .subject.id }}")} },
			Options{}, nil, `webhook api: url: url:1:`},
		{"header with a newline", func(base string) Config {
			return Config{URL: config.Secret(base), Headers: map[string]string{"X-Desc": "{{ .description }}"}}
		}, Options{}, func(m *sinks.Message) { m.EventJSON = []byte(`{"id":"evt_1","description":"busy\r\nX-Evil: 1"}`) },
			"webhook api: headers: X-Desc: {{ .description }} holds a control character"},
		{"URL too long", func(base string) Config { return Config{URL: config.Secret(base + "/x?d={{ .description }}")} },
			Options{}, func(m *sinks.Message) {
				m.EventJSON = []byte(`{"id":"evt_1","description":"` + strings.Repeat("a", maxValueLen) + `"}`)
			}, "webhook api: url: longer than 8192 bytes for this event"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, got := internalAPI(t)
			s, err := New("api", tc.cfg(srv.URL+"/t0ken-in-path"), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			m := faxMessage(t, "forward")
			if tc.msg != nil {
				tc.msg(m)
			}
			err = s.Send(context.Background(), m)
			if !sinks.IsPermanent(err) || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("err = %v (permanent %v), want a permanent error starting %q", err, sinks.IsPermanent(err), tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "t0ken-in-path") {
				t.Errorf("error shows the URL: %v", err)
			}
			if n := len(got()); n != 0 {
				t.Errorf("requests = %d, want none", n)
			}
		})
	}
}

// A network error for a templated URL shows neither the URL as configured
// nor as rendered for the event.
func TestTemplatedURLRedacted(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	s, err := New("api", Config{URL: config.Secret(base + "/hooks/{{ .subject }}?token=s3cr3t-token")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), faxMessage(t, "r"))
	if err == nil || sinks.IsPermanent(err) {
		t.Fatalf("err = %v, want a retryable error", err)
	}
	for _, leak := range []string{"s3cr3t", base, "6645"} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("error shows %q: %v", leak, err)
		}
	}
}

func TestValidateShape(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		opts Options
		want string // "" for a valid configuration
	}{
		{"PUT", Config{URL: "https://x/", Method: "PUT"}, Options{}, ""},
		{"PATCH", Config{URL: "https://x/", Method: "PATCH"}, Options{}, ""},
		{"GET", Config{URL: "https://x/", Method: "GET"}, Options{}, `method: "GET" is not supported (use POST, PUT or PATCH)`},
		{"lower case", Config{URL: "https://x/", Method: "put"}, Options{}, `method: "put" is not supported`},
		{"template in the path and query", Config{URL: "https://x/f/{{ .subject }}?a={{ .code }}"}, Options{}, ""},
		{"template right after the host", Config{URL: "https://x?id={{ .subject }}"}, Options{}, ""},
		{"template in the host", Config{URL: "https://{{ .receiver }}.internal/"}, Options{},
			"url: must be an absolute http or https URL, with the scheme and host written out before any {{ }}"},
		{"template as the port", Config{URL: "https://x:{{ .code }}/"}, Options{},
			"url: templates may only stand in the path or the query"},
		{"template glued to the host", Config{URL: "https://x{{ .subject }}"}, Options{},
			"url: templates may only stand in the path or the query"},
		{"unknown field", Config{URL: "https://x/faxes/{{ .subjct }}/status"}, Options{},
			"url: unknown field .subjct (the event's fields: code, data, description, final, id, previous_status, received_at, receiver, source, stale, status, subject, time, type)"},
		{"unknown field through $", Config{URL: "https://x/{{ with .data }}{{ $.sbj }}{{ end }}"}, Options{}, "unknown field .sbj"},
		{"fields under with are not checked", Config{URL: "https://x/{{ with .data }}{{ .Anything }}{{ end }}"}, Options{}, ""},
		{"data fields are not checked", Config{URL: "https://x/{{ .data.Anything }}"}, Options{}, ""},
		{"unknown field in a header", Config{URL: "https://x/", Headers: map[string]string{"X-Id": "{{ .subjet }}"}}, Options{},
			"headers: X-Id: unknown field .subjet"},
		{"template syntax", Config{URL: "https://x/{{ .subject "}, Options{}, "url: url:1: unclosed action"},
		{"template call", Config{URL: `https://x/{{ template "a" }}`}, Options{}, "{{ template }} is not supported here"},
		{"define", Config{URL: `https://x/{{ define "a" }}x{{ end }}`}, Options{}, "{{ define }} and {{ block }} are not supported here"},
		{"unknown function", Config{URL: `https://x/{{ phone .subject }}`}, Options{}, `function "phone" not defined`},
		{"a secret list", Config{URL: "https://x/", Secret: config.SecretList{config.Secret(whsec("k")), "raw"}}, Options{}, ""},
		{"a bad secret in the list", Config{URL: "https://x/", Secret: config.SecretList{"raw", "whsec_***"}}, Options{}, "not valid base64"},
		{"an empty secret in the list", Config{URL: "https://x/", Secret: config.SecretList{"raw", ""}}, Options{}, "secret 2 of the list is empty"},
		{"body without a compiler", Config{URL: "https://x/", Body: "{}"}, Options{}, "body: no expression compiler given"},
		{"body that does not compile", Config{URL: "https://x/", Body: "nope"}, Options{CompileBody: fakeCompiler(nil)}, "body: unknown name nope (1:1)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New("api", tc.cfg, tc.opts)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("New: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("New = %v, want an error containing %q", err, tc.want)
			}
			var es config.Errors
			if err != nil && (!errors.As(err, &es) || es[0].Key == "") {
				t.Errorf("error %v names no key, so it has no line", err)
			}
		})
	}
}

// A server that quotes a credential header in its error reply does not
// get it into the delivery log.
func TestCredentialHeaderScrubbed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, "rejected Authorization: "+r.Header.Get("Authorization")+" for "+r.Header.Get("X-Fax-Id"))
	}))
	defer srv.Close()
	s, err := New("api", Config{URL: config.Secret(srv.URL + "/faxes/{{ .subject }}"),
		Headers: map[string]string{"Authorization": "Bearer api-t0ken-value", "X-Fax-Id": "{{ .subject }}"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), faxMessage(t, "r"))
	if err == nil || !strings.Contains(err.Error(), "status 401: rejected Authorization: <secret> for 6645/98 111?") {
		t.Errorf("err = %v, want the reply with the credential scrubbed", err)
	}
	if err != nil && strings.Contains(err.Error(), "t0ken") {
		t.Errorf("error shows the token: %v", err)
	}
}
