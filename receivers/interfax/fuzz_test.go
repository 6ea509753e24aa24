package interfax

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/receivers"
)

// fuzzContentTypes are the request forms FuzzParse picks from.
var fuzzContentTypes = []string{
	"application/x-www-form-urlencoded",
	"multipart/form-data; boundary=----switchboardBoundary7MA4YWxk",
	"text/xml; charset=utf-8",
	"application/soap+xml; charset=utf-8",
	"",
}

// addSeeds adds every testdata body whose content type matches keep.
func addSeeds(f *testing.F, keep func(ct string) bool, add func(ct int, body []byte)) {
	bodies, _ := filepath.Glob("testdata/*.body")
	for _, path := range bodies {
		body, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		req := goldenRequest(f, strings.TrimSuffix(filepath.Base(path), ".body"), body)
		ct := req.Header.Get("Content-Type")
		if !keep(ct) {
			continue
		}
		idx := 0
		for i, c := range fuzzContentTypes {
			if mt, _, _ := strings.Cut(c, ";"); mt != "" && strings.HasPrefix(ct, mt) {
				idx = i
			}
		}
		add(idx, body)
	}
}

// checkParse runs one request through Parse and Reply and holds the result
// to the contract: no panic, an event that marshals, or a 4xx error; a
// well-formed reply.
func checkParse(t *testing.T, ct string, body []byte) {
	rc, err := New("interfax", Config{Unauthenticated: true})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/hooks/interfax", bytes.NewReader(body))
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	events, err := rc.Parse(req, body, fixedTime)
	if err != nil {
		var re *receivers.Error
		if !errors.As(err, &re) || re.Status < 400 || re.Status > 499 {
			t.Fatalf("Parse error %v: want a 4xx *receivers.Error", err)
		}
	} else {
		checkEvents(t, events)
		for _, ev := range events {
			ev.Seal("interfax", fixedTime)
		}
		if _, err := json.Marshal(events); err != nil {
			t.Fatalf("event does not marshal: %v", err)
		}
	}
	rec := httptest.NewRecorder()
	rc.Reply(rec, req, events, err)
	if strings.Contains(rec.Header().Get("Content-Type"), "xml") {
		checkWellFormed(t, rec.Body.Bytes())
	}
}

// FuzzParse feeds any body under any of the accepted content types.
func FuzzParse(f *testing.F) {
	addSeeds(f, func(string) bool { return true }, func(ct int, body []byte) { f.Add(uint8(ct), body) })
	f.Fuzz(func(t *testing.T, ct uint8, body []byte) {
		checkParse(t, fuzzContentTypes[int(ct)%len(fuzzContentTypes)], body)
	})
}

// FuzzParseForm targets the form decoder and the field typing.
func FuzzParseForm(f *testing.F) {
	addSeeds(f, func(ct string) bool { return strings.HasPrefix(ct, "application/x-www-form-urlencoded") },
		func(_ int, body []byte) { f.Add(body) })
	f.Fuzz(func(t *testing.T, body []byte) {
		checkParse(t, "application/x-www-form-urlencoded", body)
	})
}

// FuzzParseSOAP targets the XML token walk.
func FuzzParseSOAP(f *testing.F) {
	addSeeds(f, func(ct string) bool { return strings.Contains(ct, "xml") },
		func(_ int, body []byte) { f.Add(body) })
	f.Fuzz(func(t *testing.T, body []byte) {
		checkParse(t, "text/xml; charset=utf-8", body)
	})
}
