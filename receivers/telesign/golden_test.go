package telesign

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/golden"
	"github.com/switchboard/switchboard/receivers"
)

// goldenNow is the fixed acceptance time of every golden case.
var goldenNow = time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC)

// TestGolden runs every testdata/<case>.json through Parse and compares the
// sealed events (or the caller-visible error) with testdata/<case>.golden.
// go test -run TestGolden -update rewrites the goldens; review the diff.
func TestGolden(t *testing.T) {
	bodies, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(bodies) == 0 {
		t.Fatal("no testdata/*.json cases")
	}
	rc := newTS6(t)
	for _, path := range bodies {
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got := goldenOutput(t, rc, body)
			golden.Check(t, strings.TrimSuffix(path, ".json")+".golden", got)
		})
	}
}

// goldenOutput is what a golden file holds: the events as the core would
// store them, or the status and message of a refused body.
func goldenOutput(t *testing.T, rc *Receiver, body []byte) []byte {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/hooks/telesign", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	events, err := rc.Parse(r, body, goldenNow)
	var out any
	if err != nil {
		code, msg := receivers.Status(err)
		if code != http.StatusBadRequest {
			t.Errorf("Parse error status = %d, want 400", code)
		}
		out = struct {
			Status int    `json:"status"`
			Error  string `json:"error"`
		}{code, msg}
	} else {
		for _, ev := range events {
			checkEvent(t, ev)
			ev.Seal("telesign", goldenNow)
		}
		out = events
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}
