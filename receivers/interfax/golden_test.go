package interfax

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/internal/golden"
	"github.com/switchboard/switchboard/receivers"
)

// fixedTime is the acceptance time of every golden case.
var fixedTime = time.Date(2024, 6, 23, 17, 30, 0, 0, time.UTC)

// TestGolden runs every testdata/<case>.body (with the request headers in
// <case>.headers, default a form POST) through Parse and Reply and compares
// the sealed events (or the error) with <case>.golden and the HTTP reply
// with <case>.reply. Cases named err-* must fail with a 4xx.
func TestGolden(t *testing.T) {
	rc, err := New("interfax", Config{Unauthenticated: true})
	if err != nil {
		t.Fatal(err)
	}
	bodies, _ := filepath.Glob("testdata/*.body")
	if len(bodies) == 0 {
		t.Fatal("no testdata/*.body")
	}
	for _, path := range bodies {
		name := strings.TrimSuffix(filepath.Base(path), ".body")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			req := goldenRequest(t, name, body)
			events, err := rc.Parse(req, body, fixedTime)

			var got bytes.Buffer
			if err != nil {
				var re *receivers.Error
				if !errors.As(err, &re) || re.Status < 400 || re.Status > 499 {
					t.Fatalf("Parse error %v: want a 4xx *receivers.Error", err)
				}
				if !strings.HasPrefix(name, "err-") {
					t.Fatalf("Parse: %v", err)
				}
				fmt.Fprintf(&got, "error %d: %s\n", re.Status, re.Msg)
			} else {
				if strings.HasPrefix(name, "err-") {
					t.Fatal("Parse succeeded, want an error")
				}
				checkEvents(t, events)
				for _, ev := range events {
					ev.Seal("interfax", fixedTime)
				}
				b, err := json.MarshalIndent(events, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				got.Write(b)
				got.WriteByte('\n')
			}
			golden.Check(t, "testdata/"+name+".golden", got.Bytes())

			rec := httptest.NewRecorder()
			rc.Reply(rec, req, events, err)
			ct := rec.Header().Get("Content-Type")
			if strings.Contains(ct, "xml") {
				checkWellFormed(t, rec.Body.Bytes())
			}
			reply := fmt.Sprintf("HTTP %d\nContent-Type: %s\n\n%s\n", rec.Code, ct, rec.Body.String())
			golden.Check(t, "testdata/"+name+".reply", []byte(reply))
		})
	}
}

// goldenRequest builds the POST of a case: a form unless <case>.headers
// says otherwise ("Name: value" lines; an empty value removes the header).
func goldenRequest(t testing.TB, name string, body []byte) *http.Request {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/hooks/interfax", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	h, err := os.ReadFile("testdata/" + name + ".headers")
	if errors.Is(err, os.ErrNotExist) {
		return req
	}
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(h))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			t.Fatalf("%s.headers: bad line %q", name, sc.Text())
		}
		if v = strings.TrimSpace(v); v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	return req
}

// checkEvents holds every event to the Receiver contract.
func checkEvents(t *testing.T, events []*event.Event) {
	t.Helper()
	if len(events) != 1 {
		t.Fatalf("got %d events, want 1", len(events))
	}
	for _, ev := range events {
		if ev.Source != "interfax" || (ev.Type != TypeOutbound && ev.Type != TypeInbound) {
			t.Errorf("source/type = %q/%q", ev.Source, ev.Type)
		}
		if ev.Subject == "" || ev.DedupKey == "" || ev.Description == "" || ev.Data == nil {
			t.Errorf("incomplete event %+v", ev)
		}
		switch ev.Status {
		case event.StatusSuccess, event.StatusFailure, event.StatusPending, event.StatusUnknown:
		default:
			t.Errorf("status %q", ev.Status)
		}
		if want := ev.Type + ":" + ev.Subject + ":"; !strings.HasPrefix(ev.DedupKey, want) {
			t.Errorf("DedupKey %q, want prefix %q", ev.DedupKey, want)
		}
	}
}

func checkWellFormed(t *testing.T, b []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("reply is not well-formed XML: %v\n%s", err, b)
		}
	}
}
