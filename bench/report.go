package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// report is the result of one run.
type report struct {
	Machine machine        `json:"machine"`
	Command string         `json:"command"`
	Options options        `json:"options"`
	Warmup  float64        `json:"warmup_s"`
	Window  float64        `json:"window_s"`
	Phases  []*phaseReport `json:"phases"`
}

// phaseReport compares the targets under one load.
type phaseReport struct {
	Name        string                        `json:"name"`
	Kind        string                        `json:"kind"`                 // the phase without its rate or run: ranges are over one kind
	Run         int                           `json:"run,omitempty"`        // 1 to -runs
	Rate        float64                       `json:"rate_per_s,omitempty"` // paced total rate; 0 for the closed loop
	Bare        targetReport                  `json:"bare"`
	Switchboard targetReport                  `json:"switchboard"`
	IntakeRatio float64                       `json:"intake_ratio"` // switchboard / bare
	Refs        []*refReport                  `json:"references,omitempty"`
	Delivery    deliveryReport                `json:"delivery"`
	PeakRSS     []int64                       `json:"peak_rss_bytes"` // VmHWM per serve instance
	Counters    map[string]map[string]float64 `json:"service_counters,omitempty"`
	Serve       *serveReport                  `json:"serve,omitempty"` // nil if a scrape at the window's edges failed
	// BareCPU and BenchCPU are the bench process's CPU time per callback
	// answered in the window (µs; 0 where not measured): in the bare
	// phase the load generator's and the bare handler's, in switchboard's
	// the load generator's and the webhook sink's.
	BareCPU  float64 `json:"bare_cpu_per_callback_us,omitempty"`
	BenchCPU float64 `json:"bench_cpu_per_callback_us,omitempty"`
}

// refReport is one of the references other than the bare handler (the
// relay, no store), driven with the phase's load after the bare handler.
type refReport struct {
	Name   string       `json:"name"`
	About  string       `json:"about"`
	Target targetReport `json:"target"`
	Ratio  float64      `json:"intake_ratio"` // switchboard / this reference
	OfBare float64      `json:"of_bare"`      // this reference / bare
	// CPU is the bench process's CPU time per callback answered in the
	// window (µs; 0 where not measured): the load generator's, the
	// reference's and the webhook sink's.
	CPU float64 `json:"cpu_per_callback_us,omitempty"`
}

// serveReport is where serve's time went in the measured window, from its
// metrics at the window's edges (summed over instances).
type serveReport struct {
	// CPUPerCallback is serve's CPU time (user + system) per callback
	// acknowledged in the window, delivery included.
	CPUPerCallback float64 `json:"cpu_per_callback_us"`
	// WriterBusy is the store writer's time in transactions per second of
	// window: its utilization (1 is one writer loop saturated).
	WriterBusy float64 `json:"writer_busy"`
	// WriterPerCallback is that time per acknowledged callback.
	WriterPerCallback float64 `json:"writer_per_callback_us"`
	Commits           float64 `json:"commits_per_s"`
	OpsPerCommit      float64 `json:"operations_per_commit"`
	MeanCommit        float64 `json:"mean_commit_ms"`
	// P99Commit is the histogram bucket bound under which 99 % of the
	// window's commits finished: whether the slow replies wait on slow
	// commits (an fsync stall) or on something else.
	P99Commit float64 `json:"p99_commit_ms,omitempty"`
}

// serveWork compares two scrapes taken window apart, during which acked
// callbacks were acknowledged.
func serveWork(start, end metrics, acked int, window time.Duration) *serveReport {
	if start == nil || end == nil || acked == 0 {
		return nil
	}
	delta := func(name string) float64 { return end.sum(name) - start.sum(name) }
	commits := delta("switchboard_store_commit_duration_seconds_count")
	busy := delta("switchboard_store_writer_busy_seconds_total")
	r := &serveReport{
		CPUPerCallback:    delta("process_cpu_seconds_total") / float64(acked) * 1e6,
		WriterBusy:        busy / window.Seconds(),
		WriterPerCallback: busy / float64(acked) * 1e6,
		Commits:           commits / window.Seconds(),
	}
	if commits > 0 {
		r.OpsPerCommit = delta("switchboard_store_committed_operations_total") / commits
		r.MeanCommit = delta("switchboard_store_commit_duration_seconds_sum") / commits * 1000
		r.P99Commit = bucketQuantile(start, end, "switchboard_store_commit_duration_seconds_bucket", 0.99) * 1000
	}
	return r
}

