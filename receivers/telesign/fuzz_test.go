package telesign

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/receivers"
)

// FuzzParse feeds arbitrary bodies to Parse: it must never panic, refuse
// only with 400, and every event it returns must be complete and storable.
// The testdata bodies seed it, so plain go test runs them too.
func FuzzParse(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`[{"event":"call_completed","data":{"status":"BUSY","answered_on_utc":"0000-01-01T00:30:00+01:00"}}]`))
	f.Add([]byte(`{"status":{"code":1e400,"updated_on":"9999-12-31T23:59:59-23:59"}}`))
	rc, err := New("telesign", Config{Unauthenticated: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		events, err := rc.Parse(nil, body, goldenNow)
		if err != nil {
			var re *receivers.Error
			if !errors.As(err, &re) || re.Status != http.StatusBadRequest {
				t.Fatalf("Parse error %v is not a 400 *receivers.Error", err)
			}
			return
		}
		if len(events) == 0 || len(events) > maxEvents {
			t.Fatalf("%d events", len(events))
		}
		for _, ev := range events {
			checkEvent(t, ev)
		}
	})
}

// FuzzVerify feeds arbitrary headers and bodies to Verify: it must never
// panic, and it may accept only a body that carries its own signature.
func FuzzVerify(f *testing.F) {
	f.Add("TSA "+ts6Customer+":"+ts6Sig, "", ts6Body)
	f.Add("", "tsa "+ts6Customer+":"+ts6Sig, ts6Body)
	f.Add("Basic Zm9vOmJhcg==", "TSA :", "{}")
	f.Add("TSA "+ts6Customer+":"+ts6Sig+"=", "TSA x:y:z", ts6Body+"\n")
	f.Add("TSA \x00:\xff", "TSA"+strings.Repeat(" ", 100), "")
	rc := newTS6(f)
	f.Fuzz(func(t *testing.T, auth, xts, body string) {
		r := httptest.NewRequest(http.MethodPost, "/hooks/telesign", nil)
		r.Header["Authorization"] = []string{auth}
		r.Header["X-Ts-Authorization"] = []string{xts}
		err := rc.Verify(r, []byte(body))
		if err != nil {
			if code, _ := receivers.Status(err); code != http.StatusUnauthorized {
				t.Fatalf("Verify error %v answered %d, want 401", err, code)
			}
			return
		}
		want, _ := Sign(ts6Key, []byte(body))
		if !strings.Contains(auth, strings.TrimRight(want, "=")) && !strings.Contains(xts, strings.TrimRight(want, "=")) {
			t.Fatalf("Verify accepted %q / %q for a body they do not sign", auth, xts)
		}
	})
}
