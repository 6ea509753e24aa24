package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/internal/app"
	"github.com/switchboard/switchboard/receivers/telesign"
)

var (
	exampleConfig = filepath.Join("..", "..", "rules.example.yaml")
	exampleTests  = filepath.Join("..", "..", "rules.example.tests.yaml")
	busyFax       = filepath.Join("..", "..", "testdata", "examples", "interfax-fax-busy.form")
)

func runCmd(args ...string) (string, string, error) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

// switchboard test on a recorded failed fax names the matching rule and
// shows the rendered message.
func TestTestCommand(t *testing.T) {
	out, stderr, err := runCmd("test", "--config", exampleConfig, "--receiver", "interfax", busyFax)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, want := range []string{
		"verification: none: the receiver is unauthenticated: true",
		"event 1 of 1: fax.outbound failure 664598111",
		`"DestinationFax": "0012125551234"`,
		"matched   failed-faxes",
		`no match  blocked-verify-codes: false: type in ["sms.verify", "voice.verify"] (type = "fax.outbound")`,
		"failed-faxes → audit (log)\n    title: Fax to +1 212 555 1234 failed: busy\n    text:  busy after 4 tries (transaction 664598111)\n",
		`throttle: key "0012125551234", window 10m0s`,
		"nothing was stored or sent",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestTestCommandJSONFromStdin(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "examples", "telesign-sms-delivered.json"))
	if err != nil {
		t.Fatal(err)
	}
	stdin = bytes.NewReader(body)
	defer func() { stdin = os.Stdin }()
	out, stderr, err := runCmd("test", "--config", exampleConfig, "-", "--receiver", "telesign", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var res app.DryRunResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if res.ContentType != "application/json" || res.Status != 200 || len(res.Events) != 1 ||
		res.Events[0].Event.Type != "sms" || len(res.Events[0].Matched) != 1 || res.Events[0].Matched[0] != "final-statuses" {
		t.Errorf("result = %+v", res)
	}
	if !strings.Contains(out, `"received_at": "`) || !strings.Contains(out, `"reason": "false: `) {
		t.Errorf("JSON lacks the event times or the reasons:\n%s", out)
	}
}

// With a signing key configured, the signature is checked unless skipped,
// and a failure is an error.
func TestTestCommandVerify(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "rules.yaml")
	key := "bWFkZS11cC10ZWxlc2lnbi1rZXktZm9yLWRvY3Mtb25seS0wMTIzNDU2Nzg5"
	writeFile(t, cfg, "receivers:\n  ts: {type: telesign, customer_id: C1, api_key: "+key+"}\nsinks: {a: {type: log}}\nrules: [{name: all, when: 'true', to: [a]}]\n")
	body := `{"status":{"code":200,"description":"Delivered to handset","updated_on":"2024-05-02T10:15:30Z"},"reference_id":"R1","sub_resource":"sms"}`
	bodyFile := filepath.Join(dir, "cb.json")
	writeFile(t, bodyFile, body)
	sig, err := telesign.Sign(key, []byte(body))
	if err != nil {
		t.Fatal(err)
	}

	out, _, err := runCmd("test", "--config", cfg, "--receiver", "ts", "--header", "Authorization: TSA C1:"+sig, bodyFile)
	if err != nil || !strings.Contains(out, "verification: passed") || !strings.Contains(out, "matched   all") {
		t.Errorf("signed: %v\n%s", err, out)
	}
	out, _, err = runCmd("test", "--config", cfg, "--receiver", "ts", bodyFile)
	if err == nil || !strings.Contains(out, "verification: FAILED") || !strings.Contains(out, "the service would answer 401 Unauthorized: missing Authorization header") {
		t.Errorf("unsigned: %v\n%s", err, out)
	}
	out, _, err = runCmd("test", "--config", cfg, "--receiver", "ts", "--skip-verify", bodyFile)
	if err != nil || !strings.Contains(out, "verification: skipped") {
		t.Errorf("skipped: %v\n%s", err, out)
	}
	if _, _, err := runCmd("test", "--config", cfg, "--receiver", "nope", bodyFile); err == nil || !strings.Contains(err.Error(), `no receiver named "nope"`) {
		t.Errorf("unknown receiver: %v", err)
	}
	if _, stderr, err := runCmd("test", "--config", cfg, bodyFile); err == nil || !strings.Contains(stderr, "Usage: switchboard test") {
		t.Errorf("no receiver: %v\n%s", err, stderr)
	}
}

func TestCheckTests(t *testing.T) {
	out, stderr, err := runCmd("check", "--config", exampleConfig, "--tests", exampleTests)
	if err != nil || !strings.Contains(out, "all 7 tests passed") {
		t.Errorf("example tests: %v\n%s%s", err, out, stderr)
	}

	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.tests.yaml")
	abs, _ := filepath.Abs(busyFax)
	writeFile(t, bad, "tests:\n  - name: wrong\n    receiver: interfax\n    body_file: "+abs+"\n    expect: {rules: [final-statuses]}\n")
	out, _, err = runCmd("check", "--config", exampleConfig, "--tests", bad)
	if err == nil || !strings.Contains(out, "FAIL  wrong") || !strings.Contains(out, "+ failed-faxes matched, not expected") {
		t.Errorf("failing tests: %v\n%s", err, out)
	}
	writeFile(t, bad, "tests:\n  - name: x\n")
	_, stderr, err = runCmd("check", "--config", exampleConfig, "--tests", bad)
	if err == nil || !strings.Contains(stderr, "missing receiver") {
		t.Errorf("invalid tests file: %v\n%s", err, stderr)
	}
}

// switchboard test shows the expectations an event starts and stops.
func TestTestCommandExpectations(t *testing.T) {
	dir := t.TempDir()
	pending := filepath.Join(dir, "pending.json")
	if err := os.WriteFile(pending, []byte(`{"status": {"code": 290, "description": "Message in progress"}, "reference_id": "R1", "sub_resource": "sms"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	delivered := filepath.Join("..", "..", "testdata", "examples", "telesign-sms-delivered.json")
	for file, want := range map[string]string{
		pending:   "expectations:\n  starts    sms-final-within-15m: expectation.missed in 15m0s unless an event stops it",
		delivered: "expectations:\n  stops     sms-final-within-15m\n",
	} {
		out, stderr, err := runCmd("test", "--config", exampleConfig, "--receiver", "telesign", "--previous-status", "pending", file)
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
