package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// switchboard test shows the exact request of each webhook delivery, with
// its secrets by their ${VAR}, and why one that cannot be made would be
// dead.
func TestTestCommandWebhookRequest(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(cfg, []byte(`receivers:
  interfax: {type: interfax, unauthenticated: true}
sinks:
  status-api:
    type: webhook
    url: https://api.internal/faxes/{{ .subject }}/status
    method: PUT
    secret: [${HOOK_SECRET_NEW}, ${HOOK_SECRET_OLD}]
    headers: {Authorization: "Bearer ${API_TOKEN}"}
    body: '{"fax_id": subject, "delivered": status == "success", "pages": data.PagesSent, "at": time}'
rules:
  - name: forward
    when: type == "fax.outbound"
    to: [status-api]
  - name: broken
    when: final
    to: [status-api]
    webhook: {body: 'data.Subject'}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{"HOOK_SECRET_NEW": "whsec_bmV3LXNpZ25pbmcta2V5LTAxMjM0NTY3", "HOOK_SECRET_OLD": "old-raw-signing-key", "API_TOKEN": "bearer-5ecret-token"}
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	out, stderr, err := runCmd("test", "--config", cfg, "--receiver", "interfax", busyFax)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, want := range []string{
		"forward → status-api (webhook)\n",
		"    request: PUT https://api.internal/faxes/664598111/status\n" +
			"      Authorization: Bearer ${API_TOKEN}\n" +
			"      Content-Type: application/json\n" +
			"      User-Agent: switchboard\n" +
			"      Webhook-Id: msg_",
		"      Webhook-Signature: v1,",
		`      body: {"at":"2024-06-23T17:23:13Z","delivered":false,"fax_id":"664598111","pages":0}` + "\n",
		"broken → status-api (webhook)\n",
		`    request: none, the delivery would be dead: webhook.body of rule "broken": evaluated to string, want a map or a list` + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for k, v := range secrets {
		if strings.Contains(out, v) {
			t.Errorf("output shows %s", k)
		}
	}
}
