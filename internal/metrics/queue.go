package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard/switchboard/internal/store"
)

// scrapeTimeout bounds the store query of one scrape.
const scrapeTimeout = 5 * time.Second

// queueCollector reads the queue from the store at each scrape, so the
// numbers are right after a restart and across instances sharing a store,
// and nothing has to be kept in step on every state change.
type queueCollector struct {
	stats  Stats
	log    *slog.Logger
	now    func() time.Time
	depth  *prometheus.Desc
	oldest *prometheus.Desc
	up     *prometheus.Desc
}

func newQueueCollector(stats Stats, log *slog.Logger) *queueCollector {
	return &queueCollector{
		stats: stats,
		log:   log,
		now:   time.Now,
		depth: prometheus.NewDesc("switchboard_queue_depth",
			"Deliveries waiting in the store, by sink and state (pending: to be sent or retried; dead: given up, retry by command).",
			[]string{"sink", "state"}, nil),
		oldest: prometheus.NewDesc("switchboard_queue_oldest_due_age_seconds",
			"How long the oldest pending delivery of a sink has been due (0 when none is due).",
			[]string{"sink"}, nil),
		up: prometheus.NewDesc("switchboard_store_up",
			"Whether the store answered the queue query of this scrape.", nil, nil),
	}
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.oldest
	ch <- c.up
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	stats, err := c.stats(ctx)
	if err != nil {
		if c.log != nil {
			c.log.Warn("metrics: queue stats", "err", err)
		}
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	now := c.now()
	for _, s := range stats {
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(s.Count), s.Sink, s.State)
		if s.State != store.StatePending {
			continue
		}
		age := 0.0
		if !s.OldestDue.IsZero() && now.After(s.OldestDue) {
			age = now.Sub(s.OldestDue).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age, s.Sink)
	}
}
