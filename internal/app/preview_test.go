package app

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/receivers/interfax"
)

// A stored delivery's message previews as each kind of sink renders it,
// with the webhook's credentials and signature redacted.
func TestPreview(t *testing.T) {
	b := buildConfigEnv(t, `
receivers:
  fax: {type: interfax, unauthenticated: true}
sinks:
  ops: {type: slack, webhook_url: "https://hooks.slack.com/services/T0/B0/x"}
  team:
    type: email
    smtp: {host: smtp.example.com, port: 587, tls: starttls}
    from: sb@example.com
    to: [team@example.com]
  api:
    type: webhook
    url: https://api.internal/status
    secret: ${HOOK_SECRET}
    headers: {X-Api-Key: inline-key-1234}
rules:
  - {name: all, when: "true", to: [ops, team, api]}
`, func(v string) (string, bool) { return "whsec_bmV3LXNpZ25pbmcta2V5LTAxMjM0NTY3", v == "HOOK_SECRET" })
	ev := &event.Event{Source: "interfax", Type: interfax.TypeOutbound, Subject: "664598111", Status: "failure", Code: 263,
		Description: "busy", Data: map[string]any{"RemoteCSID": "<b>csid</b>"}, DedupKey: "k"}
	ev.Seal("fax", time.Date(2026, 11, 21, 13, 10, 12, 0, time.UTC))
	evJSON, _ := json.Marshal(ev)
	d := func(sink string) *store.Delivery {
		return &store.Delivery{ID: "msg_1", EventID: ev.ID, Rule: "all", Sink: sink, Title: "Fax failed", Text: "busy", EventJSON: evJSON, Attempts: 1}
	}
	now := time.Date(2026, 11, 21, 13, 11, 0, 0, time.UTC)

	slack := b.Preview(d("ops"), now)
	if slack.SinkType != "slack" || !strings.Contains(slack.SlackText, "Fax failed") || !strings.Contains(string(slack.SlackBlocks), `"type":"header"`) {
		t.Errorf("slack preview = %+v", slack)
	}
	mail := b.Preview(d("team"), now)
	if !strings.Contains(mail.EmailText, "busy") || !strings.Contains(mail.EmailHTML, "&lt;b&gt;csid&lt;/b&gt;") {
		t.Errorf("email preview: text %q, HTML %q (want the CSID escaped)", mail.EmailText, mail.EmailHTML)
	}
	hook := b.Preview(d("api"), now).Webhook
	if hook == nil || hook.Error != "" {
		t.Fatalf("webhook preview = %+v", hook)
	}
	if hook.Headers["Webhook-Signature"] != "<secret>" || hook.Headers["X-Api-Key"] != "<secret>" || hook.Headers["Webhook-Id"] != "msg_1" {
		t.Errorf("webhook headers = %v: want the signature and key redacted, the id kept", hook.Headers)
	}
	if gone := b.Preview(d("removed"), now); gone.Error == "" || gone.SinkType != "" {
		t.Errorf("preview for a sink not configured = %+v, want an error", gone)
	}
}
