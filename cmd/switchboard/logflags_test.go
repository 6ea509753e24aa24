package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/internal/config"
)

// --log-format picks JSON or logfmt, --log-level drops what is below it,
// and a Secret logs as <secret> in both.
func TestLogFlags(t *testing.T) {
	for _, tc := range []struct {
		level, format string
		want          []string // substrings of the output, in order
		absent        []string
	}{
		{"info", "json", []string{`"level":"INFO","msg":"callback","receiver":"interfax","token":"<secret>"`, `"level":"WARN"`}, []string{"DEBUG", "hunter2"}},
		{"debug", "text", []string{"level=DEBUG msg=detail", "level=INFO msg=callback receiver=interfax token=<secret>", "level=WARN"}, []string{"hunter2"}},
		{"warn", "json", []string{`"level":"WARN"`}, []string{"INFO", "DEBUG"}},
	} {
		t.Run(tc.level+" "+tc.format, func(t *testing.T) {
			var b bytes.Buffer
			log, err := newLogger(&b, tc.level, tc.format)
			if err != nil {
				t.Fatal(err)
			}
			log.Debug("detail")
			log.Info("callback", "receiver", "interfax", "token", config.Secret("hunter2"))
			log.Warn("callback refused")
			out := b.String()
			rest := out
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output lacks %s:\n%s", w, out)
				}
				rest = rest[i+len(w):]
			}
			for _, a := range tc.absent {
				if strings.Contains(out, a) {
					t.Errorf("output has %s:\n%s", a, out)
				}
			}
			if tc.format == "json" {
				for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
					if !json.Valid([]byte(line)) {
						t.Errorf("not one JSON object per line: %s", line)
					}
				}
			}
		})
	}
	for _, bad := range [][2]string{{"loud", "json"}, {"info", "xml"}} {
		if _, err := newLogger(&bytes.Buffer{}, bad[0], bad[1]); err == nil {
			t.Errorf("newLogger(%q, %q) accepted", bad[0], bad[1])
		}
	}
}
