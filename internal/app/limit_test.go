package app

import (
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/rules"
)

// chanListener is a listener whose connections come from a channel.
type chanListener struct {
	conns     chan net.Conn
	closeOnce sync.Once
	done      chan struct{}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return &net.TCPAddr{} }

// With max_connections: 2, a third connection waits to be accepted until
// one of the first two closes; closing the listener ends a waiting Accept.
func TestLimitListener(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inner := &chanListener{conns: make(chan net.Conn, 3), done: make(chan struct{})}
		ln := newLimitListener(inner, 2)
		var mu sync.Mutex
		var accepted []net.Conn
		var acceptErr error
		go func() {
			for {
				c, err := ln.Accept()
				mu.Lock()
				if err != nil {
					acceptErr = err
					mu.Unlock()
					return
				}
				accepted = append(accepted, c)
				mu.Unlock()
			}
		}()
		count := func() int {
			mu.Lock()
			defer mu.Unlock()
			return len(accepted)
		}
		for range 3 {
			c, _ := net.Pipe()
			inner.conns <- c
		}
		synctest.Wait()
		if n := count(); n != 2 {
			t.Fatalf("accepted %d connections at once, want 2", n)
		}
		mu.Lock()
		first := accepted[0]
		mu.Unlock()
		first.Close()
		first.Close() // a second Close gives back nothing more
		synctest.Wait()
		if n := count(); n != 3 {
			t.Fatalf("after one closed: %d accepted, want 3", n)
		}
		ln.Close()
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if !errors.Is(acceptErr, net.ErrClosed) {
			t.Errorf("Accept after Close: %v, want net.ErrClosed", acceptErr)
		}
	})
}

func TestMaxConnectionsConfig(t *testing.T) {
	for src, want := range map[string]int{"listen: \":8080\"": config.DefaultMaxConnections, "max_connections: 32": 32} {
		f, err := rules.Parse("rules.yaml", strings.NewReader(src), func(string) (string, bool) { return "", false })
		if err != nil || f.MaxConnections != want {
			t.Errorf("%s: max connections %v, %v; want %d", src, f.MaxConnections, err, want)
		}
	}
	if _, err := rules.Parse("rules.yaml", strings.NewReader("max_connections: -1"), func(string) (string, bool) { return "", false }); err == nil || !strings.Contains(err.Error(), "max_connections must be positive") {
		t.Errorf("negative max_connections: %v", err)
	}
}
