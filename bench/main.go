// Command bench measures Switchboard's callback intake and delivery side by
// side with a bare net/http handler, under the same load from the same
// generator, so a number can be read against what the machine can do at all.
//
// It answers the questions of issue 16: how many callbacks per second does
// Switchboard acknowledge (each 200 only after the event and its deliveries
// are committed) compared with a handler that only reads the body; how long
// do the replies take; how long after a callback is accepted does its
// delivery reach a webhook; does delivery keep up with intake, and how long
// after the load stops is the backlog drained; and how much memory does
// serve use.
//
// With the webhook sink it also drives a relay: a handler in this process
// that POSTs each callback, unchanged, to the same webhook server and answers
// 200 once that server has answered, with no store, rules or event. It is
// the floor of any webhook forwarder, durable or not: one more HTTP exchange
// per callback on the same cores. Switchboard's ratio to it says how much of
// what remains is spent on durability, rules and events (-relay=false skips
// it).
//
// It also drives Switchboard without its store ("no store"): serve's own
// receiver, rules and sink, built from the same configuration by serve's
// code and run in a handler in this process that answers once the sink has
// sent, writing nothing. Its intake is what serve's pipeline reaches here if
// the store cost nothing: the gap to serve is the store's whole cost, the
// gap to the bare handler what no store could give back (-nostore=false
// skips it).
//
// It runs the real binary: `go build ./cmd/switchboard`, then `switchboard
// serve` as a child process with a temporary configuration and store, driven
// over loopback HTTP. Only the binary's external behaviour (configuration
// file, HTTP, /readyz, /metrics) is used, so the benchmark measures what an
// operator deploys, including the HTTP stack, the store's fsyncs and the
// delivery workers, and keeps working while the internals change. The load
// generator, the bare handler and the webhook sink it delivers to run in this
// process and share the machine with serve: on a small machine they take CPU
// from it, equally for both targets.
//
// Run it from the repository root:
//
//	go run ./bench                                  # interfax callbacks, webhook sink, SQLite
//	go run ./bench -rate half                       # then latency at half the measured intake
//	go run ./bench -receiver telesign -sink log
//	go run ./bench -store 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable' -instances 2
//	go run ./bench -rate half -runs 5                # each figure's range over five runs
//
// A closed-loop run has -clients keep-alive clients each sending its next
// callback as soon as the previous reply arrives: it measures the maximum
// intake. A paced run (-rate R) sends R callbacks per second in total on a
// fixed schedule, whatever the replies do, and measures each reply's latency
// from its scheduled send time, so a stall shows as latency instead of
// silently lowering the rate. Every callback is unique (a fresh transaction
// id or reference id), so each one is a new event and one delivery.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the command-line settings of one run.
type options struct {
	Receiver       string        `json:"receiver"`
	Sink           string        `json:"sink"`
	Store          string        `json:"store"` // "sqlite" or a postgres:// URL (password removed)
	Instances      int           `json:"instances"`
	Clients        int           `json:"clients"`
	Warmup         time.Duration `json:"-"`
	Duration       time.Duration `json:"-"`
	Rate           string        `json:"rate,omitempty"` // "", "half" or callbacks per second
	DrainTimeout   time.Duration `json:"-"`
	RequestTimeout time.Duration `json:"-"`
	SinkConc       int           `json:"sink_concurrency,omitempty"`
	Runs           int           `json:"runs"`
	Relay          bool          `json:"relay"`
	NoStore        bool          `json:"nostore"`
	JSON           bool          `json:"-"`
	Keep           bool          `json:"-"`

	storeURL string  // the -store value as given, with its password
	rate     float64 // parsed -rate when a number
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		switch {
		case errors.Is(err, flag.ErrHelp):
		case errors.Is(err, context.Canceled):
			fmt.Fprintln(os.Stderr, "bench: interrupted")
		default:
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		os.Exit(1)
	}
}

// run parses the flags, runs the phases and prints the report to stdout;
// progress goes to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	b, err := newBench(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer b.close()

	rep := &report{
		Machine: machineInfo(),
		Command: commandLine(args),
		Options: *o,
		Window:  o.Duration.Seconds(),
		Warmup:  o.Warmup.Seconds(),
	}
	for run := 1; run <= o.Runs; run++ {
		phases, err := b.runOnce(ctx, run)
		if err != nil {
			return err
		}
		rep.Phases = append(rep.Phases, phases...)
	}
	if o.JSON {
		return rep.writeJSON(stdout)
	}
	rep.writeTable(stdout)
	return nil
}

