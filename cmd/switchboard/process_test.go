package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/internal/testutil"
)

// TestProcessKillNine runs the real binary, kills it with SIGKILL while
// callbacks are being acknowledged, restarts it on the same store and checks
// that every acknowledged callback is delivered to the webhook sink: a 200
// comes only after the event and its deliveries are durable, and delivery
// is at least once.
func TestProcessKillNine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	const (
		clients     = 16
		ackedBefore = 300 // acknowledged callbacks before the kill
		receiver    = "t"
		status      = "success"
		// leaseMargin is deliver.Options.LeaseMargin's default, which serve
		// does not let the configuration change. Deliveries claimed by the
		// killed process are due again only after the sink timeout plus
		// this margin.
		leaseMargin = 30 * time.Second
		sinkTimeout = 2 * time.Second
	)
	bin := buildBinary(t)
	dir := t.TempDir()

	hook := newHookRecorder()
	hookSrv := httptest.NewServer(hook)
	t.Cleanup(hookSrv.Close)

	listen, admin := freeAddr(t), freeAddr(t)
	cfg := filepath.Join(dir, "rules.yaml")
	writeFile(t, cfg, fmt.Sprintf(`listen: %s
admin: %s
store: %s
receivers:
  %s: {type: test}
sinks:
  hook:
    type: webhook
    url: %s
    timeout: %s
    retry: {initial_backoff: 100ms, max_backoff: 1s}
rules:
  - {name: all, when: "true", to: [hook]}
`, listen, admin, filepath.Join(dir, "sb.db"), receiver, hookSrv.URL, sinkTimeout))

	p1 := startProcess(t, bin, cfg, filepath.Join(dir, "run1.log"))
	p1.waitReady(t, admin, 10*time.Second)

	// Clients send callbacks, each with its own subject, until told to stop
	// or until their connection fails (the kill).
	var (
		mu      sync.Mutex
		acked   []string // subjects answered 200
		nAcked  atomic.Int64
		refused = map[int]int{} // non-200 answers by status, before the kill
	)
	ackedEnough := make(chan struct{})
	var ackedOnce sync.Once
	stop := make(chan struct{})
	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: clients, DisableCompression: true},
	}
	t.Cleanup(client.CloseIdleConnections)
	hooksURL := "http://" + listen + "/hooks/" + receiver
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 100_000; n++ {
				select {
				case <-stop:
					return
				default:
				}
				subject := fmt.Sprintf("c%02d-%05d", c, n)
				body := fmt.Sprintf(`{"subject":%q,"status":%q,"code":0,"final":true}`, subject, status)
				resp, err := client.Post(hooksURL, "application/json", strings.NewReader(body))
				if err != nil {
					return // the process is gone: this callback is not acknowledged
				}
				reply, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					mu.Lock()
					refused[resp.StatusCode]++
					mu.Unlock()
					continue
				}
				// The status line is the acknowledgement: it is written only
				// after the commit, so it counts even if the body is cut off.
				if rerr == nil && strings.TrimSpace(string(reply)) != `{"ok":true,"events":1}` {
					t.Errorf("callback %s: reply %q, want {\"ok\":true,\"events\":1}", subject, reply)
				}
				mu.Lock()
				acked = append(acked, subject)
				mu.Unlock()
				if nAcked.Add(1) >= ackedBefore {
					ackedOnce.Do(func() { close(ackedEnough) })
				}
			}
		}()
	}
	stopClients := func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}
	t.Cleanup(stopClients)

	select {
	case <-ackedEnough:
	case <-p1.done:
		stopClients()
		t.Fatalf("switchboard exited early: %v\n%s", p1.err, p1.logTail())
	case <-time.After(30 * time.Second):
		stopClients()
		t.Fatalf("only %d callbacks acknowledged in 30s (refused: %v)\n%s", nAcked.Load(), refused, p1.logTail())
	}
	if err := p1.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill: %v", err)
	}
	p1.wait(t, 10*time.Second)
	// The clients' next requests fail to connect; the ones in flight at the
	// kill fail too. None of those was acknowledged.
	stopClients()

	mu.Lock()
	want := slices.Clone(acked)
	mu.Unlock()
	t.Logf("%d callbacks acknowledged before the kill; %d delivered before it; refused: %v",
		len(want), hook.unique(), refused)

	p2 := startProcess(t, bin, cfg, filepath.Join(dir, "run2.log"))
	p2.waitReady(t, admin, 10*time.Second)

	// Deliveries in flight at the kill stay leased to the dead process for
	// the sink timeout plus the lease margin.
	start := time.Now()
	var missing []string
	testutil.WaitFor(sinkTimeout+leaseMargin+15*time.Second, func() bool {
		if missing = hook.missing(want); len(missing) == 0 {
			return true
		}
		p2.mustRun(t, "restarted switchboard exited")
		return false
	})
	if len(missing) > 0 {
		sort.Strings(missing)
		list := strings.Join(missing[:min(len(missing), 50)], " ")
		if len(missing) > 50 {
			list += fmt.Sprintf(" … and %d more", len(missing)-50)
		}
		t.Errorf("%d of %d acknowledged callbacks never delivered after the restart (waited %s): %s\nfirst run:\n%s\nsecond run:\n%s",
			len(missing), len(want), time.Since(start).Round(time.Millisecond), list, p1.logTail(), p2.logTail())
	} else {
		t.Logf("every acknowledged callback delivered %s after the restart", time.Since(start).Round(time.Millisecond))
	}
	for _, msg := range hook.wrongIDs(receiver, status) {
		t.Error(msg)
	}
	received, unique := hook.counts()
	t.Logf("webhook received %d requests for %d events: %d duplicates (allowed: at least once)", received, unique, received-unique)

	if err := p2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	p2.wait(t, 15*time.Second)
	if p2.err != nil {
		t.Errorf("after SIGTERM switchboard exited with %v, want 0\n%s", p2.err, p2.logTail())
	}
}

