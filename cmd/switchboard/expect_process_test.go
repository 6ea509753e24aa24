package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/testutil"
)

// expectConfig is a configuration with one expectation of within (a final
// status for a pending test event) and a rule sending Switchboard's own
// events to the webhook at hook.
const expectConfig = `listen: %s
admin: %s
store: %q
expect_grace: 0s
receivers:
  t: {type: test%s}
sinks:
  hook:
    type: webhook
    url: %s
    retry: {initial_backoff: 100ms, max_backoff: 1s}
expect:
  - name: final-in-time
    after: status == "pending"
    then: final
    within: %s
rules:
  - {name: own, when: source == "switchboard", to: [hook]}
`

// ownEvents records Switchboard's own events posted to the webhook.
type ownEvents struct {
	mu   sync.Mutex
	got  []ownEvent
	seen map[string]time.Time // type + " " + subject → first arrival
}

type ownEvent struct {
	ID      string         `json:"id"`
	Source  string         `json:"source"`
	Type    string         `json:"type"`
	Subject string         `json:"subject"`
	Data    map[string]any `json:"data"`
}

func newOwnEvents(t *testing.T) (*ownEvents, string) {
	o := &ownEvents{seen: map[string]time.Time{}}
	srv := httptest.NewServer(o)
	t.Cleanup(srv.Close)
	return o, srv.URL
}

func (o *ownEvents) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var ev ownEvent
	if err := json.NewDecoder(r.Body).Decode(&ev); err == nil {
		o.mu.Lock()
		o.got = append(o.got, ev)
		if _, ok := o.seen[ev.Type+" "+ev.Subject]; !ok {
			o.seen[ev.Type+" "+ev.Subject] = time.Now()
		}
		o.mu.Unlock()
	}
	w.WriteHeader(http.StatusOK)
}

// count returns how many events of typ for subject arrived, and the first
// one's time.
func (o *ownEvents) count(typ, subject string) (int, time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, ev := range o.got {
		if ev.Type == typ && ev.Subject == subject {
			n++
		}
	}
	return n, o.seen[typ+" "+subject]
}

func (o *ownEvents) first(typ, subject string) ownEvent {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, ev := range o.got {
		if ev.Type == typ && ev.Subject == subject {
			return ev
		}
	}
	return ownEvent{}
}

// ownServe is a switchboard serve set up for these tests: the binary, its
// configuration in a directory of its own, and the webhook that records
// what it sends.
type ownServe struct {
	bin, dir, cfg, listen, admin string
	own                          *ownEvents
}

// newOwnServe builds the binary and writes the configuration config makes
// from the addresses, the store file and the webhook's URL.
func newOwnServe(t *testing.T, config func(listen, admin, store, hook string) string) *ownServe {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	s := &ownServe{bin: buildBinary(t), dir: t.TempDir(), listen: freeAddr(t), admin: freeAddr(t)}
	var hook string
	s.own, hook = newOwnEvents(t)
	s.cfg = filepath.Join(s.dir, "rules.yaml")
	writeFile(t, s.cfg, config(s.listen, s.admin, filepath.Join(s.dir, "sb.db"), hook))
	return s
}

// expecting is expectConfig with receiver settings extra and the
// expectation's within.
func expecting(extra string, within time.Duration) func(listen, admin, store, hook string) string {
	return func(listen, admin, store, hook string) string {
		return fmt.Sprintf(expectConfig, listen, admin, store, extra, hook, within)
	}
}

// start starts serve, logging to logName, and waits until it is ready.
func (s *ownServe) start(t *testing.T, logName string) *process {
	t.Helper()
	p := startProcess(t, s.bin, s.cfg, filepath.Join(s.dir, logName))
	p.waitReady(t, s.admin, 10*time.Second)
	return p
}

func postTest(t *testing.T, listen, subject, status string, final bool) {
	t.Helper()
	body := fmt.Sprintf(`{"subject":%q,"status":%q,"code":0,"final":%t}`, subject, status, final)
	resp, err := http.Post("http://"+listen+"/hooks/t", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("callback %s %s: %s", subject, status, resp.Status)
	}
}

// A pending event with no final status in time produces expectation.missed
// at the webhook within `within` + 2s; one whose final status came in time
// produces none; the timer is gone once fired.
func TestProcessExpectationMissed(t *testing.T) {
	const within = 2 * time.Second
	s := newOwnServe(t, expecting("", within))
	p := s.start(t, "run.log")
	own, listen := s.own, s.listen

	postTest(t, listen, "answered", "pending", false)
	postTest(t, listen, "lost", "pending", false)
	sent := time.Now()
	postTest(t, listen, "answered", "success", true)

	if !testutil.WaitFor(within+2*time.Second-time.Since(sent), func() bool { n, _ := own.count("expectation.missed", "lost"); return n > 0 }) {
		t.Fatalf("no expectation.missed for lost within %s\n%s", within+2*time.Second, p.logTail())
	}
	ev := own.first("expectation.missed", "lost")
	last, _ := ev.Data["last_event"].(map[string]any)
	if ev.Source != "switchboard" || ev.Data["expectation"] != "final-in-time" || ev.Data["started_at"] == nil || last["status"] != "pending" {
		t.Errorf("expectation.missed = %+v; want source switchboard, the expectation, its start and the last (pending) event", ev)
	}
	// The answered subject's timer was due before lost's: had it not been
	// cancelled it would have fired in the same round or an earlier one.
	if n, _ := own.count("expectation.missed", "answered"); n != 0 {
		t.Errorf("expectation.missed for answered, whose final status came in time")
	}
	out := runCLI(t, s.bin, "expectations", "list", "--config", s.cfg, "--json")
	if !strings.Contains(out, `"open": 0`) {
		t.Errorf("expectations list after firing: %s", out)
	}
}

