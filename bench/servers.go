package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// localServer is an HTTP server on a loopback port, owned by the bench.
type localServer struct {
	srv  *http.Server
	url  string
	done chan struct{}
}

func startServer(h http.Handler) (*localServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &localServer{
		srv:  &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second},
		url:  "http://" + ln.Addr().String(),
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln) // ErrServerClosed after close
	}()
	return s, nil
}

// close stops the server and waits for its serving goroutine.
func (s *localServer) close() {
	_ = s.srv.Close()
	<-s.done
}

// bareHandler is the baseline: it reads the callback and says OK, which is
// all a vendor needs and the least any callback receiver can do.
func bareHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "OK")
	})
}

// referencePath is where the references (the relay, no store) post on the
// webhook server, which reads those requests and answers 200 without
// recording them.
const referencePath = "/reference"

// relayHandler is the least a webhook forwarder can do: it reads the
// callback, POSTs it unchanged to the URL to, and answers 200 once that POST
// is answered with a 2xx, over at most conns keep-alive connections. It
// stores nothing, evaluates no rule and builds no event, so on the same
// cores no forwarder, durable or not, can outrun it: it shows what the cost
// of one more HTTP exchange per callback leaves of the bare handler's
// intake.
func relayHandler(to string, conns int) http.Handler {
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		Proxy: nil, MaxIdleConns: conns, MaxIdleConnsPerHost: conns,
	}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		resp, err := c.Post(to, r.Header.Get("Content-Type"), bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			http.Error(w, "webhook server answered "+resp.Status, http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "OK")
	})
}

// delivery is one webhook request the sink received first for its
// webhook-id.
type delivery struct {
	at         time.Time // when the request arrived
	receivedAt time.Time // the event's received_at: when serve accepted the callback
	phase      int       // sentInWarmup, sentInWindow, or 0 if the subject is not ours
}

// recorder is the webhook sink's destination. It answers 200 at once and
// records each delivery once per webhook-id; repeats are counted.
type recorder struct {
	mu         sync.Mutex
	seen       map[string]struct{}
	deliveries []delivery
	duplicates int
	bad        int // bodies that are not an event with received_at
	last       time.Time
}

func newRecorder() *recorder { return &recorder{seen: map[string]struct{}{}} }

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == referencePath {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
		return
	}
	at := time.Now()
	body, err := io.ReadAll(r.Body)
	var ev eventStamp
	if err == nil {
		err = ev.parse(body)
	}
	id := r.Header.Get("webhook-id")
	if id == "" {
		id = "subject:" + ev.Subject
	}
	rc.mu.Lock()
	switch _, dup := rc.seen[id]; {
	case err != nil || ev.ReceivedAt.IsZero():
		rc.bad++
	case dup:
		rc.duplicates++
	default:
		rc.seen[id] = struct{}{}
		rc.deliveries = append(rc.deliveries, delivery{at: at, receivedAt: ev.ReceivedAt, phase: sentPhase(ev.Subject)})
		rc.last = at
	}
	rc.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// eventStamp is what the recorder needs of a delivered event.
type eventStamp struct {
	Subject    string    `json:"subject"`
	ReceivedAt time.Time `json:"received_at"`
}

// parse reads the two fields from an event's JSON. The sink is part of the
// measuring machinery and shares the cores with serve, so it finds them
// where serve writes them, as the event's first "subject" and "received_at"
// keys (every key before them is fixed and quotes inside strings are
// escaped), instead of decoding the whole event: that cost 20 µs per
// delivery, a tenth of the bench's own CPU. A body it cannot read that way
// is decoded in full.
func (ev *eventStamp) parse(body []byte) error {
	subject, ok1 := jsonString(body, "subject")
	at, ok2 := jsonString(body, "received_at")
	if ok1 && ok2 {
		t, err := time.Parse(time.RFC3339Nano, at)
		if err == nil {
			ev.Subject, ev.ReceivedAt = subject, t
			return nil
		}
	}
	return json.Unmarshal(body, ev)
}

// jsonString returns the value of the first "key":"value" in body, if it
// holds no escape.
func jsonString(body []byte, key string) (string, bool) {
	_, rest, ok := bytes.Cut(body, []byte(`"`+key+`":"`))
	if !ok {
		return "", false
	}
	end := bytes.IndexAny(rest, `"\`)
	if end < 0 || rest[end] != '"' {
		return "", false
	}
	return string(rest[:end]), true
}

// reset forgets everything, for the next phase.
func (rc *recorder) reset() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.seen = map[string]struct{}{}
	rc.deliveries = nil
	rc.duplicates, rc.bad = 0, 0
	rc.last = time.Time{}
}

// progress returns the number of distinct deliveries and when the last one
// arrived.
func (rc *recorder) progress() (int, time.Time) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.deliveries), rc.last
}

// snapshot returns a copy of what was received.
func (rc *recorder) snapshot() (ds []delivery, duplicates, bad int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.deliveries...), rc.duplicates, rc.bad
}

// metrics is one scrape of a /metrics endpoint: each sample line's series
// (name{labels}) and value.
type metrics map[string]float64

// scrape reads the Prometheus text format from an admin address.
func scrape(ctx context.Context, c *http.Client, admin string) (metrics, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	m := metrics{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			m[line[:i]] = v
		}
	}
	return m, sc.Err()
}

// sum adds the samples of the metric name whose labels include every
// key="value" in labels.
func (m metrics) sum(name string, labels ...string) float64 {
	var total float64
	for series, v := range m {
		rest, ok := strings.CutPrefix(series, name)
		if !ok || (rest != "" && rest[0] != '{') {
			continue
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			if !strings.Contains(rest, labels[i]+"="+strconv.Quote(labels[i+1])) {
				match = false
				break
			}
		}
		if match {
			total += v
		}
	}
	return total
}

// byLabel sums the metric name per value of one label.
func (m metrics) byLabel(name, label string) map[string]float64 {
	out := map[string]float64{}
	for series, v := range m {
		rest, ok := strings.CutPrefix(series, name+"{")
		if !ok {
			continue
		}
		_, after, ok := strings.Cut(rest, label+`="`)
		if !ok {
			continue
		}
		val, _, ok := strings.Cut(after, `"`)
		if ok {
			out[val] += v
		}
	}
	return out
}

// scrapeAll adds up the scrapes of several instances.
func scrapeAll(ctx context.Context, c *http.Client, admins []string) (metrics, error) {
	total := metrics{}
	var errs []error
	for _, a := range admins {
		m, err := scrape(ctx, c, a)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a, err))
			continue
		}
		for k, v := range m {
			total[k] += v
		}
	}
	return total, errors.Join(errs...)
}
