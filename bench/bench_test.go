package main

import (
	"encoding/base64"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
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
		"process_cpu_seconds_total":                                   10,
		"switchboard_store_writer_busy_seconds_total":                 1,
		"switchboard_store_commit_duration_seconds_count":             100,
		"switchboard_store_commit_duration_seconds_sum":               0.5,
		"switchboard_store_committed_operations_total":                1000,
		`switchboard_store_commit_duration_seconds_bucket{le="+Inf"}`: 100,
	}
	end := metrics{
		"process_cpu_seconds_total":                                   12,
		"switchboard_store_writer_busy_seconds_total":                 2.5,
		"switchboard_store_commit_duration_seconds_count":             600,
		"switchboard_store_commit_duration_seconds_sum":               1.5,
		"switchboard_store_committed_operations_total":                11000,
		`switchboard_store_commit_duration_seconds_bucket{le="+Inf"}`: 600,
	}
	got := serveWork(start, end, 10000, 2*time.Second)
	want := serveReport{CPUPerCallback: 200, WriterBusy: 0.75, WriterPerCallback: 150, Commits: 250, OpsPerCommit: 20, MeanCommit: 2}
	if got == nil || *got != want {
		t.Errorf("serveWork = %+v, want %+v", got, want)
	}
	if serveWork(nil, end, 10000, time.Second) != nil || serveWork(start, end, 0, time.Second) != nil {
		t.Error("serveWork without a scrape or a callback should be nil")
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
