package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/switchboard/switchboard/internal/app"
	"github.com/switchboard/switchboard/internal/config"
)

// stdin is read by `switchboard test -`; tests replace it.
var stdin io.Reader = os.Stdin

// headerFlag collects repeated --header "Name: value" flags.
type headerFlag struct{ h http.Header }

func (f *headerFlag) String() string { return "" }

func (f *headerFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, ":")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("want Name: value, got %q", s)
	}
	f.h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	return nil
}

// cmdTest runs a recorded callback through a receiver and the rules
// without storing or sending anything, and prints what the service would
// do.
func cmdTest(args []string, stdout, stderr io.Writer) error {
	fs := flags("test", stderr)
	path := configFlag(fs)
	receiver := fs.String("receiver", "", "receiver (config key) the callback is for (required)")
	skipVerify := fs.Bool("skip-verify", false, "skip the receiver's signature or token check")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	contentType := fs.String("content-type", "", "content type of the body (default: guessed: JSON, XML or form)")
	headers := &headerFlag{h: http.Header{}}
	fs.Var(headers, "header", "request header `Name: value`, repeatable (e.g. the Telesign Authorization header)")
	query := fs.String("query", "", "query string of the callback URL (e.g. token=… for InterFAX)")
	prev := fs.String("previous-status", "", "status of the transaction's previous event, as the store would know it")
	stale := fs.Bool("stale", false, "treat the event as arriving after a final one")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: switchboard test [flags] --receiver NAME FILE|-\n\n"+
			"Runs a recorded callback body through the receiver's parser and the rules, as\n"+
			"the service would, and prints the events, the rules that matched (and why the\n"+
			"others did not) and each message per sink. Nothing is stored or sent.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	// Flags may come before or after FILE.
	var files []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return exitError{err.Error()}
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if *receiver == "" || len(files) != 1 {
		fs.Usage()
		return exitError{"usage"}
	}
	body, err := readBody(files[0])
	if err != nil {
		return err
	}

	b, err := app.Load(*path, slog.New(slog.DiscardHandler))
	if err != nil {
		var es config.Errors
		if errors.As(err, &es) {
			fmt.Fprintf(stderr, "%s: %d error(s):\n%s\n", *path, len(es), indent(es.Error()))
			return exitError{"invalid configuration"}
		}
		return err
	}
	res, err := b.DryRun(app.DryRunRequest{Receiver: *receiver, Body: body, ContentType: *contentType, Header: headers.h,
		Query: *query, SkipVerify: *skipVerify, PreviousStatus: *prev, Stale: *stale})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		app.WriteDryRun(stdout, res)
	}
	if res.Status != http.StatusOK {
		return exitError{res.Error}
	}
	return nil
}

func readBody(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(stdin)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return b, nil
}

// runRuleTests runs the tests file against the loaded configuration
// (switchboard check --tests).
func runRuleTests(b *app.Built, path string, stdout, stderr io.Writer) error {
	tests, err := app.LoadRuleTests(path)
	if err != nil {
		var es config.Errors
		if errors.As(err, &es) {
			fmt.Fprintf(stderr, "%s: %d error(s):\n%s\n", path, len(es), indent(es.Error()))
			return exitError{"invalid tests file"}
		}
		return err
	}
	if !app.FormatRuleTestResults(stdout, path, b.RunRuleTests(tests)) {
		return exitError{"rule tests failed"}
	}
	return nil
}
