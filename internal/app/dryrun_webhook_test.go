package app

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/store"
)

// shapeEnv holds the secrets of shapeConfig; none may show in a dry run.
var shapeEnv = map[string]string{
	"API_BASE":        "https://api.internal",
	"API_QUERY_TOKEN": "qtok-5ecret-in-query",
	"API_TOKEN":       "bearer-5ecret-token",
	"HOOK_SECRET_NEW": "whsec_bmV3LXNpZ25pbmcta2V5LTAxMjM0NTY3",
	"HOOK_SECRET_OLD": "old-raw-signing-key",
}

const shapeConfig = `
receivers:
  fax: {type: interfax, token: sekret-callback-token}
sinks:
  status-api:
    type: webhook
    url: ${API_BASE}/faxes/{{ .subject }}/status?token=${API_QUERY_TOKEN}&api_key=inline-q-key-1&v=2
    method: PUT
    secret: [${HOOK_SECRET_NEW}, ${HOOK_SECRET_OLD}]
    headers:
      Authorization: Bearer ${API_TOKEN}
      X-Api-Key: inline-key-1234
      X-Fax-Dest: '{{ .data.DestinationFax }}'
    body: '{"fax_id": subject, "delivered": status == "success", "pages": data.PagesSent, "at": time}'
  audit: {type: log}
rules:
  - name: forward
    when: type == "fax.outbound"
    to: [status-api, audit]
  - name: failures
    when: status == "failure" && previous_status != "failure"
    to: [status-api]
    webhook:
      body: '[subject, description]'
  - name: broken
    when: status == "failure" && previous_status != "failure"
    to: [status-api]
    webhook:
      body: data.DestinationFax
`

func buildShapeConfig(t *testing.T, src string) *Built {
	t.Helper()
	return buildConfigEnv(t, src, func(k string) (string, bool) { v, ok := shapeEnv[k]; return v, ok })
}

// A dry run shows the exact request of each webhook delivery: method, URL
// with the subject escaped in its path, headers (secrets by their ${VAR},
// a credential written in the file as <secret>), the delivery id and both
// signatures, and the body the expression made; and says why a delivery
// whose body fails on the event would be dead.
func TestDryRunWebhookRequest(t *testing.T) {
	b := buildShapeConfig(t, shapeConfig)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	res, err := b.DryRun(DryRunRequest{Receiver: "fax", Body: readExample(t, "interfax-fax-busy.form"), SkipVerify: true, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	ev := res.Events[0]
	reqs := map[string]*DryRunWebhook{}
	for _, m := range ev.Messages {
		if m.SinkType == "webhook" && m.Request == nil || m.SinkType != "webhook" && m.Request != nil {
			t.Errorf("%s → %s (%s): request %+v", m.Rule, m.Sink, m.SinkType, m.Request)
		}
		if m.Request != nil {
			reqs[m.Rule] = m.Request
		}
	}
	r := reqs["forward"]
	if r == nil || r.Error != "" {
		t.Fatalf("forward: %+v", r)
	}
	if r.Method != "PUT" || r.URL != "${API_BASE}/faxes/664598111/status?token=${API_QUERY_TOKEN}&api_key=<secret>&v=2" {
		t.Errorf("request line = %s %s", r.Method, r.URL)
	}
	if want := `{"at":"2024-06-23T17:23:13Z","delivered":false,"fax_id":"664598111","pages":0}`; string(r.Body) != want {
		t.Errorf("body = %s, want %s", r.Body, want)
	}
	for k, want := range map[string]string{
		"Authorization": "Bearer ${API_TOKEN}", "X-Api-Key": "<secret>", "X-Fax-Dest": "0012125551234",
		"Content-Type": "application/json", "Webhook-Timestamp": "1767225600",
		"Webhook-Id": store.DeliveryID(ev.Event.ID, ev.Event.ReceivedAt, 0, "forward", "status-api"),
	} {
		if r.Headers[k] != want {
			t.Errorf("header %s = %q, want %q", k, r.Headers[k], want)
		}
	}
	if sigs := strings.Split(r.Headers["Webhook-Signature"], " "); len(sigs) != 2 || !strings.HasPrefix(sigs[0], "v1,") || !strings.HasPrefix(sigs[1], "v1,") {
		t.Errorf("signatures = %q, want two", r.Headers["Webhook-Signature"])
	}
	if r := reqs["failures"]; r == nil || string(r.Body) != `["664598111","busy"]` {
		t.Errorf("failures: the rule's body should win: %+v", r)
	}
	if r := reqs["broken"]; r == nil || r.Error != `webhook.body of rule "broken": evaluated to string, want a map or a list` || r.Body != nil {
		t.Errorf("broken: %+v", r)
	}
	out, _ := json.Marshal(res)
	for name, v := range shapeEnv {
		if bytes.Contains(out, []byte(v)) {
			t.Errorf("the dry run shows %s", name)
		}
	}
	for _, inline := range []string{"inline-key-1234", "inline-q-key-1"} {
		if bytes.Contains(out, []byte(inline)) {
			t.Errorf("the dry run shows the inline credential %s", inline)
		}
	}
}

// Rule tests assert on webhook requests: a subset of the body, the method,
// URL and headers; every difference is reported, and so is a request that
// cannot be made.
func TestRuleTestsRequests(t *testing.T) {
	b := buildShapeConfig(t, shapeConfig)
	path := writeTests(t, `tests:
  - name: passes
    receiver: fax
    body_file: busy.form
    previous_status: failure
    expect:
      rules: [forward]
      requests:
        forward:
          method: PUT
          url: ${API_BASE}/faxes/664598111/status?token=${API_QUERY_TOKEN}&api_key=<secret>&v=2
          headers: {authorization: "Bearer ${API_TOKEN}", X-Fax-Dest: "0012125551234"}
          body: {fax_id: "664598111", delivered: false, at: 2024-06-23T17:23:13Z}
  - name: fails
    receiver: fax
    body_file: busy.form
    expect:
      rules: [forward, failures, broken]
      requests:
        forward/status-api:
          method: POST
          headers: {X-Nope: x}
          body: {fax_id: "1", pages: [1], extra: true}
        failures: {body: ["664598111"]}
        nowhere: {method: PUT}
`)
	tests, err := LoadRuleTests(path)
	if err != nil {
		t.Fatal(err)
	}
	results := b.RunRuleTests(tests)
	if !results[0].Passed() {
		t.Errorf("passes: %v", results[0].Problems)
	}
	got := strings.Join(results[1].Problems, "\n")
	for _, want := range []string{
		`request of broken → status-api cannot be made (the delivery would be dead): webhook.body of rule "broken": evaluated to string, want a map or a list`,
		"request of failures → status-api:\n  body: want a list of 1, got [\"664598111\",\"busy\"]",
		"request of forward → status-api:\n  method: want POST, got PUT\n  header X-Nope: missing\n  body.extra: missing (want true)\n  body.fax_id: want \"1\", got \"664598111\"\n  body.pages: want a list of 1, got 0\n  sent: PUT ${API_BASE}/faxes/664598111/status?token=${API_QUERY_TOKEN}&api_key=<secret>&v=2 {",
		"request of nowhere: none, the rule did not match or sends to no webhook sink",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack\n%s\n--- in ---\n%s", want, got)
		}
	}
	var out bytes.Buffer
	FormatRuleTestResults(&out, path, results)
	for _, v := range shapeEnv {
		if strings.Contains(out.String(), v) {
			t.Errorf("rule test output shows a secret:\n%s", out.String())
		}
	}
}
