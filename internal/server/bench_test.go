package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/receivers"
	"github.com/switchboard/switchboard/receivers/telesign"
	"github.com/switchboard/switchboard/rules"
)

const (
	benchCustomer = "AAAAAAAA-BBBB-CCCC-DDDD-000000000001"
	benchKey      = "bWFkZS11cC10ZWxlc2lnbi1rZXktZm9yLWRvY3Mtb25seS0wMTIzNDU2Nzg5"
)

// benchStore is the store the intake benchmarks write to: $SWITCHBOARD_BENCH_STORE
// (e.g. a postgres:// URL), or a SQLite file in a temp dir.
func benchStore(b *testing.B) *store.Store {
	dsn := os.Getenv("SWITCHBOARD_BENCH_STORE")
	if dsn == "" {
		dsn = filepath.Join(b.TempDir(), "bench.db")
	}
	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// benchRules are the rules of the intake benchmarks: three, two of which
// match every event.
const benchRules = `
sinks: {audit: {type: log}, api: {type: webhook, url: "http://127.0.0.1:1/"}}
rules:
  - {name: failed, when: 'status == "failure"', to: [audit]}
  - {name: final, when: 'final && !stale', to: [api]}
  - {name: all, when: 'true', to: [audit]}
`

// benchServer is a real HTTP server over st with the telesign receiver,
// signature checks on, routing by the rules in src.
func benchServer(b *testing.B, st *store.Store, src string, m Metrics) *httptest.Server {
	rc, err := telesign.New("telesign", telesign.Config{CustomerID: benchCustomer, APIKey: config.Secret(benchKey)})
	if err != nil {
		b.Fatal(err)
	}
	f, err := rules.Parse("bench.yaml", strings.NewReader(src), func(string) (string, bool) { return "", false })
	if err != nil {
		b.Fatal(err)
	}
	s := New(st, slog.New(slog.DiscardHandler), nil, m)
	s.Swap(&Routing{Receivers: map[string]receivers.Receiver{"telesign": rc}, Router: f.Router, BodyLimit: 1 << 20})
	srv := httptest.NewServer(s.Handler())
	b.Cleanup(srv.Close)
	return srv
}

var seq atomic.Int64

// signedCallback returns a TS-1 shaped callback with a unique reference id.
func signedCallback(b *testing.B) ([]byte, string) {
	n := seq.Add(1)
	body := fmt.Appendf(nil, `{"status":{"updated_on":"2024-05-02T10:15:30.123456Z","code":200,"description":"Delivered to handset"},"submit_timestamp":"2024-05-02T10:15:27.000000Z","errors":[],"reference_id":"%032X","sub_resource":"sms"}`, n)
	sig, err := telesign.Sign(benchKey, body)
	if err != nil {
		b.Fatal(err)
	}
	return body, "TSA " + benchCustomer + ":" + sig
}

// load sends n callbacks from `clients` goroutines, open loop at `rate` per
// second when rate > 0 (else as fast as they are answered), and returns
// every reply latency.
func load(b *testing.B, srv *httptest.Server, clients, n int, rate float64) []time.Duration {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
	work := make(chan time.Time, n)
	go func() {
		defer close(work)
		start := time.Now()
		for i := 0; i < n; i++ {
			if rate > 0 {
				due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
				if d := time.Until(due); d > 0 {
					time.Sleep(d)
				}
				work <- due
				continue
			}
			work <- time.Time{}
		}
	}()
	var mu sync.Mutex
	lat := make([]time.Duration, 0, n)
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for due := range work {
				body, auth := signedCallback(b)
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/hooks/telesign", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", auth)
				start := time.Now()
				if !due.IsZero() {
					start = due // open loop: latency counts from when it was due
				}
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
				d := time.Since(start)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return lat
}

func report(b *testing.B, lat []time.Duration, elapsed time.Duration) {
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[int(float64(len(lat)-1)*p)].Microseconds()) / 1000
	}
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "callbacks/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkIntake measures durable intake: signed Telesign callbacks over
// real HTTP from 64 concurrent clients, each answered only after its event
// and deliveries are committed. Run with -benchtime=20000x.
func BenchmarkIntake(b *testing.B) {
	srv := benchServer(b, benchStore(b), benchRules, Metrics{})
	load(b, srv, 64, 500, 0) // warm up connections and the database
	b.ResetTimer()
	start := time.Now()
	lat := load(b, srv, 64, b.N, 0)
	report(b, lat, time.Since(start))
}

// BenchmarkIntakePaced measures reply latency at a steady 2,500 callbacks/s
// (half the intake target). Run with -benchtime=10000x.
func BenchmarkIntakePaced(b *testing.B) {
	srv := benchServer(b, benchStore(b), benchRules, Metrics{})
	load(b, srv, 64, 500, 0)
	b.ResetTimer()
	start := time.Now()
	lat := load(b, srv, 64, b.N, 2500)
	report(b, lat, time.Since(start))
}
