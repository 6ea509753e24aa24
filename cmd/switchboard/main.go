// Command switchboard receives InterFAX and Telesign delivery callbacks,
// routes them with rules and delivers the matches to Slack, email, webhooks
// and the log. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		var ee exitError
		if !errors.As(err, &ee) {
			fmt.Fprintln(os.Stderr, "switchboard:", err)
		}
		os.Exit(1)
	}
}

// exitError is an error whose details were already printed.
type exitError struct{ msg string }

func (e exitError) Error() string { return e.msg }