// bucketQuantile is the smallest bucket bound of the histogram name under
// which a fraction q of the observations between the two scrapes fall; 0
// when it has none, +Inf when they fall beyond the last bound.
func bucketQuantile(start, end metrics, name string, q float64) float64 {
	before, after := start.byLabel(name, "le"), end.byLabel(name, "le")
	type bucket struct{ le, n float64 }
	var bs []bucket
	for le, n := range after {
		bound, err := strconv.ParseFloat(le, 64) // "+Inf" parses too
		if err == nil {
			bs = append(bs, bucket{bound, n - before[le]})
		}
	}
	slices.SortFunc(bs, func(a, b bucket) int { return cmp.Compare(a.le, b.le) })
	if len(bs) == 0 || bs[len(bs)-1].n <= 0 {
		return 0
	}
	total := bs[len(bs)-1].n
	for _, b := range bs {
		if b.n >= q*total {
			return b.le
		}
	}
	return math.Inf(1)
}

// targetReport is what the load generator saw of one target.
type targetReport struct {
	Intake     float64        `json:"intake_per_s"` // 200 replies received in the window / window
	Sent       int            `json:"sent"`
	Acked      int            `json:"acked"`
	InWindow   int            `json:"acked_in_window"`
	P50        float64        `json:"latency_p50_ms"`
	P99        float64        `json:"latency_p99_ms"`
	Max        float64        `json:"latency_max_ms"`
	NonOK      map[string]int `json:"non_200,omitempty"` // by status code
	Errors     int            `json:"errors"`
	FirstError string         `json:"first_error,omitempty"`
}

// deliveryReport is what reached the sink.
type deliveryReport struct {
	Via           string  `json:"observed_via"` // webhook: the sink server; metrics: serve's delivered counter
	Expected      int     `json:"expected"`     // acknowledged callbacks, warm-up included
	Received      int     `json:"received"`     // distinct deliveries
	Duplicates    int     `json:"duplicates"`   // a webhook-id received again
	Bad           int     `json:"bad_bodies"`
	InWindow      int     `json:"in_window"`
	PerSecond     float64 `json:"per_s_in_window"`
	LagSamples    int     `json:"lag_samples"`
	LagP50        float64 `json:"lag_p50_s"`
	LagP99        float64 `json:"lag_p99_s"`
	LastAfterStop float64 `json:"last_after_load_stop_s"`
	DrainTimedOut bool    `json:"drain_timed_out"`
}