// buildBinary builds switchboard with the test receiver into a temporary
// directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		t.Fatal("not inside a module")
	}
	bin := filepath.Join(t.TempDir(), "switchboard")
	build := exec.Command("go", "build", "-tags", "switchboard_testreceiver", "-o", bin, "./cmd/switchboard")
	build.Dir = filepath.Dir(gomod)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// process is one running switchboard serve.
type process struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed when the process has exited
	err  error         // its exit error, set before done is closed
}

func startProcess(t *testing.T, bin, cfg, logPath string) *process {
	t.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: exec.Command(bin, "serve", "--config", cfg), log: logPath, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start: %v", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits for the process to exit.
func (p *process) wait(t *testing.T, limit time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(limit):
		t.Fatalf("switchboard still running %s after being told to stop\n%s", limit, p.logTail())
	}
}

// waitReady polls /readyz until it answers 200.
func (p *process) waitReady(t *testing.T, admin string, limit time.Duration) {
	t.Helper()
	c := &http.Client{Timeout: time.Second}
	defer c.CloseIdleConnections()
	ready := testutil.WaitFor(limit, func() bool {
		resp, err := c.Get("http://" + admin + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
		p.mustRun(t, "switchboard exited before it was ready")
		return false
	})
	if !ready {
		t.Fatalf("switchboard not ready after %s\n%s", limit, p.logTail())
	}
}

// mustRun fails the test, saying what, if the process has exited.
func (p *process) mustRun(t *testing.T, what string) {
	t.Helper()
	select {
	case <-p.done:
		t.Fatalf("%s: %v\n%s", what, p.err, p.logTail())
	default:
	}
}

// logTail returns the end of the process's output, for failure messages.
func (p *process) logTail() string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return err.Error()
	}
	const keep = 8 << 10
	if len(b) > keep {
		b = append([]byte("…"), b[len(b)-keep:]...)
	}
	return string(b)
}

// hookRecorder is the webhook sink's destination: it records the subject
// and id of every event posted to it.
type hookRecorder struct {
	mu       sync.Mutex
	ids      map[string]string // subject → event id
	received int
	bad      []string
}

func newHookRecorder() *hookRecorder { return &hookRecorder{ids: map[string]string{}} }

func (h *hookRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var ev struct {
		ID      string `json:"id"`
		Subject string `json:"subject"`
	}
	err := json.NewDecoder(r.Body).Decode(&ev)
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case r.Method != http.MethodPost:
		h.bad = append(h.bad, "method "+r.Method)
	case err != nil:
		h.bad = append(h.bad, "malformed event JSON: "+err.Error())
	case ev.ID == "" || ev.Subject == "" || r.Header.Get("webhook-id") == "":
		h.bad = append(h.bad, fmt.Sprintf("event without id, subject or webhook-id: %+v", ev))
	default:
		h.received++
		if prev, ok := h.ids[ev.Subject]; ok && prev != ev.ID {
			h.bad = append(h.bad, fmt.Sprintf("subject %s delivered with ids %s and %s", ev.Subject, prev, ev.ID))
		}
		h.ids[ev.Subject] = ev.ID
	}
	w.WriteHeader(http.StatusOK)
}

