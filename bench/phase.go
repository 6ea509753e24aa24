package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// bench holds what the phases of one run share: the built binary, the
// references (the bare handler, the relay, no store) and the webhook sink's
// server.
type bench struct {
	o      *options
	log    io.Writer
	dir    string
	bin    string
	bare   *localServer
	refs   []*reference // driven after the bare handler, in order
	refLog *os.File     // where the no-store reference's sinks log
	hook   *localServer
	rec    *recorder
	maker  *callbackMaker
	seq    atomic.Int64
	admin  *http.Client
	phases int
}

func newBench(ctx context.Context, o *options, log io.Writer) (_ *bench, err error) {
	dir, err := os.MkdirTemp("", "switchboard-bench-")
	if err != nil {
		return nil, err
	}
	b := &bench{o: o, log: log, dir: dir, rec: newRecorder(),
		admin: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	if b.maker, err = newCallbackMaker(o.Receiver); err != nil {
		return nil, err
	}
	b.progress("building ./cmd/switchboard")
	if b.bin, err = buildServe(ctx, dir); err != nil {
		return nil, err
	}
	if b.bare, err = startServer(bareHandler()); err != nil {
		return nil, err
	}
	if b.hook, err = startServer(b.rec); err != nil {
		return nil, err
	}
	if o.Relay && o.Sink == "webhook" {
		if err := b.addReference("relay", relayAbout, relayHandler(b.hook.url+referencePath, o.Clients)); err != nil {
			return nil, err
		}
	}
	if o.NoStore {
		h, err := b.noStore()
		if err != nil {
			return nil, err
		}
		if err := b.addReference("no store", noStoreAbout, h); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// reference is one of the bench's own servers, other than the bare
// handler, that each phase drives with its load before serve.
type reference struct {
	name  string // its column
	about string // what it is, under the table
	srv   *localServer
}

const (
	relayAbout   = "a handler that POSTs each callback to the webhook server before answering 200: no store, no rules"
	noStoreAbout = "serve's receiver, rules and sink in a handler that answers once the sink has sent: no store, nothing durable or retried"
)

func (b *bench) addReference(name, about string, h http.Handler) error {
	srv, err := startServer(h)
	if err != nil {
		return err
	}
	b.refs = append(b.refs, &reference{name: name, about: about, srv: srv})
	return nil
}

// noStore builds the no-store reference from the configuration serve runs
// with, its webhook sink posting where the webhook server reads and does
// not record.
func (b *bench) noStore() (http.Handler, error) {
	cfg := filepath.Join(b.dir, "nostore.yaml")
	text := configFor(b.o, "127.0.0.1:0", "127.0.0.1:0", filepath.Join(b.dir, "nostore.db"), b.hook.url+referencePath)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		return nil, err
	}
	var err error
	if b.refLog, err = os.Create(filepath.Join(b.dir, "nostore.log")); err != nil {
		return nil, err
	}
	h, err := noStoreHandler(cfg, b.refLog)
	if err != nil {
		return nil, fmt.Errorf("no-store reference: %w", err)
	}
	return h, nil
}

// close stops the local servers and removes the temporary directory.
func (b *bench) close() {
	if b.bare != nil {
		b.bare.close()
	}
	for _, ref := range b.refs {
		ref.srv.close()
	}
	if b.refLog != nil {
		_ = b.refLog.Close()
	}
	if b.hook != nil {
		b.hook.close()
	}
	b.admin.CloseIdleConnections()
	if b.o.Keep {
		fmt.Fprintf(b.log, "bench: kept %s\n", b.dir)
		return
	}
	_ = os.RemoveAll(b.dir)
}

func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(b.log, "bench: "+format+"\n", args...)
}

func (b *bench) plan(urls []string, rate float64) *loadPlan {
	return &loadPlan{
		urls: urls, clients: b.o.Clients, rate: rate,
		start:  time.Now().Add(50 * time.Millisecond),
		warmup: b.o.Warmup, window: b.o.Duration, timeout: b.o.RequestTimeout,
		maker: b.maker, seq: &b.seq,
	}
}

// phase drives the bare handler, then a fresh switchboard (new store, new
// processes), with the same load, and measures the deliveries.
func (b *bench) phase(ctx context.Context, name string, rate float64) (*phaseReport, error) {
	b.phases++
	p := &phaseReport{Name: name, Rate: rate}
	var err error
	if p.Bare, p.BareCPU, err = b.reference(ctx, name, "bare handler", b.bare, rate); err != nil {
		return nil, err
	}
	for _, ref := range b.refs {
		t, cpu, err := b.reference(ctx, name, ref.name, ref.srv, rate)
		if err != nil {
			return nil, err
		}
		p.Refs = append(p.Refs, &refReport{Name: ref.name, About: ref.about, Target: t, CPU: cpu})
	}
	if err := b.switchboard(ctx, rate, p); err != nil {
		if !b.o.Keep && ctx.Err() == nil {
			err = fmt.Errorf("%w\n(the temporary directory is removed on exit; -keep keeps it)", err)
		}
		return nil, err
	}
	if p.Bare.Intake > 0 {
		p.IntakeRatio = p.Switchboard.Intake / p.Bare.Intake
	}
	for _, ref := range p.Refs {
		if ref.Target.Intake > 0 {
			ref.Ratio = p.Switchboard.Intake / ref.Target.Intake
		}
		if p.Bare.Intake > 0 {
			ref.OfBare = ref.Target.Intake / p.Bare.Intake
		}
	}
	return p, nil
}

// reference drives one of the bench's own servers (the bare handler, the
// relay, no store) with the phase's load: what it answered, and the bench
// process's CPU per callback answered in the window, which then includes
// the server's.
func (b *bench) reference(ctx context.Context, phase, name string, s *localServer, rate float64) (targetReport, float64, error) {
	b.progress("%s: %s, %s warm-up + %s", phase, name, b.o.Warmup, b.o.Duration)
	plan := b.plan([]string{s.url + "/hooks/" + b.o.Receiver}, rate)
	cpu := [2]time.Duration{-1, -1}
	var wg sync.WaitGroup
	wg.Go(func() { atWindowEdges(ctx, plan, func(i int) { cpu[i] = selfCPU() }) })
	res := runLoad(ctx, plan)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return targetReport{}, 0, err
	}
	return targetFrom(res, b.o.Duration), perCallback(cpu, res.InWindow), nil
}

