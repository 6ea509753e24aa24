package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/receivers/telesign"
	"github.com/switchboard/switchboard/sinks/webhook"
)

// The secrets of the operator test's configuration. None may appear in any
// output: logs, CLI output, admin API replies, check and reload errors.
const (
	opInterfaxToken = "ifx-cb-TOKEN-5b2e9d71c4"
	opTelesignKey   = "c2VjcmV0LXRlbGVzaWduLWtleS1mb3ItdGVzdHMtb25seQ==" // base64, as Telesign issues them
	opSlackPath     = "/services/T0SECRET/B0SECRET/slackWEBHOOKsecret42"
	opSlackToken    = "xoxb-1111-2222-botTOKENsecret"
	opSMTPPassword  = "smtp-PASSWORD-q8w7e6"
	opHookToken     = "hook-URL-TOKEN-z1x2c3"
	opHookSecret    = "whsec_d2ViaG9vay1zaWduaW5nLVNFQ1JFVC1rZXk="
	opRefusedToken  = "refused-URL-TOKEN-k9j8"
	opAdminToken    = "admin-TOKEN-secret-0f1e2d3c4b"
)

// opEnv is a running `switchboard serve` with its surroundings, and all
// the output seen so far.
type opEnv struct {
	t        *testing.T
	cfg      string
	hooks    string // callback base URL
	admin    string // admin base URL
	dbPath   string
	serveOut *testutil.SyncBuffer
	seen     testutil.SyncBuffer // every CLI output and HTTP reply
	slackUp  atomic.Bool
	slackHit atomic.Int32
}

// cli runs a switchboard command and returns its output, remembering it.
func (e *opEnv) cli(args ...string) (string, error) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	fmt.Fprintf(&e.seen, "$ switchboard %s\n%s%s", strings.Join(args, " "), out.String(), errOut.String())
	return out.String() + errOut.String(), err
}

// http does a request and returns the status and body, remembering it.
func (e *opEnv) http(method, url, body, token string, header map[string]string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	// The request itself carries secrets (a callback's ?token=); only what
	// Switchboard answered is checked.
	fmt.Fprintf(&e.seen, "%s %s -> %d %s\n", method, req.URL.Path, resp.StatusCode, b)
	return resp.StatusCode, string(b)
}

// metric returns a sample from /metrics (-1 when absent).
func (e *opEnv) metric(sample string) float64 {
	_, body := e.http("GET", e.admin+"/metrics", "", opAdminToken, nil)
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return -1
}

func (e *opEnv) listJSON(args ...string) []map[string]any {
	e.t.Helper()
	out, err := e.cli(append([]string{"deliveries", "list", "--config", e.cfg, "--json"}, args...)...)
	if err != nil {
		e.t.Fatalf("deliveries list: %v\n%s", err, out)
	}
	var r struct{ Deliveries []map[string]any }
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		e.t.Fatalf("list --json: %v\n%s", err, out)
	}
	return r.Deliveries
}

// waitSettled waits until no delivery is pending.
func (e *opEnv) waitSettled() {
	e.t.Helper()
	if !testutil.WaitFor(30*time.Second, func() bool { return len(e.listJSON("--state", "pending")) == 0 }) {
		e.t.Fatalf("deliveries still pending:\n%s", e.serveOut)
	}
}