// runCLI runs the binary with args and returns its standard output.
func runCLI(t *testing.T, bin string, args ...string) string {
	t.Helper()
	var stdout, stderr strings.Builder
	cmd := execCommand(bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("switchboard %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// A timer open when the process is killed fires once after a restart that
// comes after it expired.
func TestProcessExpectationKillNine(t *testing.T) {
	const within = 2 * time.Second
	s := newOwnServe(t, expecting("", within))
	p1 := s.start(t, "run1.log")
	own, listen := s.own, s.listen
	postTest(t, listen, "k", "pending", false)
	if err := p1.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	p1.wait(t, 10*time.Second)
	if n, _ := own.count("expectation.missed", "k"); n != 0 {
		t.Fatal("fired before the kill")
	}
	if out := runCLI(t, s.bin, "expectations", "list", "--config", s.cfg, "--json"); !strings.Contains(out, `"open": 1`) {
		t.Fatalf("expectations list while stopped: %s", out)
	}
	time.Sleep(within + 3*time.Second) // the timer expires while nothing runs, and is late
	p2 := s.start(t, "run2.log")
	if !testutil.WaitFor(15*time.Second, func() bool { n, _ := own.count("expectation.missed", "k"); return n > 0 }) {
		t.Fatalf("the timer did not fire after the restart\n%s", p2.logTail())
	}
	if !strings.Contains(p2.logTail(), "fired late") {
		t.Errorf("the late firing was not logged with its delay\n%s", p2.logTail())
	}
	time.Sleep(2 * time.Second) // rounds that would fire it again
	if n, _ := own.count("expectation.missed", "k"); n != 1 {
		t.Errorf("fired %d times, want once", n)
	}
}

// instances are serve processes on one Postgres schema, their webhook
// shared.
type instances struct {
	bin           string
	cfgs, listens []string
	own           *ownEvents
}

// startInstances starts n serve processes on a new Postgres schema (or
// skips t without one), each with the configuration config makes.
func startInstances(t *testing.T, n int, config func(listen, admin, store, hook string) string) *instances {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	dsn, _ := testPostgresSchema(t)
	in := &instances{bin: buildBinary(t)}
	dir := t.TempDir()
	var hook string
	in.own, hook = newOwnEvents(t)
	for i := range n {
		listen, admin := freeAddr(t), freeAddr(t)
		cfg := filepath.Join(dir, fmt.Sprintf("rules%d.yaml", i))
		writeFile(t, cfg, config(listen, admin, dsn, hook))
		p := startProcess(t, in.bin, cfg, filepath.Join(dir, fmt.Sprintf("run%d.log", i)))
		p.waitReady(t, admin, 20*time.Second)
		in.cfgs, in.listens = append(in.cfgs, cfg), append(in.listens, listen)
	}
	return in
}

// Two instances on one Postgres fire each timer once.
func TestProcessExpectationTwoInstances(t *testing.T) {
	const within = 2 * time.Second
	in := startInstances(t, 2, expecting("", within))
	own, listens := in.own, in.listens
	const n = 40
	for i := range n {
		postTest(t, listens[i%2], fmt.Sprintf("s%02d", i), "pending", false)
	}
	all := func() bool {
		for i := range n {
			if c, _ := own.count("expectation.missed", fmt.Sprintf("s%02d", i)); c == 0 {
				return false
			}
		}
		return true
	}
	if !testutil.WaitFor(within+15*time.Second, all) {
		t.Fatal("not every timer fired")
	}
	time.Sleep(2 * time.Second) // rounds of both instances that would fire again
	for i := range n {
		if c, _ := own.count("expectation.missed", fmt.Sprintf("s%02d", i)); c != 1 {
			t.Errorf("s%02d: expectation.missed delivered %d times, want once", i, c)
		}
	}
}

// A receiver with a short expect_traffic emits receiver.silent once when
// no callback comes, and receiver.resumed on the next one.
func TestProcessReceiverSilent(t *testing.T) {
	s := newOwnServe(t, expecting(", expect_traffic: 2s", time.Hour))
	p := s.start(t, "run.log")
	own, listen := s.own, s.listen
	if !testutil.WaitFor(10*time.Second, func() bool { c, _ := own.count("receiver.silent", "t"); return c > 0 }) {
		t.Fatalf("no receiver.silent\n%s", p.logTail())
	}
	time.Sleep(3 * time.Second) // longer than expect_traffic again: still once
	if c, _ := own.count("receiver.silent", "t"); c != 1 {
		t.Errorf("receiver.silent delivered %d times, want once", c)
	}
	if c, _ := own.count("receiver.resumed", "t"); c != 0 {
		t.Fatal("resumed before any callback")
	}
	postTest(t, listen, "x", "success", true)
	if !testutil.WaitFor(10*time.Second, func() bool { c, _ := own.count("receiver.resumed", "t"); return c > 0 }) {
		t.Fatalf("no receiver.resumed after a callback\n%s", p.logTail())
	}
}

var execCommand = exec.Command
