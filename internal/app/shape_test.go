package app

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/internal/config"
)

// check refuses a webhook's shape with the line of each mistake: a body
// that is not a map or a list, a misspelled field in a body or a URL
// template, an unsupported method, a rule's body no webhook sink sends.
func TestCheckWebhookShape(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	cfg := `sinks:
  api:
    type: webhook
    url: https://api.internal/faxes/{{ .subjct }}/status
    method: GET
    secret: [whsec_***, ${HOOK_SECRET}]
    headers:
      X-Fax: '{{ .sbject }}'
    body: subject
  typo:
    type: webhook
    url: https://api.internal/x
    body: '{"id": subjet}'
  audit: {type: log}
rules:
  - name: forward
    when: final
    to: [api, typo]
  - name: logged
    when: 'true'
    to: [audit]
    webhook:
      body: '{"id": subject}'
`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOOK_SECRET", "whsec_c2VjcmV0LXNpZ25pbmcta2V5")
	_, err := Load(path, slog.New(slog.DiscardHandler))
	var es config.Errors
	if !errors.As(err, &es) {
		t.Fatalf("Load = %v, want config errors", err)
	}
	want := []string{
		path + `:4: sink "api": url: unknown field .subjct (the event's fields: code, data, description, final, id, previous_status, received_at, receiver, source, stale, status, subject, time, type)`,
		path + `:5: sink "api": method: "GET" is not supported (use POST, PUT or PATCH)`,
		path + `:6: sink "api": secret: whsec_ secret is not valid base64 after the prefix`,
		path + `:8: sink "api": headers: X-Fax: unknown field .sbject`,
		path + `:9: sink "api": body: must return a map or a list (sent as JSON), not string`,
		path + `:13: sink "typo": body: unknown name subjet (1:8)`,
		path + `:23: rule "logged": webhook: body is sent by webhook sinks only, and none of the rule's sinks is one`,
	}
	if len(es) != len(want) {
		t.Fatalf("%d errors, want %d:\n%v", len(es), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(es[i].Error(), w) {
			t.Errorf("error %d:\n  %s\nwant it to start\n  %s", i, es[i], w)
		}
	}
	if strings.Contains(err.Error(), "c2VjcmV0") {
		t.Error("an error shows the secret")
	}
}
