package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/deliver"
	"github.com/switchboard/switchboard/internal/expect"
	"github.com/switchboard/switchboard/internal/server"
	"github.com/switchboard/switchboard/internal/store"
)

// Options configure Serve.
type Options struct {
	ConfigPath string
	Log        *slog.Logger
	// Reload delivers reload requests (SIGHUP).
	Reload <-chan struct{}
	// Ready, if set, is called with the bound addresses once serving.
	Ready func(listen, admin string)
	// ShutdownGrace bounds how long in-flight sends may finish at stop.
	// Zero means 20s.
	ShutdownGrace time.Duration
	// Watch reloads the configuration when its file changes.
	Watch bool
	// WatchDebounce is how long the file must stay quiet after a change
	// before it is reloaded. Zero means DefaultWatchDebounce.
	WatchDebounce time.Duration
	// Console, if set, makes the admin web console for the running
	// service; it is served at / on the admin listener, behind the admin
	// token.
	Console func(Running) Pages
}

// service is a running Switchboard.
type service struct {
	opts  Options
	log   *slog.Logger
	st    *store.Store
	srv   *server.Server
	disp  *deliver.Dispatcher
	mu    sync.Mutex // serializes reloads
	built *Built
	ops   *operations // metrics, admin token, retention
	exp   *expect.Runner
	// adminAddr is the address the admin listener is bound to: it stays
	// until a restart, whatever a reload says admin is.
	adminAddr string
}

// Serve runs the service until ctx is done or a listener fails, then stops
// accepting callbacks and lets in-flight work finish (up to
// Options.ShutdownGrace). It returns nil after a shutdown by ctx, and the
// error when the configuration, the store or a listener fails, at start or
// while serving.
func Serve(ctx context.Context, opts Options) error {
	log := opts.Log
	b, err := Load(opts.ConfigPath, log)
	if err != nil {
		return err
	}
	for _, w := range b.Warnings {
		log.Warn(w)
	}
	if w := configModeWarning(opts.ConfigPath, b); w != "" {
		log.Warn(w)
	}
	st, closeStore, err := openStore(ctx, b, log)
	if err != nil {
		return err
	}
	defer closeStore()

	s := start(ctx, opts, st, b)
	stopSilences := s.ops.startSilences(st)
	defer stopSilences()
	hooksLn, adminLn, err := s.listen(b)
	if err != nil {
		s.disp.Stop(context.Background())
		return err
	}
	var wg sync.WaitGroup
	servers, errc := s.serveHTTP(hooksLn, adminLn, &wg)
	// Watch before announcing readiness: a change made once serve is ready
	// is seen.
	fileChanged, stopWatch := s.watch(b.File.Hash, &wg)
	log.Info("switchboard started", "listen", hooksLn.Addr().String(), "admin", adminLn.Addr().String(),
		"store", st.Dialect(), "config", opts.ConfigPath, "config_hash", b.File.Hash,
		"receivers", len(b.File.Receivers), "sinks", len(b.Targets), "rules", len(b.File.Router.Rules()))
	if opts.Ready != nil {
		opts.Ready(hooksLn.Addr().String(), adminLn.Addr().String())
	}
	stopRetention := s.ops.startRetention(st)
	stopExpect := s.exp.Start()

	runErr := s.runUntilStopped(ctx, errc, fileChanged)

	log.Info("shutting down: no new callbacks, finishing in-flight work")
	stopExpect()
	stopRetention()
	stopWatch()
	s.shutdown(servers, &wg)
	log.Info("stopped")
	return runErr
}

// openStore opens the configured store and readies it for this process:
// a SQLite file is locked to it (one serve per file) and created owner-only,
// and the leases a crashed predecessor left are taken over.
func openStore(ctx context.Context, b *Built, log *slog.Logger) (*store.Store, func(), error) {
	var release func()
	if !store.IsPostgres(b.File.Store) {
		var err error
		if release, err = lockStoreFile(strings.TrimPrefix(b.File.Store, "sqlite://")); err != nil {
			return nil, nil, err
		}
		if w, err := PrepareSQLite(b.File.Store); err != nil {
			release()
			return nil, nil, err
		} else if w != "" {
			log.Warn(w)
		}
	}
	closeAll := func(st *store.Store) {
		if st != nil {
			st.Close()
		}
		if release != nil {
			release()
		}
	}
	// A Postgres server that does not answer yet is waited for, with
	// backoff and for a bounded time, rather than failing at once.
	st, err := store.Open(ctx, b.File.Store, store.WithLogger(log))
	if err != nil {
		closeAll(nil)
		return nil, nil, fmt.Errorf("open store: %w", err)
	}
	if st.Dialect() == "sqlite" {
		// One process serves a SQLite store: leases left by a crashed
		// predecessor are ours to take over now.
		if n, err := st.ReleaseLeases(ctx); err != nil {
			closeAll(st)
			return nil, nil, fmt.Errorf("open store: %w", err)
		} else if n > 0 {
			log.Warn("took over deliveries left in flight by a previous run", "deliveries", n)
		}
	}
	return st, func() { closeAll(st) }, nil
}