// switchboard runs one phase's load against fresh serve processes and
// fills in p.
func (b *bench) switchboard(ctx context.Context, rate float64, p *phaseReport) error {
	dir := filepath.Join(b.dir, fmt.Sprintf("phase%d", b.phases))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	if !b.o.Keep {
		// Removed once its processes stopped: many runs would fill the
		// disk with stores.
		defer os.RemoveAll(dir)
	}
	store := filepath.Join(dir, "switchboard.db")
	if b.o.storeURL != "" {
		dsn, drop, err := createDatabase(ctx, b.o.storeURL)
		if err != nil {
			return err
		}
		defer drop()
		store = dsn
	}

	var insts []*instance
	defer func() {
		for _, in := range insts {
			in.stop()
		}
	}()
	var urls, admins []string
	for i := range b.o.Instances {
		listen, err := freeAddr()
		if err != nil {
			return err
		}
		admin, err := freeAddr()
		if err != nil {
			return err
		}
		cfg := filepath.Join(dir, fmt.Sprintf("rules-%d.yaml", i))
		if err := os.WriteFile(cfg, []byte(configFor(b.o, listen, admin, store, b.hook.url+"/hook")), 0o600); err != nil {
			return err
		}
		in, err := startInstance(ctx, b.bin, cfg, filepath.Join(dir, fmt.Sprintf("serve-%d.log", i)), listen, admin)
		if err != nil {
			return err
		}
		insts = append(insts, in)
		urls = append(urls, "http://"+listen+"/hooks/"+b.o.Receiver)
		admins = append(admins, admin)
	}
	for _, in := range insts {
		if err := in.waitReady(ctx, b.admin, 60*time.Second); err != nil {
			return err
		}
	}

	b.rec.reset()
	plan := b.plan(urls, rate)
	b.progress("switchboard (%d instance(s), store %s): %s warm-up + %s", len(insts), b.o.Store, b.o.Warmup, b.o.Duration)
	// serve's metrics at the window's edges: the log sink is observed
	// through its delivered counter, and the process's CPU and the store
	// writer's work are measured over the window.
	var atEdges [2]metrics
	cpu := [2]time.Duration{-1, -1}
	var wg sync.WaitGroup
	wg.Go(func() {
		atWindowEdges(ctx, plan, func(i int) {
			cpu[i] = selfCPU()
			atEdges[i], _ = scrapeAll(ctx, b.admin, admins)
		})
	})
	res := runLoad(ctx, plan)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, in := range insts {
		if err := in.exited(); err != nil {
			return err
		}
	}
	p.Switchboard = targetFrom(res, b.o.Duration)

	d, err := b.drain(ctx, insts, admins, res)
	if err != nil {
		return err
	}
	if b.o.Sink == "log" {
		delivered := func(m metrics) float64 {
			return m.sum("switchboard_deliveries_total", "sink", "out", "outcome", "delivered")
		}
		d.InWindow = int(delivered(atEdges[1]) - delivered(atEdges[0]))
		d.PerSecond = float64(d.InWindow) / b.o.Duration.Seconds()
	}
	p.Delivery = d
	p.Serve = serveWork(atEdges[0], atEdges[1], res.InWindow, b.o.Duration)
	p.BenchCPU = perCallback(cpu, res.InWindow)

	for _, in := range insts {
		rss, err := in.peakRSS()
		if err != nil {
			return fmt.Errorf("peak RSS: %w", err)
		}
		p.PeakRSS = append(p.PeakRSS, rss)
	}
	if m, err := scrapeAll(ctx, b.admin, admins); err == nil {
		p.Counters = map[string]map[string]float64{
			"callbacks":         m.byLabel("switchboard_callbacks_total", "outcome"),
			"delivery_attempts": m.byLabel("switchboard_deliveries_total", "outcome"),
		}
	}
	return nil
}

