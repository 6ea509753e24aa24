package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/testutil"
)

// TestPostgresOutage cuts serve off from its Postgres (through a proxy)
// at start and again while it runs: it waits for the database at start
// instead of exiting, answers callbacks with 503 and /readyz with 503 while
// the database is unreachable, keeps running, and recovers by itself when
// the database is back; every acknowledged callback is delivered.
func TestPostgresOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	dsn, _ := testPostgresSchema(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newProxy(t, u.Host)
	u.Host = proxy.addr
	bin := buildBinary(t)
	dir := t.TempDir()
	hook := newLeaseRecorder(0)
	hookSrv := httptest.NewServer(hook)
	t.Cleanup(hookSrv.Close)
	listen, admin := freeAddr(t), freeAddr(t)
	cfg := filepath.Join(dir, "rules.yaml")
	writeFile(t, cfg, fmt.Sprintf(multiConfig, listen, admin, u.String(), hookSrv.URL, time.Second, time.Second))

	client := &http.Client{Timeout: 10 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	post := func(subject string) int {
		body := fmt.Sprintf(`{"subject":%q,"status":"success","code":0,"final":true}`, subject)
		resp, err := client.Post("http://"+listen+"/hooks/t", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatalf("callback %s: %v", subject, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	ready := func() int {
		resp, err := client.Get("http://" + admin + "/readyz")
		if err != nil {
			t.Fatalf("readyz: %v", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	// The database is down when serve starts: it waits.
	p := startProcess(t, bin, cfg, filepath.Join(dir, "serve.log"))
	waitLog(t, p, "store not reachable, retrying", 10*time.Second)
	proxy.up(t)
	p.waitReady(t, admin, 20*time.Second)

	var acked []string
	for i := range 20 {
		s := fmt.Sprintf("before-%02d", i)
		if code := post(s); code != http.StatusOK {
			t.Fatalf("callback %s: %d, want 200", s, code)
		}
		acked = append(acked, s)
	}

	// The database goes away: 503, not ready, still running.
	proxy.down()
	for i := range 5 {
		if code := post(fmt.Sprintf("during-%02d", i)); code != http.StatusServiceUnavailable {
			t.Errorf("callback while the database is unreachable: %d, want 503", code)
		}
	}
	if code := ready(); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz while the database is unreachable: %d, want 503", code)
	}
	select {
	case <-p.done:
		t.Fatalf("serve exited when the database went away: %v\n%s", p.err, p.logTail())
	case <-time.After(2 * time.Second): // the workers' claims fail meanwhile
	}

	// It comes back: so does serve, without a restart.
	proxy.up(t)
	deadline := time.Now().Add(15 * time.Second)
	next, code := 0, 0
	recovered := testutil.WaitFor(time.Until(deadline), func() bool {
		for len(acked) < 40 {
			s := fmt.Sprintf("after-%02d", next)
			next++
			if code = post(s); code != http.StatusOK {
				return false
			}
			acked = append(acked, s)
		}
		return true
	})
	if !recovered {
		t.Fatalf("callbacks still answered %d 15s after the database came back\n%s", code, p.logTail())
	}
	if code := ready(); code != http.StatusOK {
		t.Errorf("/readyz after the database came back: %d, want 200", code)
	}
	var missing []string
	if !testutil.WaitFor(time.Until(deadline), func() bool { missing = hook.missing(acked); return len(missing) == 0 }) {
		t.Fatalf("%d acknowledged callbacks not delivered: %v\n%s", len(missing), missing, p.logTail())
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.wait(t, 25*time.Second)
	if p.err != nil {
		t.Errorf("exit after SIGTERM: %v, want 0\n%s", p.err, p.logTail())
	}
}

// waitLog waits until the process's output contains s.
func waitLog(t *testing.T, p *process, s string, limit time.Duration) {
	t.Helper()
	logged := testutil.WaitFor(limit, func() bool {
		if strings.Contains(p.logTail(), s) {
			return true
		}
		p.mustRun(t, "serve exited")
		return false
	})
	if !logged {
		t.Fatalf("no %q in the log after %s\n%s", s, limit, p.logTail())
	}
}
