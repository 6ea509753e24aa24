package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// buildServe builds ./cmd/switchboard of the module the working directory
// is in into dir and returns the binary's path.
func buildServe(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module: run go run ./bench from the Switchboard repository")
	}
	bin := filepath.Join(dir, "switchboard")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/switchboard")
	build.Dir = filepath.Dir(gomod)
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/switchboard in %s: %w\n%s", build.Dir, err, out)
	}
	return bin, nil
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// configFor is the configuration of one serve instance: the receiver under
// test at /hooks/<receiver>, one sink and one rule sending every event to it.
func configFor(o *options, listen, admin, store, hookURL string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen: %q\nadmin: %q\nstore: %q\n", listen, admin, store)
	b.WriteString("receivers:\n")
	if o.Receiver == "telesign" {
		fmt.Fprintf(&b, "  telesign:\n    type: telesign\n    customer_id: %q\n    api_key: %q\n", telesignCustomer, telesignAPIKey)
	} else {
		b.WriteString("  interfax:\n    type: interfax\n    unauthenticated: true\n")
	}
	b.WriteString("sinks:\n  out:\n")
	if o.Sink == "log" {
		// warn, so the lines pass serve's --log-level warn and are
		// written (to a file): the sink does its real work.
		b.WriteString("    type: log\n    level: warn\n")
	} else {
		fmt.Fprintf(&b, "    type: webhook\n    url: %q\n", hookURL)
	}
	if o.SinkConc > 0 {
		fmt.Fprintf(&b, "    concurrency: %d\n", o.SinkConc)
	}
	b.WriteString("rules:\n  - name: all\n    when: \"true\"\n    to: [out]\n")
	// ${ starts an expansion in the config; none of ours is meant so.
	return strings.ReplaceAll(b.String(), "${", "$${")
}

// instance is one running serve process.
type instance struct {
	cmd    *exec.Cmd
	listen string
	admin  string
	log    string
	done   chan struct{}
	err    error // of Wait, once done is closed
}

// startInstance starts serve with the configuration cfg, its output going
// to logPath. ctx ending kills it.
func startInstance(ctx context.Context, bin, cfg, logPath, listen, admin string) (*instance, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, "serve", "--config", cfg, "--watch=false", "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &instance{cmd: cmd, listen: listen, admin: admin, log: logPath, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.err = cmd.Wait()
		logf.Close()
	}()
	return p, nil
}

// waitReady polls /readyz until it answers 200.
func (p *instance) waitReady(ctx context.Context, c *http.Client, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.admin+"/readyz", nil)
		if err != nil {
			return err
		}
		if resp, err := c.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("serve exited before it was ready: %v\n%s", p.err, p.logTail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("serve not ready after %s (admin %s)\n%s", limit, p.admin, p.logTail())
		}
	}
}

// exited reports an error if the process is gone.
func (p *instance) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("serve (admin %s) exited during the run: %v\n%s", p.admin, p.err, p.logTail())
	default:
		return nil
	}
}

// stop asks serve to stop (SIGTERM), then kills it after a few seconds: by
// then the measurement is over and a graceful exit is not the point.
func (p *instance) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// peakRSS is the process's VmHWM in bytes: the most resident memory it had.
func (p *instance) peakRSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc/<pid>/status")
}

// logTail returns the end of the process's output, for error messages.
func (p *instance) logTail() string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return err.Error()
	}
	const keep = 4 << 10
	if len(b) > keep {
		b = b[len(b)-keep:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return "--- end of " + p.log + " ---\n" + string(b)
}

// createDatabase creates a fresh database on the Postgres server of
// serverURL and returns its URL and a function that drops it.
func createDatabase(ctx context.Context, serverURL string) (string, func(), error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", nil, fmt.Errorf("-store: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, serverURL)
	if err != nil {
		return "", nil, fmt.Errorf("connect to %s: %w", redactURL(serverURL), err)
	}
	defer conn.Close(context.Background())
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "sb_bench_" + hex.EncodeToString(b)
	if _, err := conn.Exec(cctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	drop := func() {
		dctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		conn, err := pgx.Connect(dctx, serverURL)
		if err == nil {
			defer conn.Close(context.Background())
			_, err = conn.Exec(dctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: drop database %s: %v (drop it by hand)\n", name, err)
		}
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}

// redactURL hides a URL's password.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<unparsable URL>"
	}
	return u.Redacted()
}
