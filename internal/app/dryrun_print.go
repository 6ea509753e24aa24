package app

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// WriteDryRun prints a dry run as `switchboard test` does (and the web
// console shows it): the receiver and verification, then each event, the
// rules that matched or why not, and each message per sink.
func WriteDryRun(w io.Writer, res *DryRunResult) {
	verify := res.Verify
	switch res.Verify {
	case VerifySkipped:
		verify = "skipped (--skip-verify)"
	case VerifyFailed:
		verify = "FAILED"
	case VerifyUnauthenticated:
		verify = "none: the receiver is unauthenticated: true"
	}
	fmt.Fprintf(w, "receiver:     %s\ncontent type: %s\n", res.Receiver, res.ContentType)
	if verify != "" {
		fmt.Fprintf(w, "verification: %s\n", verify)
	}
	if res.Status != http.StatusOK {
		fmt.Fprintf(w, "\nthe service would answer %d %s: %s\n", res.Status, http.StatusText(res.Status), res.Error)
		if res.Verify == VerifyFailed {
			fmt.Fprintln(w, "(pass the credentials with --header or --query, or route it anyway with --skip-verify)")
		}
		return
	}
	for i, ev := range res.Events {
		e := ev.Event
		fmt.Fprintf(w, "\nevent %d of %d: %s %s %s (%s)\n", i+1, len(res.Events), e.Type, e.Status, e.Subject, e.ID)
		j, _ := json.MarshalIndent(e, "  ", "  ")
		fmt.Fprintf(w, "  %s\n", j)
		fmt.Fprintln(w, "rules:")
		for _, x := range ev.Rules {
			if x.Matched {
				fmt.Fprintf(w, "  matched   %s\n", x.Rule)
			} else {
				fmt.Fprintf(w, "  no match  %s: %s\n", x.Rule, x.Reason)
			}
		}
		for _, e := range ev.Errors {
			fmt.Fprintf(w, "  error     %s\n", e)
		}
		if len(ev.Expectations) > 0 {
			fmt.Fprintln(w, "expectations:")
			for _, x := range ev.Expectations {
				if x.Action == "start" {
					fmt.Fprintf(w, "  starts    %s: expectation.missed in %s unless an event stops it (a running timer is kept)\n", x.Expectation, x.Within)
				} else {
					fmt.Fprintf(w, "  stops     %s\n", x.Expectation)
				}
			}
		}
		if len(ev.Messages) == 0 {
			fmt.Fprintln(w, "messages: none")
			continue
		}
		fmt.Fprintln(w, "messages:")
		for _, m := range ev.Messages {
			fmt.Fprintf(w, "  %s → %s (%s)\n", m.Rule, m.Sink, m.SinkType)
			fmt.Fprintf(w, "    title: %s\n", m.Title)
			fmt.Fprintf(w, "    text:  %s\n", strings.ReplaceAll(m.Text, "\n", "\n           "))
			if m.Throttle != nil {
				fmt.Fprintf(w, "    throttle: key %q, window %s (delivered if it is the first match for the key in the window)\n", m.Throttle.Key, m.Throttle.Window)
			}
			if m.Thread != "" {
				fmt.Fprintf(w, "    thread: key %q (the first message of the key starts a thread, later ones reply in it)\n", m.Thread)
			}
			if m.Request != nil {
				printRequest(w, m.Request)
			}
		}
	}
	fmt.Fprintln(w, "\nnothing was stored or sent")
}

// printRequest shows a webhook request as it would go out: method and URL,
// headers, then the body.
func printRequest(w io.Writer, r *DryRunWebhook) {
	if r.Error != "" {
		fmt.Fprintf(w, "    request: none, the delivery would be dead: %s\n", r.Error)
		return
	}
	fmt.Fprintf(w, "    request: %s %s\n", r.Method, r.URL)
	for _, k := range slices.Sorted(maps.Keys(r.Headers)) {
		fmt.Fprintf(w, "      %s: %s\n", k, r.Headers[k])
	}
	fmt.Fprintf(w, "      body: %s\n", r.Body)
}
