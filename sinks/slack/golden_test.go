package slack

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/internal/golden"
	"github.com/switchboard/switchboard/sinks"
	"github.com/switchboard/switchboard/sinks/sinkstest"
)

// goldenPayload is the webhook body without the fields slack-go always
// adds (replace_original, delete_original).
type goldenPayload struct {
	Text   string        `json:"text"`
	Blocks []slack.Block `json:"blocks"`
}

// TestGolden renders the default message of every testdata/*.event.json
// and compares it with <case>.golden (go test -update rewrites them).
func TestGolden(t *testing.T) {
	cases, err := filepath.Glob("testdata/*.event.json")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, path := range cases {
		name := strings.TrimSuffix(filepath.Base(path), ".event.json")
		t.Run(name, func(t *testing.T) {
			p := render(sinkstest.DefaultMessage(t, path))
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false) // keep <!date…> readable
			enc.SetIndent("", "  ")
			if err := enc.Encode(goldenPayload{Text: p.text, Blocks: p.blocks}); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", name+".golden"), buf.Bytes())
		})
	}
}

func TestRenderLimitsAndEscaping(t *testing.T) {
	ev := &event.Event{
		ID: "evt_1", Source: "telesign", Type: "sms.inbound", Subject: "ref", Status: event.StatusSuccess,
		Data: map[string]any{"user_response": map[string]any{"phone_number": "15555551212", "mo_message": "<!channel> & hi"}},
	}
	sinkstest.Kinds.Attach(ev)
	m := &sinks.Message{Rule: "r", Title: strings.Repeat("x", 400), Text: "a <!here> b", Event: ev}
	p := render(m)
	if strings.Contains(p.text, "<!here>") || !strings.Contains(p.text, "&lt;!here&gt;") {
		t.Errorf("default text not escaped: %q", p.text)
	}
	h := p.blocks[0].(*slack.HeaderBlock)
	if n := len([]rune(h.Text.Text)); n > maxHeader {
		t.Errorf("header is %d characters, limit %d", n, maxHeader)
	}
	b, _ := json.Marshal(p.blocks)
	if bytes.Contains(b, []byte("<!channel>")) {
		t.Errorf("vendor text not escaped in blocks: %s", b)
	}
	if !bytes.Contains(b, []byte(`+15555551212`)) && !bytes.Contains(b, []byte(`+1 555 555 1212`)) {
		t.Errorf("inbound sender missing: %s", b)
	}

	// Templates are taken as written: the header is the title, the text is
	// shown in a section and sent as the fallback, mentions intact.
	m = &sinks.Message{Rule: "r", Title: "Custom title", Text: "Hey <!here>: *fax* failed", Templated: true, Event: ev, Attempt: 3}
	p = render(m)
	if h := p.blocks[0].(*slack.HeaderBlock); h.Text.Text != "Custom title" {
		t.Errorf("templated header = %q", h.Text.Text)
	}
	if s := p.blocks[1].(*slack.SectionBlock); s.Text == nil || s.Text.Text != m.Text {
		t.Errorf("templated text section = %+v", p.blocks[1])
	}
	if p.text != "Custom title\n"+m.Text {
		t.Errorf("templated fallback = %q", p.text)
	}
	ctx := p.blocks[len(p.blocks)-1].(*slack.ContextBlock)
	if txt := ctx.ContextElements.Elements[0].(*slack.TextBlockObject).Text; !strings.Contains(txt, "attempt 3") {
		t.Errorf("context = %q, want the attempt", txt)
	}
}

func TestRenderEveryType(t *testing.T) {
	for _, typ := range []string{"fax.outbound", "fax.inbound", "sms", "sms.verify", "voice.verify", "sms.inbound", "voice.event", "telesign.other"} {
		for _, st := range []string{event.StatusSuccess, event.StatusFailure, event.StatusPending, event.StatusUnknown} {
			ev := &event.Event{ID: "evt_1", Source: "x", Type: typ, Subject: "s", Status: st, Data: map[string]any{}}
			p := render(&sinks.Message{Rule: "r", Title: ev.Title(), Text: ev.Text(), Event: ev})
			if p.text == "" || len(p.blocks) < 3 {
				t.Errorf("%s/%s: empty message %+v", typ, st, p)
			}
			for _, b := range p.blocks {
				if s, ok := b.(*slack.SectionBlock); ok && len(s.Fields) > maxFields {
					t.Errorf("%s/%s: %d fields in a section", typ, st, len(s.Fields))
				}
			}
		}
	}
}
