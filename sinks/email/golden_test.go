package email

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/internal/golden"
	"github.com/switchboard/switchboard/sinks"
	"github.com/switchboard/switchboard/sinks/sinkstest"
)

// TestGolden renders the bodies of every testdata/*.event.json and
// compares them with <case>.txt.golden and <case>.html.golden
// (go test -update rewrites them).
func TestGolden(t *testing.T) {
	cases, err := filepath.Glob("testdata/*.event.json")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, path := range cases {
		name := strings.TrimSuffix(filepath.Base(path), ".event.json")
		t.Run(name, func(t *testing.T) {
			b, err := render(sinkstest.DefaultMessage(t, path))
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", name+".txt.golden"), []byte(b.plain))
			golden.Check(t, filepath.Join("testdata", name+".html.golden"), []byte(b.html))
		})
	}
}

func TestRenderEscapesHTML(t *testing.T) {
	ev := &event.Event{ID: "evt_1", Type: "sms.inbound", Data: map[string]any{
		"user_response": map[string]any{"mo_message": `<script>alert("x")</script>`},
	}}
	ev.Kind = sinkstest.Kinds.Of("telesign", ev.Type)
	b, err := render(&sinks.Message{Rule: "r&d", Title: "<b>Title</b>", Text: "a < b", Event: ev, Templated: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script>", "<b>Title", "a < b", "r&d"} {
		if strings.Contains(b.html, bad) {
			t.Errorf("HTML body contains unescaped %q", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;", "&lt;b&gt;Title&lt;/b&gt;", "a &lt; b"} {
		if !strings.Contains(b.html, want) {
			t.Errorf("HTML body lacks %q", want)
		}
	}
	if !strings.Contains(b.plain, `<script>alert("x")</script>`) {
		t.Errorf("plain body should keep the text as is:\n%s", b.plain)
	}
}

func TestMessageIDLocal(t *testing.T) {
	for id, want := range map[string]string{
		"dlv_01HX5": "switchboard.dlv_01HX5",
		"42":        "switchboard.42",
	} {
		if got := messageIDLocal(id); got != want {
			t.Errorf("messageIDLocal(%q) = %q, want %q", id, got, want)
		}
	}
	for _, id := range []string{"a b", "<x>", "a@b", ".x", "é"} {
		got := messageIDLocal(id)
		if got != messageIDLocal(id) || strings.ContainsAny(got, " <>@é") || got == "switchboard."+id {
			t.Errorf("messageIDLocal(%q) = %q, want a stable hash", id, got)
		}
	}
}

// A title that carries vendor text stays one header line: CR, LF and
// other control characters cannot start a header (Bcc:) or hide text.
func TestSubjectStaysOneLine(t *testing.T) {
	s, err := New("fax-team", Config{SMTP: SMTP{Host: "127.0.0.1", Port: 25, TLS: TLSNone},
		From: "switchboard@example.com", To: []string{"ops@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	m := &sinks.Message{Rule: "r\r\nX-Rule: injected", Title: "Fax from ACME\r\nBcc: victim@example.com\n\x1b[2J\x00\u0085done",
		Text: "t", Event: &event.Event{ID: "evt_1"}, Templated: true}
	msg, err := s.compose(m)
	if err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	if _, err := msg.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	head, _, _ := strings.Cut(buf.String(), "\r\n\r\n")
	for _, line := range strings.Split(head, "\r\n") {
		if strings.HasPrefix(line, "Bcc:") || strings.HasPrefix(line, "X-Rule:") {
			t.Errorf("a title or rule name started a header: %q", line)
		}
		if strings.ContainsFunc(line, func(r rune) bool { return r < 0x20 && r != '\t' }) {
			t.Errorf("control character in header line %q", line)
		}
	}
	if !strings.Contains(head, "Subject: Fax from ACME Bcc: victim@example.com [2J") {
		t.Errorf("subject not folded into one line:\n%s", head)
	}
}
