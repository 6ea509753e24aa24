package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/testutil"
)

// A silence added with the CLI while serve runs holds back the next
// matching callback's delivery (stored as silenced, retryable by hand),
// leaves other deliveries alone, and stops applying when it is expired by
// command or ends on its own.
func TestProcessSilence(t *testing.T) {
	s := newOwnServe(t, silenceConfig)
	p := s.start(t, "run.log")
	own, listen, bin, cfg := s.own, s.listen, s.bin, s.cfg
	delivered := func(subject string) bool { n, _ := own.count("test", subject); return n > 0 }
	// applied is how long a silence may take to apply on a running
	// instance: it reads them every second.
	const applied = 2 * time.Second

	// A matcher that is not a bool over the event is refused.
	cmd := runCLIErr(bin, "silence", "add", "--config", cfg, "--match", `subject + 1`, "--for", "1h", "--comment", "x")
	if cmd == nil {
		t.Error("silence add accepted a matcher that is not a bool")
	}
	var sl struct{ ID string }
	out := runCLI(t, bin, "silence", "add", "--config", cfg, "--json", "--match", `subject startsWith "quiet"`, "--for", "1h", "--comment", "number disconnected")
	if err := json.Unmarshal([]byte(out), &sl); err != nil || sl.ID == "" {
		t.Fatalf("silence add: %s (%v)", out, err)
	}
	time.Sleep(applied)
	postTest(t, listen, "quiet-1", "failure", true)
	postTest(t, listen, "loud-1", "failure", true)
	if !testutil.WaitFor(10*time.Second, func() bool { return delivered("loud-1") }) {
		t.Fatalf("a delivery the silence does not match was held back\n%s", p.logTail())
	}
	var list struct {
		Deliveries []struct{ ID, Subject, State string }
	}
	out = runCLI(t, bin, "deliveries", "list", "--config", cfg, "--json", "--state", "silenced")
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Deliveries) != 1 || list.Deliveries[0].Subject != "quiet-1" {
		t.Fatalf("silenced deliveries: %s (%v), want quiet-1's", out, err)
	}
	if delivered("quiet-1") {
		t.Error("the silenced delivery was sent")
	}
	if out := runCLI(t, bin, "silence", "list", "--config", cfg); !strings.Contains(out, sl.ID) || !strings.Contains(out, "number disconnected") {
		t.Errorf("silence list does not show the silence with its comment:\n%s", out)
	}
	// Retried by hand, the silenced delivery is sent.
	runCLI(t, bin, "deliveries", "retry", "--config", cfg, list.Deliveries[0].ID)
	if !testutil.WaitFor(10*time.Second, func() bool { return delivered("quiet-1") }) {
		t.Errorf("the silenced delivery, retried by hand, was not sent\n%s", p.logTail())
	}

	runCLI(t, bin, "silence", "expire", "--config", cfg, sl.ID)
	time.Sleep(applied)
	postTest(t, listen, "quiet-2", "failure", true)
	if !testutil.WaitFor(10*time.Second, func() bool { return delivered("quiet-2") }) {
		t.Errorf("a silence expired by command still applies\n%s", p.logTail())
	}

	// One that ends on its own.
	runCLI(t, bin, "silence", "add", "--config", cfg, "--match", `subject startsWith "quiet"`, "--for", "5s", "--comment", "short")
	time.Sleep(applied)
	postTest(t, listen, "quiet-3", "failure", true)
	time.Sleep(4 * time.Second) // the silence ends
	postTest(t, listen, "quiet-4", "failure", true)
	if !testutil.WaitFor(10*time.Second, func() bool { return delivered("quiet-4") }) {
		t.Errorf("a silence that ended still applies\n%s", p.logTail())
	}
	if delivered("quiet-3") {
		t.Error("quiet-3, posted while the short silence was in force, was sent")
	}
}

// silenceConfig sends every event to the webhook.
func silenceConfig(listen, admin, store, hook string) string {
	return fmt.Sprintf(`listen: %s
admin: %s
store: %q
receivers:
  t: {type: test}
sinks:
  hook:
    type: webhook
    url: %s
    retry: {initial_backoff: 100ms, max_backoff: 1s}
rules:
  - {name: all, when: "true", to: [hook]}
`, listen, admin, store, hook)
}

// A silence added through one instance's configuration applies within a
// second on another instance on the same Postgres.
func TestProcessSilenceTwoInstances(t *testing.T) {
	in := startInstances(t, 2, silenceConfig)
	runCLI(t, in.bin, "silence", "add", "--config", in.cfgs[0], "--match", `subject == "quiet"`, "--for", "1h", "--comment", "known")
	time.Sleep(2 * time.Second) // every instance reads the silences each second
	postTest(t, in.listens[1], "quiet", "failure", true)
	postTest(t, in.listens[1], "loud", "failure", true)
	if !testutil.WaitFor(10*time.Second, func() bool { n, _ := in.own.count("test", "loud"); return n > 0 }) {
		t.Fatal("the delivery the silence does not match was not sent")
	}
	var list struct {
		Deliveries []struct{ Subject, State string }
	}
	out := runCLI(t, in.bin, "deliveries", "list", "--config", in.cfgs[0], "--json", "--state", "silenced")
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Deliveries) != 1 || list.Deliveries[0].Subject != "quiet" {
		t.Errorf("silenced deliveries: %s (%v), want quiet's", out, err)
	}
	if n, _ := in.own.count("test", "quiet"); n != 0 {
		t.Error("the silenced delivery was sent")
	}
}

// runCLIErr runs the binary with args and returns its error.
func runCLIErr(bin string, args ...string) error {
	return execCommand(bin, args...).Run()
}
