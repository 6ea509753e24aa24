package app

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// slackRecorder is a Slack incoming webhook that keeps what it was sent.
type slackRecorder struct {
	mu     sync.Mutex
	bodies []string
}

func (s *slackRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.bodies = append(s.bodies, string(b))
	s.mu.Unlock()
	io.WriteString(w, "ok")
}

// wait returns the first n bodies, decoded to the text Slack renders: the
// fallback text and every text object of the blocks.
func (s *slackRecorder) wait(t *testing.T, n int) []string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		s.mu.Lock()
		bodies := append([]string(nil), s.bodies...)
		s.mu.Unlock()
		if len(bodies) >= n {
			out := make([]string, len(bodies))
			for i, b := range bodies {
				var v any
				if err := json.Unmarshal([]byte(b), &v); err != nil {
					t.Fatalf("Slack body is not JSON: %v\n%s", err, b)
				}
				out[i] = strings.Join(texts(v), "\n")
			}
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("Slack got %d messages, want %d", len(bodies), n)
		}
	}
}

func (s *slackRecorder) raw(i int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bodies[i]
}

// texts collects the "text" strings of a decoded Slack payload that Slack
// reads as mrkdwn: the fallback and the mrkdwn text objects, not the
// plain_text header, where nothing is markup.
func texts(v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		if v["type"] == "plain_text" {
			return nil
		}
		for k, x := range v {
			if s, ok := x.(string); ok && k == "text" {
				out = append(out, s)
				continue
			}
			out = append(out, texts(x)...)
		}
	case []any:
		for _, x := range v {
			out = append(out, texts(x)...)
		}
	}
	return out
}

// Vendor text interpolated into a Slack message cannot mention the
// channel or plant a link: an inbound SMS (anyone who texts the number
// writes it) and a fax's RemoteCSID (any sending machine sets it) arrive
// escaped, in templates and in default messages. The template's own
// mentions and links, and values marked raw, are kept; the log sink gets
// the same templates unescaped.
func TestSlackEscapesVendorText(t *testing.T) {
	rec := &slackRecorder{}
	slack := httptest.NewServer(rec)
	defer slack.Close()
	cfg := fmt.Sprintf(`receivers:
  ts: {type: telesign, unauthenticated: true}
  fax: {type: interfax, unauthenticated: true}
sinks:
  chat: {type: slack, webhook_url: "%s/services/T/B/X"}
  audit: {type: log}
rules:
  - name: sms
    when: type == "sms.inbound"
    to: [chat, audit]
    title: 'SMS: {{ .data.user_response.mo_message }}'
    text: '<!here> SMS from {{ .data.user_response.phone_number }}: {{ .data.user_response.mo_message }} ({{ raw "<https://docs.example.com|runbook>" }})'
  - name: fax
    when: type == "fax.inbound"
    to: [chat]
`, slack.URL)
	hooks, admin, _ := opsService(t, cfg)

	const injected = "<!channel> <https://evil.example.com|Reset your password> & more"
	sms := fmt.Sprintf(`{"status":{"updated_on":"2024-05-02T10:15:30Z","code":1500,"description":"Delivered to customer"},"errors":[],
"user_response":{"phone_number":"15555551212","sender_id":"","mo_message":%q},"sub_resource":"mo_sms","reference_id":"0143D53D86A2030BE20025B600000002"}`, injected)
	resp, err := http.Post(hooks+"/hooks/ts", "application/json", strings.NewReader(sms))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("sms callback: %v %v", err, resp)
	}
	resp.Body.Close()
	got := rec.wait(t, 1)[0]
	for _, bad := range []string{"<!channel>", "<https://evil.example.com|Reset your password>"} {
		if strings.Contains(got, bad) {
			t.Errorf("templated Slack message carries %q unescaped:\n%s", bad, got)
		}
	}
	for _, want := range []string{
		"&lt;!channel&gt; &lt;https://evil.example.com|Reset your password&gt; &amp; more", // the SMS, in text and section
		"<!here> SMS from 15555551212: ",       // the template's own markup
		"(<https://docs.example.com|runbook>)", // raw
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Slack message lacks %q:\n%s", want, got)
		}
	}
	// The header is plain_text: it shows the SMS as written.
	if raw := rec.raw(0); !strings.Contains(raw, `"type":"plain_text","text":"SMS: \u003c!channel\u003e \u003chttps://evil.example.com|Reset your password\u003e \u0026 more"`) {
		t.Errorf("header not the literal SMS:\n%s", raw)
	}

	// The log sink renders the same templates for plain text.
	code, body := adminGet(t, "GET", admin+"/api/deliveries?sink=audit", "")
	if code != 200 || !strings.Contains(body, "SMS: \\u003c!channel\\u003e") && !strings.Contains(body, "SMS: <!channel>") {
		t.Errorf("log sink's delivery: %d %s", code, body)
	}

	form := url.Values{"TransactionIDType": {"Inbound"}, "MessageID": {"229167854"}, "PhoneNumber": {"8643137"},
		"RemoteCSID": {injected}, "MessageStatus": {"0"}, "Pages": {"1"}, "MessageType": {"1"},
		"ReceiveTime": {"23/06/2012 17:23:13"}, "CallerID": {"00001201"}}
	resp, err = http.PostForm(hooks+"/hooks/fax", form)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("fax callback: %v %v", err, resp)
	}
	resp.Body.Close()
	got = rec.wait(t, 2)[1]
	if strings.Contains(got, "<!channel>") || !strings.Contains(got, "&lt;!channel&gt;") {
		t.Errorf("default Slack message for a fax with a hostile RemoteCSID:\n%s", got)
	}
}
