package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"slices"
	"testing"
	"time"
)

// go run ./bench works from a clone: it builds serve, drives it and its
// references briefly, and every callback acknowledged reaches the sink.
func TestBenchRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs switchboard serve")
	}
	for _, tc := range []struct {
		args []string
		refs []string
	}{
		{nil, []string{"relay", "no store"}},
		{[]string{"-receiver", "telesign", "-sink", "log"}, []string{"no store"}},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		var out bytes.Buffer
		args := append([]string{"-json", "-warmup", "100ms", "-duration", "400ms", "-clients", "2"}, tc.args...)
		if err := run(ctx, args, &out, io.Discard); err != nil {
			cancel()
			t.Fatalf("%v: %v", args, err)
		}
		cancel()
		var rep report
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("%v: report is not JSON: %v\n%s", args, err, out.Bytes())
		}
		if len(rep.Phases) != 1 {
			t.Fatalf("%v: %d phases, want the closed loop", args, len(rep.Phases))
		}
		p := rep.Phases[0]
		targets := map[string]targetReport{"switchboard": p.Switchboard, "bare": p.Bare}
		var names []string
		for _, ref := range p.Refs {
			names = append(names, ref.Name)
			targets[ref.Name] = ref.Target
			if ref.Ratio <= 0 || ref.OfBare <= 0 {
				t.Errorf("%v: reference %s: ratio %v, share of bare %v", args, ref.Name, ref.Ratio, ref.OfBare)
			}
		}
		if !slices.Equal(names, tc.refs) {
			t.Errorf("%v: references %q, want %q", args, names, tc.refs)
		}
		for name, r := range targets {
			if r.Acked == 0 || len(r.NonOK) > 0 || r.Errors > 0 {
				t.Errorf("%v: %s: %d acknowledged, non-200 %v, %d errors (%s)", args, name, r.Acked, r.NonOK, r.Errors, r.FirstError)
			}
		}
		if d := p.Delivery; d.Received != d.Expected || d.Expected != p.Switchboard.Acked || d.DrainTimedOut {
			t.Errorf("%v: deliveries %d of %d, %d acknowledged, drain timed out %v", args, d.Received, d.Expected, p.Switchboard.Acked, d.DrainTimedOut)
		}
	}
}
