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
	relay, err := startServer(relayHandler(dest.url+referencePath, 4))
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

// The webhook server reads the references' posts without taking them for
// deliveries.
func TestRecorderIgnoresReferencePosts(t *testing.T) {
	rec := newRecorder()
	s, err := startServer(rec)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	resp, err := http.Post(s.url+referencePath, "text/plain", strings.NewReader("not an event"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ds, dups, bad := rec.snapshot()
	if resp.StatusCode != http.StatusOK || len(ds) != 0 || dups != 0 || bad != 0 {
		t.Errorf("relay post: status %d, recorded %d deliveries, %d duplicates, %d bad; want 200 and nothing recorded", resp.StatusCode, len(ds), dups, bad)
	}
}

// Each reference other than the bare handler has its columns in the table,
// with switchboard's ratio to it, and its note; without any (the log sink
// with -nostore=false) the table has neither.
func TestTableReferenceColumns(t *testing.T) {
	p := &phaseReport{Name: "closed loop",
		Switchboard: targetReport{Intake: 9000, P50: 6, P99: 15},
		Bare:        targetReport{Intake: 50000, P50: 1, P99: 3}, IntakeRatio: 0.18,
		Refs: []*refReport{
			{Name: "relay", About: "forwards", Target: targetReport{Intake: 30000, P50: 2, P99: 5}, Ratio: 0.3, OfBare: 0.6, CPU: 61},
			{Name: "no store", About: "no store at all", Target: targetReport{Intake: 15000, P50: 4, P99: 9, Errors: 2, FirstError: "boom"}, Ratio: 0.6, OfBare: 0.3},
		},
		Delivery: deliveryReport{Via: "webhook"}, PeakRSS: []int64{70 << 20},
		Serve: &serveReport{CPUPerCallback: 130}, BareCPU: 37, BenchCPU: 53}
	r := &report{Options: options{Runs: 1}, Phases: []*phaseReport{p}}
	var out strings.Builder
	r.writeTable(&out)
	checkRows(t, out.String(), map[string]string{
		"":                                "switchboard bare ratio relay ratio no store ratio",
		"intake (200 replies/s)":          "9000 50000 0.180 30000 0.300 15000 0.600",
		"intake / the bare handler's":     "0.180 0.600 0.300",
		"reply latency p99":               "15.00 ms 3.00 ms 5.00 ms 9.00 ms",
		"errors":                          "0 0 0 2",
		"CPU per callback, all processes": "183 µs 37 µs 0.202 61 µs 0.333",
		"end-to-end lag p50":              "0 ms",
	})
	for _, note := range []string{"relay = forwards", "no store = no store at all", "no store: first error: boom"} {
		if !strings.Contains(out.String(), note) {
			t.Errorf("no note %q in:\n%s", note, out.String())
		}
	}

	p.Refs = nil
	out.Reset()
	r.writeTable(&out)
	if got := strings.Join(fields(t, out.String(), "intake (200 replies/s)"), " "); got != "9000 50000 0.180" {
		t.Errorf("without references, intake row = %q", got)
	}
	if strings.Contains(out.String(), "relay") || strings.Contains(out.String(), "no store") || strings.Contains(out.String(), "bare handler's") {
		t.Errorf("without references the table mentions one:\n%s", out.String())
	}
}

// checkRows checks the fields of text's rows named in want.
func checkRows(t *testing.T, text string, want map[string]string) {
	t.Helper()
	for name, w := range want {
		if got := strings.Join(fields(t, text, name), " "); got != w {
			t.Errorf("row %q = %q, want %q", name, got, w)
		}
	}
}

// fields returns the fields of text's first row named name (its first
// line starting with switchboard for the header, name "").
func fields(t *testing.T, text, name string) []string {
	t.Helper()
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if name == "" {
			if strings.HasPrefix(line, "switchboard ") {
				return strings.Fields(line)
			}
			continue
		}
		if rest, ok := strings.CutPrefix(line, name); ok {
			return strings.Fields(rest)
		}
	}
	t.Errorf("no row %q in:\n%s", name, text)
	return nil
}

func TestParseFlagsReferences(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil || !o.Relay || !o.NoStore {
		t.Errorf("default: relay %v, no store %v, %v; want both on", o.Relay, o.NoStore, err)
	}
	if o, err := parseFlags([]string{"-relay=false", "-nostore=false"}, io.Discard); err != nil || o.Relay || o.NoStore {
		t.Errorf("-relay=false -nostore=false: relay %v, no store %v, %v", o.Relay, o.NoStore, err)
	}
}

// Over runs, the ranges have each reference's columns too.
func TestRangesReferenceColumns(t *testing.T) {
	phase := func(run int, sb, relay, nostore float64) *phaseReport {
		return &phaseReport{Name: "closed loop", Kind: "closed loop", Run: run,
			Switchboard: targetReport{Intake: sb, P99: 10},
			Bare:        targetReport{Intake: 50000, P99: 2}, IntakeRatio: sb / 50000,
			Refs: []*refReport{
				{Name: "relay", Target: targetReport{Intake: relay, P99: 4}, Ratio: sb / relay, OfBare: relay / 50000, CPU: 60},
				{Name: "no store", Target: targetReport{Intake: nostore, P99: 6}, Ratio: sb / nostore, OfBare: nostore / 50000, CPU: 90},
			},
			Delivery: deliveryReport{Via: "webhook"}, PeakRSS: []int64{70 << 20},
			Serve: &serveReport{CPUPerCallback: 130}, BareCPU: 40, BenchCPU: 50}
	}
	r := &report{Options: options{Runs: 2}, Phases: []*phaseReport{phase(1, 9000, 30000, 18000), phase(2, 10000, 25000, 20000)}}
	var out strings.Builder
	r.writeRanges(&out)
	checkRows(t, out.String(), map[string]string{
		"":                                "switchboard bare ratio relay ratio no store ratio",
		"intake (200 replies/s)":          "9000–10000 50000 0.180–0.200 25000–30000 0.300–0.400 18000–20000 0.500",
		"intake / the bare handler's":     "0.180–0.200 0.500–0.600 0.360–0.400",
		"reply latency p99":               "10.00 ms 2.00 ms 4.00 ms 6.00 ms",
		"CPU per callback, all processes": "180 µs 40 µs 0.222 60 µs 0.333 90 µs 0.500",
		"serve CPU per callback":          "130 µs",
	})
}