// runOnce runs the phases -rate asks for, once: the closed loop, or a
// paced load, or both.
func (b *bench) runOnce(ctx context.Context, run int) ([]*phaseReport, error) {
	o := b.o
	suffix := ""
	if o.Runs > 1 {
		suffix = fmt.Sprintf(", run %d of %d", run, o.Runs)
	}
	var out []*phaseReport
	phase := func(kind, name string, rate float64) (*phaseReport, error) {
		p, err := b.phase(ctx, name+suffix, rate)
		if err != nil {
			return nil, err
		}
		p.Kind, p.Run = kind, run
		out = append(out, p)
		return p, nil
	}
	switch {
	case o.Rate == "" || o.Rate == "half":
		p, err := phase("closed loop", "closed loop", 0)
		if err != nil {
			return nil, err
		}
		if o.Rate == "half" {
			half := p.Switchboard.Intake / 2
			if half < 1 {
				return nil, fmt.Errorf("-rate half: switchboard acknowledged %.1f callbacks/s in the closed loop, too few to pace at half", p.Switchboard.Intake)
			}
			if _, err := phase("paced at half the closed-loop intake", fmt.Sprintf("paced at %.0f/s (half the closed-loop intake)", half), half); err != nil {
				return nil, err
			}
		}
	default:
		name := fmt.Sprintf("paced at %g/s", o.rate)
		if _, err := phase(name, name, o.rate); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: go run ./bench [flags]   (from the repository root)")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.Receiver, "receiver", "interfax", "callbacks to send: interfax (form POST) or telesign (TSA-signed JSON)")
	fs.StringVar(&o.Sink, "sink", "webhook", "where the one rule (when: true) delivers: webhook (a local server that measures lag) or log")
	fs.StringVar(&o.storeURL, "store", "sqlite", "sqlite (a file in a temporary directory) or a postgres:// server URL: a fresh database is created on it per run and dropped after")
	fs.IntVar(&o.Instances, "instances", 1, "serve processes on the same Postgres database; the clients are split across them")
	fs.IntVar(&o.Clients, "clients", 64, "concurrent keep-alive clients")
	fs.DurationVar(&o.Warmup, "warmup", 2*time.Second, "load before the measured window")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "measured window")
	fs.StringVar(&o.Rate, "rate", "", "empty: closed loop (maximum intake); R: paced at R callbacks/s in total; half: closed loop, then paced at half the switchboard intake it measured")
	fs.DurationVar(&o.DrainTimeout, "drain-timeout", 120*time.Second, "how long after the load stops to wait for every delivery")
	fs.DurationVar(&o.RequestTimeout, "request-timeout", 30*time.Second, "limit of one callback request")
	fs.IntVar(&o.SinkConc, "sink-concurrency", 0, "the sink's concurrency: setting (0: the service default)")
	fs.IntVar(&o.Runs, "runs", 1, "run the phases this many times, each against a fresh serve and store, and end with each figure's range over the runs")
	fs.BoolVar(&o.Relay, "relay", true, "with the webhook sink, also drive a relay: a handler that POSTs each callback to the webhook server before answering, with no store and no rules (the floor of any webhook forwarder on these cores)")
	fs.BoolVar(&o.NoStore, "nostore", true, "also drive serve's receiver, rules and sink in a handler that answers once the sink has sent, with no store (what serve would reach if its store cost nothing)")
	fs.BoolVar(&o.JSON, "json", false, "print the results as JSON")
	fs.BoolVar(&o.Keep, "keep", false, "keep the temporary directory (config, store, serve logs) and print its path")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var errs []error
	if o.Receiver != "interfax" && o.Receiver != "telesign" {
		errs = append(errs, fmt.Errorf("-receiver %q: want interfax or telesign", o.Receiver))
	}
	if o.Sink != "webhook" && o.Sink != "log" {
		errs = append(errs, fmt.Errorf("-sink %q: want webhook or log", o.Sink))
	}
	switch {
	case o.storeURL == "sqlite" || o.storeURL == "":
		o.storeURL, o.Store = "", "sqlite"
		if o.Instances != 1 {
			errs = append(errs, errors.New("-instances > 1 needs -store postgres://…: serve refuses a second process on one SQLite file"))
		}
	case strings.HasPrefix(o.storeURL, "postgres://") || strings.HasPrefix(o.storeURL, "postgresql://"):
		o.Store = redactURL(o.storeURL)
	default:
		errs = append(errs, fmt.Errorf("-store %q: want sqlite or a postgres:// URL", o.storeURL))
	}
	if o.Instances < 1 || o.Instances > 16 {
		errs = append(errs, fmt.Errorf("-instances %d: want 1 to 16", o.Instances))
	}
	if o.Clients < 1 || o.Clients > 4096 {
		errs = append(errs, fmt.Errorf("-clients %d: want 1 to 4096", o.Clients))
	}
	if o.Warmup < 0 || o.Duration <= 0 || o.DrainTimeout <= 0 || o.RequestTimeout <= 0 {
		errs = append(errs, errors.New("-warmup must be >= 0; -duration, -drain-timeout and -request-timeout > 0"))
	}
	if o.Runs < 1 || o.Runs > 100 {
		errs = append(errs, fmt.Errorf("-runs %d: want 1 to 100", o.Runs))
	}
	if o.SinkConc < 0 {
		errs = append(errs, errors.New("-sink-concurrency must be >= 0"))
	}
	if o.Rate != "" && o.Rate != "half" {
		r, err := strconv.ParseFloat(o.Rate, 64)
		if err != nil || r <= 0 || r > 1e6 {
			errs = append(errs, fmt.Errorf("-rate %q: want half or a number of callbacks per second", o.Rate))
		}
		o.rate = r
	}
	return o, errors.Join(errs...)
}

// machine describes where the numbers were taken.
type machine struct {
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpu_model"`
	Go       string `json:"go"`
	OS       string `json:"os"`
}

func machineInfo() machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH, CPUModel: "unknown"}
	// The toolchain that builds serve, which may differ from the one
	// running this program after a toolchain switch.
	if out, err := exec.Command("go", "env", "GOVERSION").Output(); err == nil {
		m.Go = strings.TrimSpace(string(out))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// commandLine is the command to quote to reproduce the run.
func commandLine(args []string) string {
	parts := []string{"go", "run", "./bench"}
	for _, a := range args {
		// A Postgres URL's password is not for a README.
		if k, v, ok := strings.Cut(a, "="); ok && strings.Contains(v, "://") {
			a = k + "=" + redactURL(v)
		} else if strings.Contains(a, "://") {
			a = redactURL(a)
		}
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