// TestOperatorFlow is the walk-through as a new user would do it:
// a run with one sink down; `deliveries list --state dead` shows the failed
// ones with their last error; `retry --dead` delivers them once the sink is
// back; /metrics counts what happened. On the way, every failure path runs
// with a configuration full of secrets (bad credentials, malformed and
// oversized callbacks, the store locked, Slack 500 and invalid_token, SMTP
// refusing the password, a webhook echoing its URL, a webhook refusing
// connections, a reload and a check of a bad configuration), and no secret
// may appear anywhere.
func TestOperatorFlow(t *testing.T) {
	e := &opEnv{t: t, serveOut: &testutil.SyncBuffer{}}
	dir := t.TempDir()
	e.dbPath = filepath.Join(dir, "sb.db")

	// Slack incoming webhook: 500 while down, ok when up.
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Path != opSlackPath {
			http.Error(w, "no_service", 404)
			return
		}
		e.slackHit.Add(1)
		if !e.slackUp.Load() {
			http.Error(w, "internal_error", 500)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer slack.Close()
	// Slack Web API that refuses the bot token.
	slackAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":false,"error":"invalid_token"}`)
	}))
	defer slackAPI.Close()
	// A webhook whose error page echoes the request, token and all; once
	// up, it records the Standard Webhooks headers of what it accepts.
	var echoUp atomic.Bool
	var echoMu sync.Mutex
	var echoGot []http.Header
	var echoBody []byte
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !echoUp.Load() {
			w.WriteHeader(500)
			fmt.Fprintf(w, "Cannot POST %s", r.RequestURI)
			return
		}
		echoMu.Lock()
		echoGot, echoBody = append(echoGot, r.Header.Clone()), body
		echoMu.Unlock()
	}))
	defer echo.Close()
	refused := freeAddr(t) // nothing listens there
	smtpPort := startRefusingSMTP(t)

	t.Setenv("INTERFAX_CALLBACK_TOKEN", opInterfaxToken)
	t.Setenv("TELESIGN_API_KEY", opTelesignKey)
	t.Setenv("SLACK_WEBHOOK_URL", slack.URL+opSlackPath)
	t.Setenv("SLACK_TOKEN", opSlackToken)
	t.Setenv("SMTP_PASSWORD", opSMTPPassword)
	t.Setenv("HOOK_TOKEN", opHookToken)
	t.Setenv("STATUS_API_SECRET", opHookSecret)
	t.Setenv("ADMIN_TOKEN", opAdminToken)
	listen, admin := freeAddr(t), freeAddr(t)
	e.hooks, e.admin = "http://"+listen, "http://"+admin
	fast := "timeout: 2s\n    retry: {max_attempts: 2, initial_backoff: 50ms, max_backoff: 100ms}"
	config := fmt.Sprintf(`listen: %s
admin: %s
admin_token: ${ADMIN_TOKEN}
store: %s
receivers:
  interfax: {type: interfax, token: "${INTERFAX_CALLBACK_TOKEN}"}
  telesign: {type: telesign, customer_id: AAAAAAAA-BBBB-CCCC-DDDD-000000000001, api_key: "${TELESIGN_API_KEY}"}
sinks:
  ops-slack:
    type: slack
    webhook_url: ${SLACK_WEBHOOK_URL}
    %[4]s
  bot-slack:
    type: slack
    token: ${SLACK_TOKEN}
    channel: "#fax"
    api_url: %[5]s
    %[4]s
  fax-team:
    type: email
    smtp: {host: 127.0.0.1, port: %[6]d, username: bot, password: "${SMTP_PASSWORD}", tls: tls, insecure_skip_verify: true}
    from: switchboard@example.com
    to: [fax-team@example.com]
    %[4]s
  status-api:
    type: webhook
    url: "%[7]s/fax-status?token=${HOOK_TOKEN}"
    secret: ${STATUS_API_SECRET}
    %[4]s
  gone-api:
    type: webhook
    url: "http://%[8]s/x?token=%[9]s"
    %[4]s
  audit: {type: log}
rules:
  - name: failed-faxes
    when: source == "interfax" && status == "failure"
    to: [ops-slack, bot-slack, fax-team, status-api, gone-api, audit]
  - name: sms
    when: source == "telesign"
    to: [audit]
`, listen, admin, e.dbPath, fast, slackAPI.URL, smtpPort, echo.URL, refused, opRefusedToken)
	e.cfg = filepath.Join(dir, "rules.yaml")
	writeFile(t, e.cfg, config)

	if out, err := e.cli("check", "--config", e.cfg); err != nil {
		t.Fatalf("check: %v\n%s", err, out)
	}

	// Serve in-process, as `switchboard serve` does.
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- run(ctx, []string{"serve", "--config", e.cfg, "--log-level", "debug"}, e.serveOut, e.serveOut)
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-served; err != nil {
				t.Errorf("serve: %v", err)
			}
		}
	}
	defer stop()
	ready := testutil.WaitFor(10*time.Second, func() bool {
		resp, err := http.Get(e.admin + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	if !ready {
		t.Fatalf("serve not ready:\n%s", e.serveOut)
	}

	// Callbacks: one good fax failure, one good SMS status, and each way of
	// being refused.
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	fax := "TransactionIDType=Outbound&TransactionID=664598111&CompletionTime=23%2F06%2F2024+17%3A23%3A13&DestinationFax=0012125551234&Status=263&PagesSent=0&PagesSubmitted=2&TrialsPerformed=4"
	for _, c := range []struct {
		name, url, body string
		header          map[string]string
		code            int
	}{
		{"fax accepted", "/hooks/interfax?token=" + opInterfaxToken, fax, form, 200},
		{"fax repeated", "/hooks/interfax?token=" + url.QueryEscape(opInterfaxToken), fax, form, 200},
		{"wrong token", "/hooks/interfax?token=" + opInterfaxToken + "x", fax, form, 401},
		{"no token", "/hooks/interfax", fax, form, 401},
		{"malformed", "/hooks/interfax?token=" + opInterfaxToken, "TransactionID=%zz", form, 400},
		{"too large", "/hooks/interfax?token=" + opInterfaxToken, strings.Repeat("x", 2<<20), form, 413},
		{"telesign unsigned", "/hooks/telesign", `{"reference_id":"r1"}`, map[string]string{"Content-Type": "application/json"}, 401},
	} {
		if code, body := e.http("POST", e.hooks+c.url, c.body, "", c.header); code != c.code {
			t.Errorf("%s: %d %s, want %d", c.name, code, body, c.code)
		}
	}
	sms := `{"status":{"updated_on":"2024-05-02T10:15:30.000000Z","code":200,"description":"Delivered"},"reference_id":"35C8B2A3","sub_resource":"sms"}`
	sig, err := telesign.Sign(opTelesignKey, []byte(sms))
	if err != nil {
		t.Fatal(err)
	}
	tsHeader := map[string]string{"Content-Type": "application/json", "Authorization": "TSA AAAAAAAA-BBBB-CCCC-DDDD-000000000001:" + sig}
	if code, body := e.http("POST", e.hooks+"/hooks/telesign", sms, "", tsHeader); code != 200 {
		t.Errorf("signed telesign: %d %s", code, body)
	}
	badSig, _ := telesign.Sign(opTelesignKey, []byte(`{"x":`))
	tsHeader["Authorization"] = "TSA AAAAAAAA-BBBB-CCCC-DDDD-000000000001:" + badSig
	if code, body := e.http("POST", e.hooks+"/hooks/telesign", `{"x":`, "", tsHeader); code != 400 {
		t.Errorf("signed but malformed telesign: %d %s", code, body)
	}

	e.waitSettled()

	// The operator looks at what died, and why.
	out, err := e.cli("deliveries", "list", "--config", e.cfg, "--state", "dead")
	if err != nil {
		t.Fatalf("list dead: %v\n%s", err, out)
	}
	for _, want := range []string{"ops-slack", "bot-slack", "fax-team", "status-api", "gone-api", "664598111", "gave up after 2 attempts", "invalid_token", "535"} {
		if !strings.Contains(out, want) {
			t.Errorf("dead list lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "audit") {
		t.Errorf("the delivered audit message is listed as dead:\n%s", out)
	}
	dead := e.listJSON("--state", "dead", "--sink", "ops-slack")
	if len(dead) != 1 {
		t.Fatalf("dead ops-slack deliveries: %v", dead)
	}
	id := dead[0]["id"].(string)
	out, err = e.cli("deliveries", "show", id, "--config", e.cfg)
	if err != nil {
		t.Fatalf("show: %v\n%s", err, out)
	}
	flat := strings.Join(strings.Fields(out), " ")
	for _, want := range []string{"state dead attempts 2 sink ops-slack", "rule failed-faxes", "subject 664598111", "last status 500",
		"webhook answered 500", `"TransactionID": 664598111`} {
		if !strings.Contains(flat, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`(?m)^\s+1\s+\d{4}-\d\d-\d\d \S+\s+\S+\s+500\s+slack: post to ops-slack: webhook answered 500: internal_error$`).MatchString(out) {
		t.Errorf("show lacks the first attempt's row:\n%s", out)
	}
	if n := e.slackHit.Load(); n != 2 {
		t.Errorf("slack got %d attempts, want 2", n)
	}

	// The counts in /metrics match what happened.
	if code, _ := e.http("GET", e.admin+"/metrics", "", "", nil); code != 401 {
		t.Errorf("/metrics without the admin token: %d", code)
	}
	for sample, want := range map[string]float64{
		`switchboard_callbacks_total{outcome="accepted",receiver="interfax"}`:              1,
		`switchboard_callbacks_total{outcome="duplicate",receiver="interfax"}`:             1,
		`switchboard_callbacks_total{outcome="unauthorized",receiver="interfax"}`:          2,
		`switchboard_callbacks_total{outcome="malformed",receiver="interfax"}`:             1,
		`switchboard_callbacks_total{outcome="too_large",receiver="interfax"}`:             1,
		`switchboard_callbacks_total{outcome="accepted",receiver="telesign"}`:              1,
		`switchboard_callbacks_total{outcome="unauthorized",receiver="telesign"}`:          1,
		`switchboard_callbacks_total{outcome="malformed",receiver="telesign"}`:             1,
		`switchboard_events_total{source="interfax",status="failure",type="fax.outbound"}`: 1,
		`switchboard_rule_matches_total{rule="failed-faxes"}`:                              1,
		`switchboard_rule_matches_total{rule="sms"}`:                                       1,
		`switchboard_deliveries_total{outcome="retry",sink="ops-slack"}`:                   1,
		`switchboard_deliveries_total{outcome="dead",sink="ops-slack"}`:                    1,
		`switchboard_deliveries_total{outcome="dead",sink="bot-slack"}`:                    1,
		`switchboard_deliveries_total{outcome="dead",sink="gone-api"}`:                     1,
		`switchboard_deliveries_total{outcome="delivered",sink="audit"}`:                   2,
		`switchboard_queue_depth{sink="ops-slack",state="dead"}`:                           1,
		`switchboard_queue_depth{sink="audit",state="pending"}`:                            0,
		`switchboard_config_last_reload_successful`:                                        1,
	} {
		if got := e.metric(sample); got != want {
			t.Errorf("%s = %v, want %v", sample, got, want)
		}
	}

	// The admin API answers the same questions.
	code, body := e.http("GET", e.admin+"/api/deliveries?state=dead&subject=664598111", "", opAdminToken, nil)
	if code != 200 || !strings.Contains(body, `"count": 5`) {
		t.Errorf("api list dead: %d %s", code, body)
	}
	e.http("GET", e.admin+"/api/deliveries/"+id, "", opAdminToken, nil)

	// The store locked by another writer: intake answers 503 (the vendor
	// retries), workers log and carry on.
	if !testing.Short() {
		// Wait for the service's own transaction in flight (a claim, a
		// checkpoint) to end, then hold the write lock.
		db, err := sql.Open("sqlite", "file:"+e.dbPath+"?_pragma=busy_timeout(5000)")
		if err != nil {
			t.Fatal(err)
		}
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			t.Fatal(err)
		}
		if code, body := e.http("POST", e.hooks+"/hooks/interfax?token="+opInterfaxToken, strings.Replace(fax, "664598111", "664598112", 1), "", form); code != 503 {
			t.Errorf("store locked: %d %s", code, body)
		}
		conn.ExecContext(ctx, "ROLLBACK")
		conn.Close()
		db.Close()
		if got := e.metric(`switchboard_callbacks_total{outcome="store_error",receiver="interfax"}`); got != 1 {
			t.Errorf("store errors counted: %v", got)
		}
	}

	// A bad configuration, with a secret in the wrong place, through check
	// and reload: refused, the running one stays, the secret stays hidden.
	bad := strings.Replace(config, "    type: email\n", "    type: email\n    concurrency: ${SMTP_PASSWORD}\n", 1)
	bad = strings.Replace(bad, "  audit: {type: log}", "  audit: {type: log, colour: \"${HOOK_TOKEN}\"}", 1)
	writeFile(t, e.cfg, bad)
	if out, err := e.cli("check", "--config", e.cfg); err == nil || !strings.Contains(out, "${SMTP_PASSWORD}") {
		t.Errorf("check of the bad config: %v\n%s", err, out)
	}
	if code, body := e.http("POST", e.admin+"/-/reload", "", opAdminToken, nil); code != 422 {
		t.Errorf("reload of the bad config: %d %s", code, body)
	}
	if got := e.metric(`switchboard_config_last_reload_successful`); got != 0 {
		t.Errorf("last reload successful = %v after a bad reload", got)
	}
	writeFile(t, e.cfg, config)
	if code, body := e.http("POST", e.admin+"/-/reload", "", opAdminToken, nil); code != 200 {
		t.Errorf("reload of the good config: %d %s", code, body)
	}

	// The sink is back: retry the dead ones, and they go out.
	e.slackUp.Store(true)
	out, err = e.cli("deliveries", "retry", "--dead", "--sink", "ops-slack", "--config", e.cfg)
	if err != nil || !strings.Contains(out, "re-queued 1 dead delivery") {
		t.Fatalf("retry --dead: %v\n%s", err, out)
	}
	e.waitSettled()
	if got := e.listJSON("--sink", "ops-slack", "--state", "delivered"); len(got) != 1 || got[0]["id"] != id {
		t.Errorf("after retry: %v", got)
	}
	if got := e.metric(`switchboard_deliveries_total{outcome="delivered",sink="ops-slack"}`); got != 1 {
		t.Errorf("delivered to ops-slack = %v", got)
	}
	if got := e.metric(`switchboard_queue_depth{sink="ops-slack",state="dead"}`); got != 0 {
		t.Errorf("ops-slack dead queue = %v", got)
	}
	if out, err := e.cli("deliveries", "retry", id, "--config", e.cfg); err == nil || !strings.Contains(out, "delivered, not dead or silenced") {
		t.Errorf("retry of a delivered one: %v\n%s", err, out)
	}

	// A webhook retried by id keeps its webhook-id (the delivery id) and is
	// signed anew for this attempt's timestamp.
	echoUp.Store(true)
	hookDead := e.listJSON("--state", "dead", "--sink", "status-api")
	if len(hookDead) != 1 {
		t.Fatalf("dead status-api deliveries: %v", hookDead)
	}
	hookID := hookDead[0]["id"].(string)
	before := time.Now().Unix()
	if out, err := e.cli("deliveries", "retry", hookID, "--config", e.cfg); err != nil || !strings.Contains(out, "re-queued 1 dead delivery") {
		t.Fatalf("retry %s: %v\n%s", hookID, err, out)
	}
	e.waitSettled()
	echoMu.Lock()
	if len(echoGot) != 1 {
		t.Fatalf("webhook got %d requests after the retry", len(echoGot))
	}
	h := echoGot[0]
	ts, _ := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(opHookSecret, "whsec_"))
	if h.Get("webhook-id") != hookID || ts < before || h.Get("webhook-signature") != webhook.Sign(key, hookID, ts, echoBody) {
		t.Errorf("retried webhook: id %q (want %s), timestamp %d (retried at %d), signature %q", h.Get("webhook-id"), hookID, ts, before, h.Get("webhook-signature"))
	}
	echoMu.Unlock()

	stop()
	all := e.serveOut.String() + e.seen.String()
	// One JSON line per callback and per final delivery outcome.
	for _, want := range []string{`"msg":"callback","receiver":"interfax"`, `"outcome":"accepted"`, `"msg":"callback refused"`,
		`"msg":"callback failed"`, `"msg":"delivery dead"`, `"msg":"delivered"`, `"msg":"reload failed, keeping the running configuration"`} {
		if !strings.Contains(e.serveOut.String(), want) {
			t.Errorf("log lacks %s", want)
		}
	}
	plainAuth := base64.StdEncoding.EncodeToString([]byte("\x00bot\x00" + opSMTPPassword))
	for _, secret := range []string{opInterfaxToken, url.QueryEscape(opInterfaxToken), opTelesignKey, opSlackPath, "slackWEBHOOKsecret42", opSlackToken,
		opSMTPPassword, plainAuth, opHookToken, opHookSecret, opRefusedToken, opAdminToken} {
		if i := strings.Index(all, secret); i >= 0 {
			t.Errorf("secret %q appears in the output: …%s…", secret, all[max(0, i-200):min(len(all), i+100)])
		}
	}
	if t.Failed() {
		t.Logf("serve output:\n%s", e.serveOut)
	}
}

// startRefusingSMTP runs an SMTP server with implicit TLS that refuses
// every password, and returns its port.
func startRefusingSMTP(t *testing.T) int {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return refusingSession{}, nil }))
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.TLSConfig = tlsCfg
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(tls.NewListener(l, tlsCfg))
	t.Cleanup(func() { srv.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

type refusingSession struct{}

func (refusingSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (refusingSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
	}), nil
}
func (refusingSession) Mail(string, *smtp.MailOptions) error { return nil }
func (refusingSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (refusingSession) Data(r io.Reader) error               { _, err := io.Copy(io.Discard, r); return err }
func (refusingSession) Reset()                               {}
func (refusingSession) Logout() error                        { return nil }