func targetFrom(r loadResult, window time.Duration) targetReport {
	t := targetReport{
		Intake: float64(r.InWindow) / window.Seconds(),
		Sent:   r.Sent, Acked: r.Acked, InWindow: r.InWindow,
		P50:    ms(percentile(r.Latency, 0.50)),
		P99:    ms(percentile(r.Latency, 0.99)),
		Max:    ms(percentile(r.Latency, 1)),
		Errors: r.Errors, FirstError: r.FirstError,
	}
	for code, n := range r.NonOK {
		if t.NonOK == nil {
			t.NonOK = map[string]int{}
		}
		t.NonOK[strconv.Itoa(code)] = n
	}
	return t
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func (r *report) writeTable(w io.Writer) {
	o := r.Options
	against := "a bare net/http handler"
	if len(r.Phases) > 0 {
		for _, ref := range r.Phases[0].Refs {
			against += ", " + ref.Name
		}
	}
	fmt.Fprintf(w, "\nSwitchboard vs %s: receiver %s, sink %s, store %s, %d instance(s), %d clients, %s warm-up + %s measured\n",
		against, o.Receiver, o.Sink, o.Store, o.Instances, o.Clients, o.Warmup, o.Duration)
	fmt.Fprintf(w, "machine: %d CPUs, %s, %s %s\n", r.Machine.CPUs, r.Machine.CPUModel, r.Machine.Go, r.Machine.OS)
	fmt.Fprintf(w, "command: %s\n", r.Command)
	for _, p := range r.Phases {
		fmt.Fprintf(w, "\n%s\n", p.Name)
		// A row has switchboard's figure, the bare handler's and their
		// ratio, then each other reference's and switchboard's ratio to
		// it: refs holds two columns per reference, those missing empty.
		row := func(name, sb, bare, ratio string, refs ...string) {
			line := fmt.Sprintf("  %-31s %17s %10s %7s", name, sb, bare, ratio)
			refs = append(refs, make([]string, 2*len(p.Refs))...)
			for i := range p.Refs {
				line += fmt.Sprintf(" %10s %7s", refs[2*i], refs[2*i+1])
			}
			fmt.Fprintln(w, strings.TrimRight(line, " "))
		}
		// each is, per reference, its figure f and, with ratio, the
		// ratio of switchboard's to it.
		each := func(f func(t targetReport) string, ratio bool) []string {
			var cols []string
			for _, ref := range p.Refs {
				r := ""
				if ratio {
					r = fmt.Sprintf("%.3f", ref.Ratio)
				}
				cols = append(cols, f(ref.Target), r)
			}
			return cols
		}
		s, b, d := p.Switchboard, p.Bare, p.Delivery
		header := []string{}
		for _, ref := range p.Refs {
			header = append(header, ref.Name, "ratio")
		}
		row("", "switchboard", "bare", "ratio", header...)
		row("intake (200 replies/s)", rate(s.Intake), rate(b.Intake), fmt.Sprintf("%.3f", p.IntakeRatio),
			each(func(t targetReport) string { return rate(t.Intake) }, true)...)
		if len(p.Refs) > 0 {
			var ofBare []string
			for _, ref := range p.Refs {
				ofBare = append(ofBare, fmt.Sprintf("%.3f", ref.OfBare), "")
			}
			row("intake / the bare handler's", fmt.Sprintf("%.3f", p.IntakeRatio), "", "", ofBare...)
		}
		row("reply latency p50", msText(s.P50), msText(b.P50), "", each(func(t targetReport) string { return msText(t.P50) }, false)...)
		row("reply latency p99", msText(s.P99), msText(b.P99), "", each(func(t targetReport) string { return msText(t.P99) }, false)...)
		row("reply latency max", msText(s.Max), msText(b.Max), "", each(func(t targetReport) string { return msText(t.Max) }, false)...)
		row("non-200 replies", nonOK(s.NonOK), nonOK(b.NonOK), "", each(func(t targetReport) string { return nonOK(t.NonOK) }, false)...)
		row("errors", strconv.Itoa(s.Errors), strconv.Itoa(b.Errors), "", each(func(t targetReport) string { return strconv.Itoa(t.Errors) }, false)...)
		if d.Via == "webhook" {
			row("end-to-end lag p50", secText(d.LagP50), "", "")
			row("end-to-end lag p99", secText(d.LagP99), "", "")
		}
		row("deliveries/s in the window", rate(d.PerSecond), "", "")
		last := secText(d.LastAfterStop)
		if d.DrainTimedOut {
			last = "timed out"
		}
		row("last delivery after load stop", last, "", "")
		row("deliveries received/expected", fmt.Sprintf("%d/%d", d.Received, d.Expected), "", "")
		row("peak RSS (VmHWM)", rssText(p.PeakRSS), "", "")
		if v := p.Serve; v != nil {
			if p.BareCPU > 0 && p.BenchCPU > 0 {
				// On cores the processes share, intake is about the cores
				// over this: the ratio column predicts the intake ratio.
				total := v.CPUPerCallback + p.BenchCPU
				var refs []string
				for _, ref := range p.Refs {
					if ref.CPU > 0 {
						refs = append(refs, fmt.Sprintf("%.0f µs", ref.CPU), fmt.Sprintf("%.3f", ref.CPU/total))
					} else {
						refs = append(refs, "", "")
					}
				}
				row("CPU per callback, all processes", fmt.Sprintf("%.0f µs", total), fmt.Sprintf("%.0f µs", p.BareCPU), fmt.Sprintf("%.3f", p.BareCPU/total), refs...)
				row("bench's own (load, webhook)", fmt.Sprintf("%.0f µs", p.BenchCPU), "", "")
			}
			row("serve CPU per callback", fmt.Sprintf("%.0f µs", v.CPUPerCallback), "", "")
			row("store writer busy", fmt.Sprintf("%.0f %%", v.WriterBusy*100), "", "")
			row("store writer per callback", fmt.Sprintf("%.0f µs", v.WriterPerCallback), "", "")
			row("commits/s, operations each", fmt.Sprintf("%.0f, %.1f", v.Commits, v.OpsPerCommit), "", "")
			row("mean commit (begin to fsync)", fmt.Sprintf("%.2f ms", v.MeanCommit), "", "")
			if v.P99Commit > 0 {
				row("99 % of commits within", fmt.Sprintf("%g ms", v.P99Commit), "", "")
			}
		}
		var notes []string
		if d.Via == "metrics" {
			notes = append(notes, "log sink: deliveries read from serve's delivered counter (polled every 250 ms); no end-to-end lag")
		} else {
			notes = append(notes, fmt.Sprintf("lag = webhook arrival - event received_at, over the %d deliveries of callbacks sent in the window", d.LagSamples))
		}
		for _, ref := range p.Refs {
			notes = append(notes, ref.Name+" = "+ref.About)
		}
		if d.DrainTimedOut {
			notes = append(notes, fmt.Sprintf("DRAIN TIMEOUT: %d of %d deliveries within -drain-timeout %s; the lag covers only those that arrived", d.Received, d.Expected, o.DrainTimeout))
		}
		if d.Duplicates > 0 || d.Bad > 0 {
			notes = append(notes, fmt.Sprintf("webhook: %d repeated webhook-id(s), %d body(ies) without received_at", d.Duplicates, d.Bad))
		}
		firstErrors := map[string]targetReport{"switchboard": s, "bare": b}
		for _, ref := range p.Refs {
			firstErrors[ref.Name] = ref.Target
		}
		for _, name := range slices.Sorted(maps.Keys(firstErrors)) {
			if t := firstErrors[name]; t.FirstError != "" {
				notes = append(notes, fmt.Sprintf("%s: first error: %s", name, t.FirstError))
			}
		}
		if c := p.Counters; c != nil {
			notes = append(notes, "serve counters: callbacks "+counterText(c["callbacks"])+"; delivery attempts "+counterText(c["delivery_attempts"]))
		}
		for _, n := range notes {
			fmt.Fprintf(w, "  %s\n", n)
		}
	}
	if r.Options.Runs > 1 {
		r.writeRanges(w)
	}
}

// writeRanges prints, for each kind of phase, the range of its main
// figures over the runs: on a shared machine one run's figure says little,
// and the README quotes ranges.
func (r *report) writeRanges(w io.Writer) {
	var kinds []string
	byKind := map[string][]*phaseReport{}
	for _, p := range r.Phases {
		if byKind[p.Kind] == nil {
			kinds = append(kinds, p.Kind)
		}
		byKind[p.Kind] = append(byKind[p.Kind], p)
	}
	for _, kind := range kinds {
		ps := byKind[kind]
		fmt.Fprintf(w, "\n%s: range over %d runs\n", kind, len(ps))
		refs := ps[0].Refs
		// A row's columns are switchboard's figure, the bare handler's,
		// their ratio and, for each other reference, its figure and
		// switchboard's ratio to it; a nil column is left empty.
		row := func(name string, text func(float64) string, cols ...func(*phaseReport) (float64, bool)) {
			n := 3 + 2*len(refs)
			cols = append(cols, make([]func(*phaseReport) (float64, bool), n)...)[:n]
			line := fmt.Sprintf("  %-31s", name)
			for i, f := range cols {
				format, width := text, 12
				switch {
				case i == 0:
					width = 17
				case i%2 == 0:
					format = func(v float64) string { return fmt.Sprintf("%.3f", v) }
				}
				var vs []float64
				for _, p := range ps {
					if f == nil {
						break
					}
					if v, ok := f(p); ok {
						vs = append(vs, v)
					}
				}
				line += fmt.Sprintf(" %*s", width, span(vs, format))
			}
			fmt.Fprintln(w, strings.TrimRight(line, " "))
		}
		always := func(f func(*phaseReport) float64) func(*phaseReport) (float64, bool) {
			return func(p *phaseReport) (float64, bool) { return f(p), true }
		}
		// refAt is the column of reference i's figure f.
		refAt := func(i int, f func(*refReport) (float64, bool)) func(*phaseReport) (float64, bool) {
			return func(p *phaseReport) (float64, bool) {
				if i >= len(p.Refs) {
					return 0, false
				}
				return f(p.Refs[i])
			}
		}
		// ofRefs is, for each reference, its figure f and, with ratio,
		// switchboard's ratio to it.
		ofRefs := func(f func(*refReport) float64, ratio bool) []func(*phaseReport) (float64, bool) {
			var cols []func(*phaseReport) (float64, bool)
			for i := range refs {
				var r func(*phaseReport) (float64, bool)
				if ratio {
					r = refAt(i, func(ref *refReport) (float64, bool) { return ref.Ratio, true })
				}
				cols = append(cols, refAt(i, func(ref *refReport) (float64, bool) { return f(ref), true }), r)
			}
			return cols
		}
		serve := func(f func(*serveReport) float64) func(*phaseReport) (float64, bool) {
			return func(p *phaseReport) (float64, bool) {
				if p.Serve == nil {
					return 0, false
				}
				return f(p.Serve), true
			}
		}
		us := func(v float64) string { return fmt.Sprintf("%.0f µs", v) }
		header := fmt.Sprintf("  %-31s %17s %12s %12s", "", "switchboard", "bare", "ratio")
		for _, ref := range refs {
			header += fmt.Sprintf(" %12s %12s", ref.Name, "ratio")
		}
		fmt.Fprintln(w, header)
		row("intake (200 replies/s)", rate, append([]func(*phaseReport) (float64, bool){
			always(func(p *phaseReport) float64 { return p.Switchboard.Intake }),
			always(func(p *phaseReport) float64 { return p.Bare.Intake }),
			always(func(p *phaseReport) float64 { return p.IntakeRatio })},
			ofRefs(func(r *refReport) float64 { return r.Target.Intake }, true)...)...)
		if len(refs) > 0 {
			row("intake / the bare handler's", func(v float64) string { return fmt.Sprintf("%.3f", v) }, append([]func(*phaseReport) (float64, bool){
				always(func(p *phaseReport) float64 { return p.IntakeRatio }), nil, nil},
				ofRefs(func(r *refReport) float64 { return r.OfBare }, false)...)...)
		}
		row("reply latency p50", msText, append([]func(*phaseReport) (float64, bool){
			always(func(p *phaseReport) float64 { return p.Switchboard.P50 }),
			always(func(p *phaseReport) float64 { return p.Bare.P50 }), nil},
			ofRefs(func(r *refReport) float64 { return r.Target.P50 }, false)...)...)
		row("reply latency p99", msText, append([]func(*phaseReport) (float64, bool){
			always(func(p *phaseReport) float64 { return p.Switchboard.P99 }),
			always(func(p *phaseReport) float64 { return p.Bare.P99 }), nil},
			ofRefs(func(r *refReport) float64 { return r.Target.P99 }, false)...)...)
		if ps[0].Delivery.Via == "webhook" {
			row("end-to-end lag p50", secText, always(func(p *phaseReport) float64 { return p.Delivery.LagP50 }))
			row("end-to-end lag p99", secText, always(func(p *phaseReport) float64 { return p.Delivery.LagP99 }))
		}
		row("last delivery after load stop", secText, always(func(p *phaseReport) float64 { return p.Delivery.LastAfterStop }))
		row("peak RSS (all instances)", func(v float64) string { return fmt.Sprintf("%.0f MiB", v) },
			always(func(p *phaseReport) float64 {
				var total int64
				for _, v := range p.PeakRSS {
					total += v
				}
				return float64(total) / (1 << 20)
			}))
		cpu := func(p *phaseReport) (float64, bool) {
			if p.Serve == nil || p.BenchCPU <= 0 || p.BareCPU <= 0 {
				return 0, false
			}
			return p.Serve.CPUPerCallback + p.BenchCPU, true
		}
		cpus := []func(*phaseReport) (float64, bool){cpu,
			func(p *phaseReport) (float64, bool) { return p.BareCPU, p.BareCPU > 0 },
			func(p *phaseReport) (float64, bool) {
				total, ok := cpu(p)
				return p.BareCPU / total, ok
			}}
		for i := range refs {
			cpus = append(cpus,
				refAt(i, func(ref *refReport) (float64, bool) { return ref.CPU, ref.CPU > 0 }),
				func(p *phaseReport) (float64, bool) {
					total, ok := cpu(p)
					if !ok || i >= len(p.Refs) || p.Refs[i].CPU <= 0 {
						return 0, false
					}
					return p.Refs[i].CPU / total, true
				})
		}
		row("CPU per callback, all processes", us, cpus...)
		row("serve CPU per callback", us, serve(func(v *serveReport) float64 { return v.CPUPerCallback }))
		row("store writer busy", func(v float64) string { return fmt.Sprintf("%.0f %%", v) },
			serve(func(v *serveReport) float64 { return v.WriterBusy * 100 }))
		row("store writer per callback", us, serve(func(v *serveReport) float64 { return v.WriterPerCallback }))
	}
}

// span is the range of vs as "low–high" in text's format, the unit written
// once; "" for no value.
func span(vs []float64, text func(float64) string) string {
	if len(vs) == 0 {
		return ""
	}
	lo, hi := text(slices.Min(vs)), text(slices.Max(vs))
	if lo == hi {
		return lo
	}
	if i := strings.LastIndexByte(lo, ' '); i > 0 && strings.HasSuffix(hi, lo[i:]) {
		lo = lo[:i]
	}
	return lo + "–" + hi
}

func rate(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }

func msText(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f ms", v)
	}
	return fmt.Sprintf("%.2f ms", v)
}

func secText(v float64) string {
	if v < 1 {
		return fmt.Sprintf("%.0f ms", v*1000)
	}
	return fmt.Sprintf("%.1f s", v)
}

func nonOK(m map[string]int) string {
	if len(m) == 0 {
		return "0"
	}
	var parts []string
	for _, code := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s:%d", code, m[code]))
	}
	return strings.Join(parts, " ")
}

func rssText(rss []int64) string {
	var total int64
	var parts []string
	for _, v := range rss {
		total += v
		parts = append(parts, fmt.Sprintf("%.0f", float64(v)/(1<<20)))
	}
	if len(rss) == 1 {
		return parts[0] + " MiB"
	}
	return fmt.Sprintf("%.0f MiB (%s)", float64(total)/(1<<20), strings.Join(parts, " + "))
}

func counterText(m map[string]float64) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%.0f", k, m[k]))
	}
	return strings.Join(parts, " ")
}
