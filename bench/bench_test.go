package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
)

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50}, {0.99, 99}, {1, 100}, {0.001, 1}} {
		if got := percentile(d, tc.q); got != tc.want {
			t.Errorf("percentile(1..100, %v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("percentile(nil) = %v, want 0", got)
	}
	if got := percentile([]time.Duration{7}, 0.99); got != 7 {
		t.Errorf("percentile([7], 0.99) = %v, want 7", got)
	}
}

// The subject of an event is the callback's id as the receivers print it:
// InterFAX's TransactionID in decimal, Telesign's 32-digit reference_id.
func TestSentPhase(t *testing.T) {
	id := callbackID(sentInWindow, 12345)
	for _, subject := range []string{fmt.Sprint(id), fmt.Sprintf("%032d", id)} {
		if got := sentPhase(subject); got != sentInWindow {
			t.Errorf("sentPhase(%q) = %d, want %d", subject, got, sentInWindow)
		}
	}
	for _, subject := range []string{"", "664598111", "0123456789ABCDEF0123456789ABCDEF"} {
		if got := sentPhase(subject); got != 0 {
			t.Errorf("sentPhase(%q) = %d, want 0", subject, got)
		}
	}
}

// TS-6 of protocols.md, with the credentials the benchmark uses.
func TestTSASignature(t *testing.T) {
	key, err := base64.StdEncoding.DecodeString(telesignAPIKey)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"status":{"updated_on":"2024-05-02T10:15:30.123456Z","code":200,"description":"Delivered to handset"},"submit_timestamp":"2024-05-02T10:15:27.000000Z","errors":[],"reference_id":"0123456789ABCDEF0123456789ABCDEF","sub_resource":"sms"}`
	if got, want := tsaSignature(key, []byte(body)), "M2S2BL+e3/MQR2VXdF4g9NTy68CKNx6Fg+WtNbtTNn8="; got != want {
		t.Errorf("tsaSignature = %s, want %s", got, want)
	}
}

func TestMetrics(t *testing.T) {
	m := metrics{
		`switchboard_deliveries_total{outcome="delivered",sink="out"}`:       10,
		`switchboard_deliveries_total{outcome="retry",sink="out"}`:           2,
		`switchboard_deliveries_total{outcome="delivered",sink="other"}`:     5,
		`switchboard_deliveries_total_extra{outcome="delivered",sink="out"}`: 100,
	}
	if got := m.sum("switchboard_deliveries_total", "sink", "out", "outcome", "delivered"); got != 10 {
		t.Errorf("sum delivered to out = %v, want 10", got)
	}
	if got := m.sum("switchboard_deliveries_total"); got != 17 {
		t.Errorf("sum all = %v, want 17", got)
	}
	got := m.byLabel("switchboard_deliveries_total", "outcome")
	if got["delivered"] != 15 || got["retry"] != 2 || len(got) != 2 {
		t.Errorf("byLabel outcome = %v, want delivered 15, retry 2", got)
	}
}

func TestCommandLineHidesPassword(t *testing.T) {
	got := commandLine([]string{"-store", "postgres://u:hunter2@127.0.0.1/db", "--store=postgres://u:hunter2@h/db", "-rate", "half"})
	if strings.Contains(got, "hunter2") {
		t.Errorf("commandLine = %s, shows the password", got)
	}
	if !strings.HasPrefix(got, "go run ./bench -store ") || !strings.HasSuffix(got, " -rate half") {
		t.Errorf("commandLine = %s", got)
	}
}

func TestServeWork(t *testing.T) {
	start := metrics{
		"process_cpu_seconds_total":                                    10,
		"switchboard_store_writer_busy_seconds_total":                  1,
		"switchboard_store_commit_duration_seconds_count":              100,
		"switchboard_store_commit_duration_seconds_sum":                0.5,
		"switchboard_store_committed_operations_total":                 1000,
		`switchboard_store_commit_duration_seconds_bucket{le="0.001"}`: 50,
		`switchboard_store_commit_duration_seconds_bucket{le="0.005"}`: 95,
		`switchboard_store_commit_duration_seconds_bucket{le="+Inf"}`:  100,
	}
	end := metrics{
		"process_cpu_seconds_total":                                    12,
		"switchboard_store_writer_busy_seconds_total":                  2.5,
		"switchboard_store_commit_duration_seconds_count":              600,
		"switchboard_store_commit_duration_seconds_sum":                1.5,
		"switchboard_store_committed_operations_total":                 11000,
		`switchboard_store_commit_duration_seconds_bucket{le="0.001"}`: 450,
		`switchboard_store_commit_duration_seconds_bucket{le="0.005"}`: 590,
		`switchboard_store_commit_duration_seconds_bucket{le="+Inf"}`:  600,
	}
	got := serveWork(start, end, 10000, 2*time.Second)
	want := serveReport{CPUPerCallback: 200, WriterBusy: 0.75, WriterPerCallback: 150, Commits: 250, OpsPerCommit: 20, MeanCommit: 2, P99Commit: 5}
	if got == nil || *got != want {
		t.Errorf("serveWork = %+v, want %+v", got, want)
	}
	if serveWork(nil, end, 10000, time.Second) != nil || serveWork(start, end, 0, time.Second) != nil {
		t.Error("serveWork without a scrape or a callback should be nil")
	}
	// 99 % of the window's 500 commits is 495: the 5 ms bucket holds 495,
	// the 1 ms one 400.
	const name = "switchboard_store_commit_duration_seconds_bucket"
	if got := bucketQuantile(start, end, name, 0.8); got != 0.001 {
		t.Errorf("80th percentile bound = %v, want 0.001", got)
	}
	end[name+`{le="+Inf"}`] = 700 // 99 % of 600 is beyond the last bound
	if got := bucketQuantile(start, end, name, 0.99); !math.IsInf(got, 1) {
		t.Errorf("99th percentile bound past the last bucket = %v, want +Inf", got)
	}
	if got := bucketQuantile(start, start, name, 0.99); got != 0 {
		t.Errorf("quantile of no observations = %v, want 0", got)
	}
}

func TestPerCallback(t *testing.T) {
	if got := perCallback([2]time.Duration{time.Second, 3 * time.Second}, 10000); got != 200 {
		t.Errorf("perCallback = %v µs, want 200", got)
	}
	for _, cpu := range [][2]time.Duration{{-1, -1}, {0, 0}} {
		if got := perCallback(cpu, 10000); got != 0 {
			t.Errorf("perCallback(%v) = %v, want 0 (not measured)", cpu, got)
		}
	}
	if got := perCallback([2]time.Duration{time.Second, 2 * time.Second}, 0); got != 0 {
		t.Errorf("perCallback with no callback = %v, want 0", got)
	}
	if cpu := selfCPU(); runtime.GOOS == "linux" && cpu <= 0 {
		t.Errorf("selfCPU = %v, want this process's CPU time", cpu)
	}
}

func TestEventStampParse(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 50, 54, 123456789, time.UTC)
	ev := event.Event{ID: "evt_1", Source: "interfax", Type: "fax.outbound", Receiver: "interfax",
		Subject: "tx-42", Status: "failed", Description: `line "busy", "subject":"x"`,
		Time: at, ReceivedAt: at, Data: map[string]any{"subject": "not this", "received_at": "nor this"}}
	body, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var got eventStamp
	if err := got.parse(body); err != nil || got.Subject != "tx-42" || !got.ReceivedAt.Equal(at) {
		t.Errorf("parse = %+v, %v; want subject tx-42 received %v", got, err, at)
	}
	// An escaped subject is decoded in full.
	ev.Subject = `tx "quoted"`
	body, _ = json.Marshal(ev)
	got = eventStamp{}
	if err := got.parse(body); err != nil || got.Subject != ev.Subject || !got.ReceivedAt.Equal(at) {
		t.Errorf("parse of an escaped subject = %+v, %v", got, err)
	}
	if err := new(eventStamp).parse([]byte("not json")); err == nil {
		t.Error("parse of a body that is not an event: want an error")
	}
}

func TestSpan(t *testing.T) {
	for _, tc := range []struct {
		vs   []float64
		text func(float64) string
		want string
	}{
		{nil, rate, ""},
		{[]float64{3079, 3385, 3183}, rate, "3079–3385"},
		{[]float64{3.19, 4.34}, msText, "3.19–4.34 ms"},
		{[]float64{0.836, 1.2}, secText, "836 ms–1.2 s"}, // units differ: both kept
		{[]float64{2, 2}, msText, "2.00 ms"},
	} {
		if got := span(tc.vs, tc.text); got != tc.want {
			t.Errorf("span(%v) = %q, want %q", tc.vs, got, tc.want)
		}
	}
}

// With -runs, the table ends with each kind's range over the runs; a run
// whose scrape failed (no serve figures) is left out of serve's rows only.
func TestRangesOverRuns(t *testing.T) {
	phase := func(run int, kind string, sb, bare float64, serve *serveReport) *phaseReport {
		return &phaseReport{Name: kind, Kind: kind, Run: run,
			Switchboard: targetReport{Intake: sb, P50: 3, P99: 10 * float64(run)},
			Bare:        targetReport{Intake: bare, P50: 1, P99: 2}, IntakeRatio: sb / bare,
			Delivery: deliveryReport{Via: "webhook", LagP50: 0.003, LagP99: 0.02, LastAfterStop: 0.001 * float64(run)},
			PeakRSS:  []int64{100 << 20}, Serve: serve, BareCPU: 100, BenchCPU: 150}
	}
	r := &report{Options: options{Runs: 2}, Phases: []*phaseReport{
		phase(1, "closed loop", 3000, 20000, &serveReport{CPUPerCallback: 400, WriterBusy: 0.99, WriterPerCallback: 300}),
		phase(1, "paced", 1500, 1500, &serveReport{CPUPerCallback: 700, WriterBusy: 0.98, WriterPerCallback: 600}),
		phase(2, "closed loop", 3300, 16500, nil),
		phase(2, "paced", 1500, 1500, &serveReport{CPUPerCallback: 650, WriterBusy: 0.99, WriterPerCallback: 610}),
	}}
	var out strings.Builder
	r.writeRanges(&out)
	text := out.String()
	// row finds the figures of a row in the section of kind.
	row := func(kind, name string) []string {
		_, section, _ := strings.Cut(text, kind+": range over 2 runs\n")
		section, _, _ = strings.Cut(section, "\n\n")
		for line := range strings.Lines(section) {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), name); ok {
				return strings.Fields(rest)
			}
		}
		t.Errorf("no row %q for %s in:\n%s", name, kind, text)
		return nil
	}
	for _, tc := range []struct {
		kind, name string
		want       []string
	}{
		{"closed loop", "intake (200 replies/s)", []string{"3000–3300", "16500–20000", "0.150–0.200"}},
		{"closed loop", "reply latency p99", []string{"10.00–20.00", "ms", "2.00", "ms"}},
		{"closed loop", "last delivery after load stop", []string{"1–2", "ms"}},
		{"closed loop", "serve CPU per callback", []string{"400", "µs"}}, // its second run has no scrape
		{"closed loop", "CPU per callback, all processes", []string{"550", "µs", "100", "µs", "0.182"}},
		{"paced", "serve CPU per callback", []string{"650–700", "µs"}},
		{"paced", "store writer busy", []string{"98–99", "%"}},
	} {
		if got := row(tc.kind, tc.name); !slices.Equal(got, tc.want) {
			t.Errorf("%s, %s = %q, want %q", tc.kind, tc.name, got, tc.want)
		}
	}
	if strings.Index(text, "closed loop:") > strings.Index(text, "paced:") {
		t.Errorf("kinds out of their order of first appearance:\n%s", text)
	}
}

func TestParseFlagsRuns(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil || o.Runs != 1 {
		t.Errorf("default: runs %d, %v; want 1", o.Runs, err)
	}
	if o, err := parseFlags([]string{"-runs", "5"}, io.Discard); err != nil || o.Runs != 5 {
		t.Errorf("-runs 5: runs %d, %v", o.Runs, err)
	}
	for _, bad := range []string{"0", "101"} {
		if _, err := parseFlags([]string{"-runs", bad}, io.Discard); err == nil || !strings.Contains(err.Error(), "-runs") {
			t.Errorf("-runs %s: err %v, want one naming -runs", bad, err)
		}
	}
}
