package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/switchboard/switchboard/internal/app"
	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/console"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

const usage = `Usage: switchboard <command> [flags]

Commands:
  serve         run the service
  check         validate the configuration (--tests: run rule tests)
  test          run a recorded callback through a receiver and the rules, without delivering
  migrate       bring the store's schema up to date
  deliveries    list, show and retry deliveries (the delivery log)
  expectations  list the open timers of expectations
  silence       add, list and expire silences
  version       print the version

Run 'switchboard <command> -h' for the flags of a command.
`

// run is the whole program: main only maps its error to an exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError{"no command"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, stdout, stderr)
	case "check":
		return cmdCheck(rest, stdout, stderr)
	case "deliveries":
		return cmdDeliveries(ctx, rest, stdout, stderr)
	case "silence", "silences":
		return cmdSilence(ctx, rest, stdout, stderr)
	case "expectations":
		return cmdExpectations(ctx, rest, stdout, stderr)
	case "test":
		return cmdTest(rest, stdout, stderr)
	case "migrate":
		return cmdMigrate(ctx, rest, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "switchboard", versionString())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "switchboard: unknown command %q\n\n%s", cmd, usage)
	return exitError{"unknown command"}
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "devel-" + s.Value[:12]
			}
		}
	}
	return "devel"
}

// flags is a command's flag set, printing its errors to stderr.
func flags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("switchboard "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func configFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("SWITCHBOARD_CONFIG")
	if def == "" {
		def = "rules.yaml"
	}
	return fs.String("config", def, "configuration file (default $SWITCHBOARD_CONFIG or rules.yaml)")
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitError{err.Error()}
	}
	return nil
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be json or text, not %q", format)
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("serve", stderr)
	path := configFlag(fs)
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	format := fs.String("log-format", "json", "log format: json or text")
	watch := fs.Bool("watch", true, "reload the configuration when its file changes (--watch=false: only on SIGHUP or POST /-/reload)")
	if err := parseFlags(fs, args); err != nil || fs.Parsed() && helpAsked(args) {
		return err
	}
	log, err := newLogger(stderr, *level, *format)
	if err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-hup:
				select {
				case reload <- struct{}{}:
				default:
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	err = app.Serve(ctx, app.Options{ConfigPath: *path, Log: log, Reload: reload, Watch: *watch, Console: console.New})
	var es config.Errors
	if errors.As(err, &es) {
		fmt.Fprintf(stderr, "switchboard: invalid configuration:\n%s\n", indent(es.Error()))
		return exitError{"invalid configuration"}
	}
	return err
}

func helpAsked(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			return true
		}
	}
	return false
}

func cmdCheck(args []string, stdout, stderr io.Writer) error {
	fs := flags("check", stderr)
	path := configFlag(fs)
	tests := fs.String("tests", "", "also run the rule tests in this file (see README: Rule tests)")
	if err := parseFlags(fs, args); err != nil || helpAsked(args) {
		return err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	b, err := app.Load(*path, log)
	if err != nil {
		var es config.Errors
		if errors.As(err, &es) {
			fmt.Fprintf(stderr, "%s: %d error(s):\n%s\n", *path, len(es), indent(es.Error()))
			return exitError{"invalid configuration"}
		}
		return err
	}
	for _, w := range b.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	expects := ""
	if n := len(b.File.Router.Expectations()); n > 0 {
		expects = fmt.Sprintf(", %d expectations", n)
	}
	fmt.Fprintf(stdout, "%s: OK: %d receivers, %d sinks, %d rules%s\n", *path, len(b.File.Receivers), len(b.Targets), len(b.File.Router.Rules()), expects)
	if *tests != "" {
		return runRuleTests(b, *tests, stdout, stderr)
	}
	return nil
}

// usageWithout prints usage when args name no subcommand or ask for help:
// done reports that the command is answered, with an error when no
// subcommand was given.
func usageWithout(args []string, usage string, stdout io.Writer) (done bool, err error) {
	if len(args) > 0 && !helpAsked(args[:1]) && args[0] != "help" {
		return false, nil
	}
	fmt.Fprint(stdout, usage)
	if len(args) == 0 {
		return true, exitError{"no subcommand"}
	}
	return true, nil
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}
