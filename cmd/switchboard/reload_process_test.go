package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/testutil"
)

// pathRecorder records the subject of every event posted to it, by path.
type pathRecorder struct {
	mu   sync.Mutex
	seen map[string][]string // path → subjects
}

func (p *pathRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var ev struct {
		Subject string `json:"subject"`
	}
	_ = json.NewDecoder(r.Body).Decode(&ev)
	p.mu.Lock()
	p.seen[r.URL.Path] = append(p.seen[r.URL.Path], ev.Subject)
	p.mu.Unlock()
}

func (p *pathRecorder) has(path, subject string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.seen[path] {
		if s == subject {
			return true
		}
	}
	return false
}

// reloadConfig routes events matching when to the webhook at hook+path.
func reloadConfig(listen, admin, store, hook, when, path string) string {
	return fmt.Sprintf(`listen: %s
admin: %s
store: %s
receivers:
  t: {type: test}
sinks:
  a: {type: webhook, url: "%s/a", retry: {initial_backoff: 100ms}}
  b: {type: webhook, url: "%s/b", retry: {initial_backoff: 100ms}}
rules:
  - name: r
    when: %s
    to: [%s]
`, listen, admin, store, hook, hook, when, path)
}

func startServe(t *testing.T, bin, logPath string, args ...string) *process {
	t.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: exec.Command(bin, append([]string{"serve"}, args...)...), log: logPath, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
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
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				_ = p.cmd.Process.Kill()
				<-p.done
			}
		}
	})
	return p
}

func postStatus(t *testing.T, listen, subject, status string) {
	t.Helper()
	resp, err := http.Post("http://"+listen+"/hooks/t", "application/json",
		strings.NewReader(fmt.Sprintf(`{"subject":%q,"status":%q,"final":true}`, subject, status)))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("callback %s: %d", subject, resp.StatusCode)
	}
}

func waitUntil(t *testing.T, p *process, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	if !testutil.WaitFor(limit, cond) {
		t.Fatalf("not within %s: %s\n%s", limit, what, p.logTail())
	}
}

// As a user would: edit the running service's rules file and the next
// callback routes by the new rule within 2 s, with no restart; break the
// file and callbacks still route by the last good rules while the error is
// logged with its line; with --watch=false, SIGHUP reloads.
func TestProcessReload(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	bin := buildBinary(t)
	hook := &pathRecorder{seen: map[string][]string{}}
	hookSrv := httptest.NewServer(hook)
	t.Cleanup(hookSrv.Close)

	t.Run("file watch", func(t *testing.T) {
		dir := t.TempDir()
		listen, admin, store := freeAddr(t), freeAddr(t), filepath.Join(dir, "sb.db")
		cfg := filepath.Join(dir, "rules.yaml")
		writeFile(t, cfg, reloadConfig(listen, admin, store, hookSrv.URL, `status == "failure"`, "a"))
		p := startServe(t, bin, filepath.Join(dir, "serve.log"), "--config", cfg, "--log-format", "text")
		p.waitReady(t, admin, 10*time.Second)
		postStatus(t, listen, "w1", "failure")
		waitUntil(t, p, 10*time.Second, "w1 delivered to a", func() bool { return hook.has("/a", "w1") })

		// Change the rule in place; keep sending successes until one is
		// routed by the new rule.
		writeFile(t, cfg, reloadConfig(listen, admin, store, hookSrv.URL, `status == "success"`, "b"))
		changed := time.Now()
		n := 0
		waitUntil(t, p, 2*time.Second, "a callback routed by the new rule", func() bool {
			n++
			postStatus(t, listen, fmt.Sprintf("w2-%d", n), "success")
			for i := 1; i <= n; i++ { // delivery is asynchronous
				if hook.has("/b", fmt.Sprintf("w2-%d", i)) {
					return true
				}
			}
			return false
		})
		t.Logf("routed by the new rule %s after the write", time.Since(changed).Round(time.Millisecond))

		// Break it: the error with its line is logged, the last good rules
		// keep routing.
		writeFile(t, cfg, reloadConfig(listen, admin, store, hookSrv.URL, `status ==`, "b"))
		waitUntil(t, p, 5*time.Second, "the reload error logged", func() bool {
			return strings.Contains(p.logTail(), "reload failed, keeping the running configuration")
		})
		if !strings.Contains(p.logTail(), `rules.yaml:11: rule \"r\": when: unexpected token EOF`) {
			t.Errorf("the error in the log lacks its line:\n%s", p.logTail())
		}
		postStatus(t, listen, "w3", "success")
		waitUntil(t, p, 10*time.Second, "w3 delivered by the last good rule", func() bool { return hook.has("/b", "w3") })
	})

	t.Run("SIGHUP", func(t *testing.T) {
		dir := t.TempDir()
		listen, admin, store := freeAddr(t), freeAddr(t), filepath.Join(dir, "sb.db")
		cfg := filepath.Join(dir, "rules.yaml")
		writeFile(t, cfg, reloadConfig(listen, admin, store, hookSrv.URL, `status == "failure"`, "a"))
		p := startServe(t, bin, filepath.Join(dir, "serve.log"), "--config", cfg, "--watch=false")
		p.waitReady(t, admin, 10*time.Second)
		writeFile(t, cfg, reloadConfig(listen, admin, store, hookSrv.URL, `status == "success"`, "b"))
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, p, 5*time.Second, "the reload on SIGHUP", func() bool { return strings.Contains(p.logTail(), "configuration reloaded") })
		postStatus(t, listen, "h2", "success")
		waitUntil(t, p, 10*time.Second, "h2 delivered by the new rule", func() bool { return hook.has("/b", "h2") })
		if strings.Contains(p.logTail(), "configuration file changed") {
			t.Errorf("the file was watched despite --watch=false:\n%s", p.logTail())
		}
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		p.wait(t, 30*time.Second)
	})
}