// missing returns the subjects in want not delivered yet.
func (h *hookRecorder) missing(want []string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return missingKeys(h.ids, want)
}

// missingKeys returns the keys in want that m lacks, in order.
func missingKeys[V any](m map[string]V, want []string) []string {
	var out []string
	for _, k := range want {
		if _, ok := m[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}

func (h *hookRecorder) unique() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.ids)
}

func (h *hookRecorder) counts() (received, unique int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.received, len(h.ids)
}

// wrongIDs reports malformed requests and events whose id is not the one
// derived from the receiver and the test receiver's dedup key.
func (h *hookRecorder) wrongIDs(receiver, status string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := slices.Clone(h.bad)
	for subject, id := range h.ids {
		if want := event.ID(receiver, fmt.Sprintf("test|%s|0|%s", subject, status)); id != want {
			out = append(out, fmt.Sprintf("subject %s delivered with id %s, want %s", subject, id, want))
		}
	}
	return out
}

// errorLines returns the line numbers of the "rules.yaml:<line>:" error
// lines in check's output.
func errorLines(out string) []int {
	re := regexp.MustCompile(`rules\.yaml:(\d+): `)
	var lines []int
	for _, l := range strings.Split(out, "\n") {
		if m := re.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			lines = append(lines, n)
		}
	}
	return lines
}

func TestCheckThreeMistakes(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		lines []int
	}{{
		name: "sink-retry-key,rule-sink,rule-when",
		yaml: `listen: 127.0.0.1:0
sinks:
  hook:
    type: webhook
    url: http://127.0.0.1:1/x
    retry: {initial_backof: 1s}
rules:
  - name: a
    when: "true"
    to: [nowhere]
  - name: b
    when: status == 1
    to: [hook]
`,
		lines: []int{6, 10, 12},
	}, {
		name: "sink-type-key,rule-sink,rule-when",
		yaml: `listen: 127.0.0.1:0
sinks:
  hook:
    type: webhook
    url: http://127.0.0.1:1/x
    colour: blue
rules:
  - name: a
    when: "true"
    to: [nowhere]
  - name: b
    when: status == 1
    to: [hook]
`,
		lines: []int{6, 10, 12},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "rules.yaml")
			writeFile(t, path, tc.yaml)
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), []string{"check", "--config", path}, &stdout, &stderr)
			var ee exitError
			if !errors.As(err, &ee) {
				t.Fatalf("run: %v, want an exitError (exit 1)\nstderr:\n%s", err, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout: %q, want nothing", stdout.String())
			}
			if got := errorLines(stderr.String()); !slices.Equal(got, tc.lines) {
				t.Errorf("error lines %v, want %v\nstderr:\n%s", got, tc.lines, stderr.String())
			}
			if want := fmt.Sprintf("%s: %d error(s):", path, len(tc.lines)); !strings.HasPrefix(stderr.String(), want) {
				t.Errorf("stderr does not start with %q:\n%s", want, stderr.String())
			}
		})
	}
}

func TestCheckValid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	writeFile(t, path, `listen: 127.0.0.1:0
admin: 127.0.0.1:0
sinks:
  hook:
    type: webhook
    url: http://127.0.0.1:1/x
    retry: {initial_backoff: 100ms, max_backoff: 1s}
  audit:
    type: log
rules:
  - name: all
    when: "true"
    to: [hook, audit]
  - name: failed
    when: status == "failure" && final
    to: [hook]
`)
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"check", "--config", path}, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, stderr.String())
	}
	if want := path + ": OK: 0 receivers, 2 sinks, 2 rules\n"; stdout.String() != want {
		t.Errorf("stdout %q, want %q", stdout.String(), want)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr: %q, want nothing", stderr.String())
	}
}

func TestVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"version"}, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v", err)
	}
	if !regexp.MustCompile(`^switchboard \S+\n$`).MatchString(stdout.String()) {
		t.Errorf("stdout %q, want \"switchboard <version>\\n\"", stdout.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr: %q, want nothing", stderr.String())
	}
}
