package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Every callback's vendor id (InterFAX TransactionID, Telesign reference_id)
// is phase*idBase + a run-wide sequence number, where phase says whether it
// was sent in the warm-up or the measured window. The id comes back as the
// event's subject in the webhook body, so a delivery is attributed to its
// window without any shared state in the client loop.
const (
	sentInWarmup = 1
	sentInWindow = 2
	idBase       = 1_000_000_000_000
)

func callbackID(phase int, seq int64) int64 { return int64(phase)*idBase + seq }

// sentPhase returns the phase encoded in an event subject, 0 if it is not
// one of ours.
func sentPhase(subject string) int {
	n, err := strconv.ParseInt(subject, 10, 64)
	if err != nil || n < idBase {
		return 0
	}
	return int(n / idBase)
}

// The Telesign credentials of the benchmark configuration: TS-6 of
// protocols.md, made up.
const (
	telesignCustomer = "AAAAAAAA-BBBB-CCCC-DDDD-000000000001"
	telesignAPIKey   = "bWFkZS11cC10ZWxlc2lnbi1rZXktZm9yLWRvY3Mtb25seS0wMTIzNDU2Nzg5"
)

// callbackMaker builds the unique callback requests of one receiver type.
type callbackMaker struct {
	receiver string
	key      []byte // Telesign API key, decoded
}

func newCallbackMaker(receiver string) (*callbackMaker, error) {
	key, err := base64.StdEncoding.DecodeString(telesignAPIKey)
	if err != nil {
		return nil, err
	}
	return &callbackMaker{receiver: receiver, key: key}, nil
}