// start wires the service: the delivery workers, and intake handing its
// deliveries to them.
func start(ctx context.Context, opts Options, st *store.Store, b *Built) *service {
	s := &service{opts: opts, log: opts.Log, st: st, built: b, ops: newOperations(st, opts.Log)}
	s.ops.configLoaded(b, nil)
	s.disp = deliver.New(st, s.log, s.ops.deliverOptions())
	s.exp = expect.New(st, s.log, s.disp, s.disp.Notify, expect.Hooks{
		Fired:  s.ops.metrics.TimerFired,
		Stored: func(res *store.IngestResult) { s.srv.Report(res) },
	})
	m := s.ops.serverMetrics()
	m.Callback = func(receiver, outcome string, d time.Duration) {
		if outcome == server.OutcomeAccepted || outcome == server.OutcomeDuplicate {
			s.exp.Saw(receiver, time.Now()) // for expect_traffic
		}
		s.ops.metrics.Callback(receiver, outcome, d)
	}
	s.srv = server.New(st, s.log, s.disp.Notify, m)
	s.srv.SetHandoff(s.disp)
	b.attach(st)
	s.srv.Swap(b.Routing)
	s.exp.Update(expectConfig(b))
	s.disp.Update(b.Targets)
	s.matchSinks(ctx, b)
	return s
}

// listen binds the callback and admin listeners, and refuses an admin
// listener beyond loopback without a token.
func (s *service) listen(b *Built) (hooks, admin net.Listener, err error) {
	hooksLn, err := net.Listen("tcp", b.File.Listen)
	if err != nil {
		return nil, nil, fmt.Errorf("listen %s: %w", b.File.Listen, err)
	}
	hooksLn = newLimitListener(hooksLn, b.File.MaxConnections)
	adminLn, err := net.Listen("tcp", b.File.Admin)
	if err != nil {
		hooksLn.Close()
		return nil, nil, fmt.Errorf("admin listen %s: %w", b.File.Admin, err)
	}
	s.adminAddr = adminLn.Addr().String()
	if err := s.checkAdminAuth(b); err != nil {
		adminLn.Close()
		hooksLn.Close()
		return nil, nil, err
	}
	return hooksLn, adminLn, nil
}

// serveHTTP serves callbacks and the admin endpoints on their listeners;
// a listener that fails is reported on the returned channel.
func (s *service) serveHTTP(hooksLn, adminLn net.Listener, wg *sync.WaitGroup) ([]*http.Server, <-chan error) {
	admin := s.srv.Admin()
	admin.HandleFunc("POST /-/reload", s.reloadHandler)
	var forms []string
	if s.opts.Console != nil {
		pages := s.opts.Console(Running{s})
		admin.Handle("/", pages.Handler)
		forms = pages.Forms
	}
	servers := []*http.Server{newHTTPServer(s.srv.Handler(), s.log), newHTTPServer(s.ops.admin(admin, config.IsLoopback(s.adminAddr), forms), s.log)}
	errc := make(chan error, 2)
	for i, ln := range []net.Listener{hooksLn, adminLn} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := servers[i].Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	return servers, errc
}

// runUntilStopped reloads the configuration when asked or when its file
// changes, until ctx is done (nil) or a listener fails (its error).
func (s *service) runUntilStopped(ctx context.Context, errc <-chan error, fileChanged <-chan struct{}) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return err
		case <-s.opts.Reload:
			_, _ = s.reload()
		case <-fileChanged:
			_, _ = s.reload()
		}
	}
}

// shutdown stops accepting callbacks, then lets in-flight sends finish
// within the grace period; their outcomes are recorded.
func (s *service) shutdown(servers []*http.Server, wg *sync.WaitGroup) {
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, hs := range servers {
		_ = hs.Shutdown(shutdownCtx)
	}
	wg.Wait()
	grace := s.opts.ShutdownGrace
	if grace <= 0 {
		grace = 20 * time.Second
	}
	graceCtx, cancelGrace := context.WithTimeout(context.Background(), grace)
	defer cancelGrace()
	s.disp.Stop(graceCtx)
}

func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// expectConfig is what the expectation runner follows of b.
func expectConfig(b *Built) *expect.Config {
	c := &expect.Config{Router: b.File.Router, Grace: time.Duration(b.File.ExpectGrace), Traffic: map[string]time.Duration{}}
	for _, r := range b.File.Receivers {
		if r.ExpectTraffic > 0 {
			c.Traffic[r.Name] = r.ExpectTraffic
		}
	}
	return c
}
