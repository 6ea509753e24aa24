package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// The relay answers 200 only after the webhook server has the callback,
// unchanged, and 502 when that server fails.
func TestRelayForwardsBeforeAnswering(t *testing.T) {
	var mu sync.Mutex
	var got []string
	status := http.StatusOK
	dest, err := startServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		got = append(got, r.Header.Get("Content-Type")+" "+string(body))
		w.WriteHeader(status)
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer dest.close()
	relay, err := startServer(relayHandler(dest.url+relayPath, 4))
	if err != nil {
		t.Fatal(err)
	}
	defer relay.close()

	post := func() (int, string) {
		t.Helper()
		resp, err := http.PostForm(relay.url+"/hooks/interfax", url.Values{"TransactionID": {"42"}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := post(); code != http.StatusOK || body != "OK" {
		t.Errorf("relay answered %d %q, want 200 OK", code, body)
	}
	mu.Lock()
	if want := "application/x-www-form-urlencoded TransactionID=42"; len(got) != 1 || got[0] != want {
		t.Errorf("webhook server received %q, want [%q]", got, want)
	}
	status = http.StatusServiceUnavailable
	mu.Unlock()
	if code, body := post(); code != http.StatusBadGateway || !strings.Contains(body, "503") {
		t.Errorf("relay to a failing server answered %d %q, want 502 naming the 503", code, body)
	}
}

// The webhook server reads the relay's posts without taking them for
// deliveries.
func TestRecorderIgnoresRelayPosts(t *testing.T) {
	rec := newRecorder()
	s, err := startServer(rec)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	resp, err := http.Post(s.url+relayPath, "text/plain", strings.NewReader("not an event"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ds, dups, bad := rec.snapshot()
	if resp.StatusCode != http.StatusOK || len(ds) != 0 || dups != 0 || bad != 0 {
		t.Errorf("relay post: status %d, recorded %d deliveries, %d duplicates, %d bad; want 200 and nothing recorded", resp.StatusCode, len(ds), dups, bad)
	}
}

// With a relay the table has its column and switchboard's ratio to it;
// without one (the log sink) it has neither.
func TestTableRelayColumns(t *testing.T) {
	p := &phaseReport{Name: "closed loop",
		Switchboard: targetReport{Intake: 9000, P50: 6, P99: 15},
		Bare:        targetReport{Intake: 50000, P50: 1, P99: 3}, IntakeRatio: 0.18,
		Relay: &targetReport{Intake: 30000, P50: 2, P99: 5}, RelayRatio: 0.3,
		Delivery: deliveryReport{Via: "webhook"}, PeakRSS: []int64{70 << 20},
		Serve: &serveReport{CPUPerCallback: 130}, BareCPU: 37, RelayCPU: 61, BenchCPU: 53}
	r := &report{Options: options{Runs: 1}, Phases: []*phaseReport{p}}
	fields := func(text, name string) []string {
		for line := range strings.Lines(text) {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), name); ok {
				return strings.Fields(rest)
			}
		}
		t.Errorf("no row %q in:\n%s", name, text)
		return nil
	}
	var out strings.Builder
	r.writeTable(&out)
	for name, want := range map[string]string{
		"intake (200 replies/s)":          "9000 50000 0.180 30000 0.300",
		"reply latency p99":               "15.00 ms 3.00 ms 5.00 ms",
		"CPU per callback, all processes": "183 µs 37 µs 0.202 61 µs 0.333",
		"end-to-end lag p50":              "0 ms",
	} {
		if got := strings.Join(fields(out.String(), name), " "); got != want {
			t.Errorf("row %q = %q, want %q", name, got, want)
		}
	}
	if !strings.Contains(out.String(), "relay = ") {
		t.Errorf("no note saying what the relay is:\n%s", out.String())
	}

	p.Relay, p.RelayRatio, p.RelayCPU = nil, 0, 0
	out.Reset()
	r.writeTable(&out)
	if got := strings.Join(fields(out.String(), "intake (200 replies/s)"), " "); got != "9000 50000 0.180" {
		t.Errorf("without a relay, intake row = %q", got)
	}
	if strings.Contains(out.String(), "relay") {
		t.Errorf("without a relay the table mentions one:\n%s", out.String())
	}
}

func TestParseFlagsRelay(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil || !o.Relay {
		t.Errorf("default: relay %v, %v; want on", o.Relay, err)
	}
	if o, err := parseFlags([]string{"-relay=false"}, io.Discard); err != nil || o.Relay {
		t.Errorf("-relay=false: relay %v, %v", o.Relay, err)
	}
}

// Over runs with a relay, the ranges have its columns too.
func TestRangesRelayColumns(t *testing.T) {
	phase := func(run int, sb, relay float64) *phaseReport {
		return &phaseReport{Name: "closed loop", Kind: "closed loop", Run: run,
			Switchboard: targetReport{Intake: sb, P99: 10},
			Bare:        targetReport{Intake: 50000, P99: 2}, IntakeRatio: sb / 50000,
			Relay: &targetReport{Intake: relay, P99: 4}, RelayRatio: sb / relay,
			Delivery: deliveryReport{Via: "webhook"}, PeakRSS: []int64{70 << 20},
			Serve: &serveReport{CPUPerCallback: 130}, BareCPU: 40, RelayCPU: 60, BenchCPU: 50}
	}
	r := &report{Options: options{Runs: 2}, Phases: []*phaseReport{phase(1, 9000, 30000), phase(2, 10000, 25000)}}
	var out strings.Builder
	r.writeRanges(&out)
	want := map[string]string{
		"intake (200 replies/s)":          "9000–10000 50000 0.180–0.200 25000–30000 0.300–0.400",
		"reply latency p99":               "10.00 ms 2.00 ms 4.00 ms",
		"CPU per callback, all processes": "180 µs 40 µs 0.222 60 µs 0.333",
		"serve CPU per callback":          "130 µs",
	}
	for line := range strings.Lines(out.String()) {
		for name, w := range want {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), name); ok {
				if got := strings.Join(strings.Fields(rest), " "); got != w {
					t.Errorf("row %q = %q, want %q", name, got, w)
				}
				delete(want, name)
			}
		}
	}
	if len(want) > 0 {
		t.Errorf("rows missing %v in:\n%s", want, out.String())
	}
}