// request returns the callback with vendor id id. The body is fresh each
// time: the transport may still be writing it when the reply arrives.
func (m *callbackMaker) request(ctx context.Context, url string, id int64) (*http.Request, error) {
	var body []byte
	var contentType, auth string
	switch m.receiver {
	case "telesign":
		// TS-1 with a unique 32-digit reference_id, signed as Telesign
		// signs: TSA <customer_id>:base64(HMAC-SHA256(key, raw body)).
		body = fmt.Appendf(nil, `{"status":{"updated_on":"2024-05-02T10:15:30.123456Z","code":200,"description":"Delivered to handset"},`+
			`"submit_timestamp":"2024-05-02T10:15:27.000000Z","errors":[],"reference_id":"%032d","sub_resource":"sms"}`, id)
		contentType = "application/json"
		auth = "TSA " + telesignCustomer + ":" + tsaSignature(m.key, body)
	default:
		body = fmt.Appendf(nil, "TransactionIDType=Outbound&TransactionID=%d&CompletionTime=23%%2F06%%2F2024+17%%3A23%%3A13"+
			"&DestinationFax=0012125551234&Status=0&PagesSent=2&PagesSubmitted=2&TrialsPerformed=1", id)
		contentType = "application/x-www-form-urlencoded"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return req, nil
}

// tsaSignature is what follows the ':' of Telesign's Authorization header.
func tsaSignature(key, body []byte) string {
	h := hmac.New(sha256.New, key)
	h.Write(body)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// loadPlan is one load run: clients spread over urls (client i uses
// urls[i%len(urls)]), warm-up from start, then the measured window.
type loadPlan struct {
	urls    []string
	clients int
	start   time.Time
	warmup  time.Duration
	window  time.Duration
	rate    float64 // callbacks/s in total; 0 is closed loop
	timeout time.Duration
	maker   *callbackMaker
	seq     *atomic.Int64
}

func (p *loadPlan) windowStart() time.Time { return p.start.Add(p.warmup) }
func (p *loadPlan) windowEnd() time.Time   { return p.windowStart().Add(p.window) }

// clientStats is what one client records. Each client owns its own, so the
// loop takes no lock; they are merged after the load.
type clientStats struct {
	latency   []time.Duration // 200 replies to requests sent in the window
	acked     int             // 200 replies, whole run
	inWindow  int             // 200 replies received within the window
	sent      int
	nonOK     map[int]int
	errors    int
	firstErr  string
	lastReply time.Time
}

// loadResult is the merged outcome of a load run.
type loadResult struct {
	WindowStart, WindowEnd time.Time
	Stop                   time.Time // the last reply of the run
	Sent, Acked, InWindow  int
	Latency                []time.Duration // sorted
	NonOK                  map[int]int
	Errors                 int
	FirstError             string
}

// runLoad drives the plan's urls and returns when every client has stopped:
// at the window's end, or when ctx is done, plus at most one request's
// timeout.
func runLoad(ctx context.Context, p *loadPlan) loadResult {
	tr := &http.Transport{
		Proxy:               nil, // loopback only, whatever the environment says
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        p.clients * 2,
		MaxIdleConnsPerHost: p.clients,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: p.timeout}

	// Room for ~20k replies/s per client-window before a slice grows.
	perClient := max(1024, int(20_000*p.window.Seconds())/p.clients)
	stats := make([]clientStats, p.clients)
	var wg sync.WaitGroup
	for i := range stats {
		stats[i].latency = make([]time.Duration, 0, perClient)
		stats[i].nonOK = map[int]int{}
		wg.Go(func() { p.client(ctx, client, i, &stats[i]) })
	}
	wg.Wait()

	r := loadResult{WindowStart: p.windowStart(), WindowEnd: p.windowEnd(), NonOK: map[int]int{}}
	n := 0
	for i := range stats {
		n += len(stats[i].latency)
	}
	r.Latency = make([]time.Duration, 0, n)
	for i := range stats {
		s := &stats[i]
		r.Latency = append(r.Latency, s.latency...)
		r.Sent += s.sent
		r.Acked += s.acked
		r.InWindow += s.inWindow
		r.Errors += s.errors
		if r.FirstError == "" {
			r.FirstError = s.firstErr
		}
		for code, c := range s.nonOK {
			r.NonOK[code] += c
		}
		if s.lastReply.After(r.Stop) {
			r.Stop = s.lastReply
		}
	}
	slices.Sort(r.Latency)
	if r.Stop.IsZero() {
		r.Stop = time.Now()
	}
	return r
}

// client is one client's loop. Closed loop: send, read the reply, repeat.
// Paced: the client sends its share of the global schedule (request k of
// the run at start + k/rate, k = i, i+clients, …); when it falls behind it
// sends at once, and the latency counts from the scheduled time.
func (p *loadPlan) client(ctx context.Context, client *http.Client, i int, s *clientStats) {
	url := p.urls[i%len(p.urls)]
	winStart, winEnd := p.windowStart(), p.windowEnd()
	var timer *time.Timer
	if p.rate > 0 {
		timer = time.NewTimer(time.Hour)
		defer timer.Stop()
	}
	for k := int64(i); ; k += int64(p.clients) {
		var sched time.Time
		if p.rate > 0 {
			sched = p.start.Add(time.Duration(float64(k) / p.rate * float64(time.Second)))
			if !sched.Before(winEnd) {
				return
			}
			if d := time.Until(sched); d > 0 {
				timer.Reset(d)
				select {
				case <-ctx.Done():
					return
				case <-timer.C:
				}
			}
		} else if d := time.Until(p.start); d > 0 {
			time.Sleep(d) // the clients start together
		}
		t0 := time.Now()
		if !t0.Before(winEnd) || ctx.Err() != nil {
			return
		}
		if p.rate == 0 {
			sched = t0
		}
		phase := sentInWarmup
		if !sched.Before(winStart) {
			phase = sentInWindow
		}
		req, err := p.maker.request(ctx, url, callbackID(phase, p.seq.Add(1)))
		if err != nil {
			s.fail(err)
			return
		}
		s.sent++
		resp, err := client.Do(req)
		code := 0
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			code = resp.StatusCode
		}
		t1 := time.Now()
		s.lastReply = t1
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return // interrupted: not the service's error
			}
			s.fail(err)
		case code != http.StatusOK:
			s.nonOK[code]++
		default:
			s.acked++
			if !t1.Before(winStart) && t1.Before(winEnd) {
				s.inWindow++
			}
			if phase == sentInWindow {
				s.latency = append(s.latency, t1.Sub(sched))
			}
		}
	}
}

func (s *clientStats) fail(err error) {
	s.errors++
	if s.firstErr == "" {
		s.firstErr = err.Error()
	}
}

// percentile returns the nearest-rank p-quantile (0 < q <= 1) of sorted.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(float64(len(sorted))*q)) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
