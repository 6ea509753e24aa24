package app

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/sinks/webhook"
)

// A shaped webhook through the whole service: a failed fax reaches the
// internal API as a PUT to its own path, in its own shape, signed with
// both keys of a rotation; the retry after a 503 (claimed from the store)
// sends the same bytes with the same webhook-id; a rule whose body fails
// on the event leaves a dead delivery that says why, and no request.
func TestShapedWebhookEndToEnd(t *testing.T) {
	type got struct {
		method, uri string
		header      http.Header
		body        string
	}
	var mu sync.Mutex
	var reqs []got
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, got{r.Method, r.RequestURI, r.Header.Clone(), string(b)})
		n := len(reqs)
		mu.Unlock()
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // the first attempt is retried
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer api.Close()
	newKey, oldKey := "whsec_bmV3LXNpZ25pbmcta2V5LTAxMjM0NTY3", "old-raw-signing-key"
	base, storePath := serve(t, fmt.Sprintf(`
receivers:
  fax: {type: interfax, token: %s}
sinks:
  status-api:
    type: webhook
    url: %s/faxes/{{ .subject }}/status
    method: PUT
    secret: [%s, %s]
    headers: {X-Fax-Dest: '{{ .data.DestinationFax }}'}
    body: '{"fax_id": subject, "delivered": status == "success", "pages": data.PagesSent, "done": data.CompletionTime}'
    retry: {initial_backoff: 10ms, max_backoff: 10ms}
rules:
  - name: forward
    when: type == "fax.outbound"
    to: [status-api]
  - name: broken
    when: type == "fax.outbound"
    to: [status-api]
    webhook: {body: 'data.DestinationFax'}
`, faxToken, api.URL, newKey, oldKey))
	if code, _, body := postFax(t, base+"/hooks/fax?token="+faxToken, "if-2-post-busy"); code != 200 {
		t.Fatalf("callback: %d %s", code, body)
	}
	st, err := store.Open(context.Background(), storePath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var dead []*store.Delivery
	if !testutil.WaitFor(10*time.Second, func() bool {
		mu.Lock()
		n := len(reqs)
		mu.Unlock()
		ds, err := st.List(context.Background(), store.Filter{Rule: "broken", State: store.StateDead})
		if err == nil {
			dead = ds
		}
		return n >= 2 && len(dead) == 1
	}) {
		t.Fatalf("requests = %d, dead = %d: want the retry delivered and the broken rule dead", len(reqs), len(dead))
	}
	if want := `permanent: webhook status-api: webhook.body of rule "broken": evaluated to string, want a map or a list`; dead[0].LastError != want || dead[0].Attempts != 1 {
		t.Errorf("dead delivery: attempts %d, error %q, want 1 attempt, %q", dead[0].Attempts, dead[0].LastError, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reqs) != 2 {
		t.Fatalf("requests = %d, want 2 (the broken rule makes none)", len(reqs))
	}
	for i, r := range reqs {
		if r.method != "PUT" || r.uri != "/faxes/664598111/status" || r.header.Get("X-Fax-Dest") != "0012125551234" {
			t.Errorf("request %d: %s %s %v", i, r.method, r.uri, r.header)
		}
		if want := `{"delivered":false,"done":"2024-06-23T17:23:13Z","fax_id":"664598111","pages":0}`; r.body != want {
			t.Errorf("request %d body = %s, want %s", i, r.body, want)
		}
		ts, _ := strconv.ParseInt(r.header.Get("webhook-timestamp"), 10, 64)
		sigs := strings.Split(r.header.Get("webhook-signature"), " ")
		for j, secret := range []string{newKey, oldKey} {
			k := signingKey(t, secret)
			if len(sigs) != 2 || sigs[j] != webhook.Sign(k, r.header.Get("webhook-id"), ts, []byte(r.body)) {
				t.Errorf("request %d: signature %d does not verify with its key: %q", i, j+1, sigs)
			}
		}
	}
	if reqs[0].header.Get("webhook-id") != reqs[1].header.Get("webhook-id") {
		t.Errorf("webhook-id changed between attempts: %s, %s", reqs[0].header.Get("webhook-id"), reqs[1].header.Get("webhook-id"))
	}
}

// signingKey decodes a secret as a Standard Webhooks receiver does.
func signingKey(t *testing.T, secret string) []byte {
	t.Helper()
	if b64, ok := strings.CutPrefix(secret, "whsec_"); ok {
		k, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	return []byte(secret)
}