// drain waits until every acknowledged callback's delivery has arrived (or
// was logged), or the drain timeout after the load stopped.
func (b *bench) drain(ctx context.Context, insts []*instance, admins []string, res loadResult) (deliveryReport, error) {
	d := deliveryReport{Expected: res.Acked, Via: "webhook"}
	deadline := res.Stop.Add(b.o.DrainTimeout)
	poll := 100 * time.Millisecond
	if b.o.Sink == "log" {
		d.Via, poll = "metrics", 250*time.Millisecond
	}
	var last time.Time
	nextNote := time.Now().Add(5 * time.Second)
	for {
		for _, in := range insts {
			if err := in.exited(); err != nil {
				return d, err
			}
		}
		n := 0
		if b.o.Sink == "log" {
			m, err := scrapeAll(ctx, b.admin, admins)
			if err != nil {
				return d, err
			}
			if n = int(m.sum("switchboard_deliveries_total", "sink", "out", "outcome", "delivered")); n > d.Received || last.IsZero() {
				last = time.Now()
			}
		} else {
			n, last = b.rec.progress()
		}
		d.Received = n
		now := time.Now()
		if n >= d.Expected {
			break
		}
		if now.After(deadline) {
			d.DrainTimedOut = true
			b.progress("drain timeout: %d of %d deliveries after %s", n, d.Expected, b.o.DrainTimeout)
			break
		}
		if now.After(nextNote) {
			b.progress("waiting for deliveries: %d of %d, %s since the load stopped", n, d.Expected, now.Sub(res.Stop).Round(time.Second))
			nextNote = now.Add(5 * time.Second)
		}
		if err := sleepUntil(ctx, now.Add(poll)); err != nil {
			return d, err
		}
	}
	if !last.IsZero() {
		d.LastAfterStop = max(0, last.Sub(res.Stop)).Seconds()
	}
	if b.o.Sink != "webhook" {
		return d, nil
	}

	ds, dups, bad := b.rec.snapshot()
	d.Duplicates, d.Bad = dups, bad
	var lags []time.Duration
	for _, x := range ds {
		if !x.at.Before(res.WindowStart) && x.at.Before(res.WindowEnd) {
			d.InWindow++
		}
		if x.phase == sentInWindow {
			lags = append(lags, x.at.Sub(x.receivedAt))
		}
	}
	slices.Sort(lags)
	d.PerSecond = float64(d.InWindow) / res.WindowEnd.Sub(res.WindowStart).Seconds()
	d.LagSamples = len(lags)
	d.LagP50 = percentile(lags, 0.50).Seconds()
	d.LagP99 = percentile(lags, 0.99).Seconds()
	return d, nil
}

// atWindowEdges runs at(0) when plan's window starts and at(1) when it
// ends, unless ctx ends first.
func atWindowEdges(ctx context.Context, plan *loadPlan, at func(edge int)) {
	for i, t := range []time.Time{plan.windowStart(), plan.windowEnd()} {
		if sleepUntil(ctx, t) != nil {
			return
		}
		at(i)
	}
}

// perCallback is the CPU time between the edges per callback answered in
// the window, in µs; 0 if it was not measured.
func perCallback(cpu [2]time.Duration, n int) float64 {
	if cpu[0] < 0 || cpu[1] < 0 || n == 0 {
		return 0
	}
	return float64(cpu[1]-cpu[0]) / float64(time.Microsecond) / float64(n)
}

// sleepUntil waits until t or ctx's end.
func sleepUntil(ctx context.Context, t time.Time) error {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
