package telesign

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/receivers"
)

func TestReply(t *testing.T) {
	sms := &event.Event{Type: "sms"}
	voice := &event.Event{Type: "voice.event"}
	tests := []struct {
		name       string
		events     []*event.Event
		err        error
		wantStatus int
		wantBody   string
		wantHeader [2]string
	}{
		{"one event", []*event.Event{sms}, nil, 200, `{"status":"ok","events":1}`, [2]string{}},
		{"array of three", []*event.Event{sms, sms, sms}, nil, 200, `{"status":"ok","events":3}`, [2]string{}},
		{"voice event asks for no action", []*event.Event{voice}, nil, 200, `{}`, [2]string{}},
		{"malformed", nil, badRequest("malformed JSON at line 1, column 2"), 400, `{"error":"malformed JSON at line 1, column 2"}`, [2]string{}},
		{"bad signature", nil, errBadSignature, 401, `{"error":"signature does not match the body"}`, [2]string{"WWW-Authenticate", "TSA"}},
		{"wrong content type", nil, &receivers.Error{Status: 415, Msg: "unsupported content type"}, 415, `{"error":"unsupported content type"}`, [2]string{"Accept-Post", "application/json"}},
		{"too large", nil, receivers.Errorf(413, "body too large"), 413, `{"error":"body too large"}`, [2]string{}},
		{"store unavailable stays 503", nil, fmt.Errorf("store: %w", receivers.Errorf(503, "store unavailable")), 503, `{"error":"store unavailable"}`, [2]string{}},
		{"other error hides details", nil, errors.New("disk full at /var/lib/secret"), 500, `{"error":"internal error"}`, [2]string{}},
	}
	rc := newTS6(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			rc.Reply(w, httptest.NewRequest(http.MethodPost, "/hooks/telesign", nil), tc.events, tc.err)
			if w.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d", w.Code, tc.wantStatus)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if got := strings.TrimSpace(w.Body.String()); got != tc.wantBody {
				t.Errorf("body = %s, want %s", got, tc.wantBody)
			}
			if !json.Valid(w.Body.Bytes()) {
				t.Errorf("body %q is not JSON", w.Body)
			}
			if k := tc.wantHeader[0]; k != "" && w.Header().Get(k) != tc.wantHeader[1] {
				t.Errorf("%s = %q, want %q", k, w.Header().Get(k), tc.wantHeader[1])
			}
		})
	}
}

// serve runs a callback through the receiver the way the core does: read,
// verify, parse, (store,) reply.
func serve(rc *Receiver) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err == nil {
			err = rc.Verify(r, body)
		}
		var events []*event.Event
		if err == nil {
			events, err = rc.Parse(r, body, time.Now())
		}
		rc.Reply(w, r, events, err)
	})
}

func TestEndToEnd(t *testing.T) {
	srv := httptest.NewServer(serve(newTS6(t)))
	defer srv.Close()
	post := func(body, auth, ct string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/hooks/telesign", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", ct)
		if auth != "" {
			req.Header.Set("Authorization", auth)
			req.Header.Set("X-TS-Authorization", auth)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	sign := func(body string) string {
		sig, err := Sign(ts6Key, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return "TSA " + ts6Customer + ":" + sig
	}

	if code, body := post(ts6Body, sign(ts6Body), "application/json"); code != 200 || body != `{"status":"ok","events":1}` {
		t.Errorf("signed TS-6: %d %s", code, body)
	}
	changed := strings.Replace(ts6Body, "Delivered", "delivered", 1)
	if code, body := post(changed, sign(ts6Body), "application/json"); code != 401 || !strings.Contains(body, "signature") {
		t.Errorf("one byte changed: %d %s", code, body)
	}
	if code, _ := post(ts6Body, "", "application/json"); code != 401 {
		t.Errorf("unsigned: %d", code)
	}
	bad := `{"reference_id":"x",}`
	if code, body := post(bad, sign(bad), "application/json"); code != 400 || !strings.Contains(body, "line 1, column 21") {
		t.Errorf("malformed: %d %s", code, body)
	}
	if code, _ := post(ts6Body, sign(ts6Body), "application/x-www-form-urlencoded"); code != 415 {
		t.Errorf("form body: %d", code)
	}
	voice := `{"reference_id":"C58C8EB012D","event":"incoming_call","data":{}}`
	if code, body := post(voice, sign(voice), "application/json; charset=utf-8"); code != 200 || body != `{}` {
		t.Errorf("voice event: %d %s", code, body)
	}
}
