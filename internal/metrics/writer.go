package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard/switchboard/internal/store"
)

// Writer registers the store writer's metrics, read from stats at each
// scrape: how busy the serialized write path is and what each group
// commit amortizes.
func (m *Metrics) Writer(stats func() store.WriterStats) {
	m.reg.MustRegister(&writerCollector{
		stats: stats,
		busy: prometheus.NewDesc("switchboard_store_writer_busy_seconds_total",
			"Time the store's group-commit writer spent in write transactions, fsync included. Its rate is the writer's utilization (per writer loop: SQLite has one); near 1, the store limits intake.", nil, nil),
		ops: prometheus.NewDesc("switchboard_store_committed_operations_total",
			"Write operations (a callback's intake, a batch of delivery outcomes, a claim…) in committed transactions; divided by the commits, what one commit amortizes.", nil, nil),
		commit: prometheus.NewDesc("switchboard_store_commit_duration_seconds",
			"Duration of each committed write transaction, from begin to the end of its commit (fsync included).", nil, nil),
	})
}

type writerCollector struct {
	stats             func() store.WriterStats
	busy, ops, commit *prometheus.Desc
}

func (c *writerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.busy
	ch <- c.ops
	ch <- c.commit
}

func (c *writerCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	ch <- prometheus.MustNewConstMetric(c.busy, prometheus.CounterValue, s.Busy.Seconds())
	ch <- prometheus.MustNewConstMetric(c.ops, prometheus.CounterValue, float64(s.Operations))
	buckets := make(map[float64]uint64, len(store.CommitBuckets))
	for i, le := range store.CommitBuckets {
		buckets[le] = s.CommitSeconds[i]
	}
	ch <- prometheus.MustNewConstHistogram(c.commit, s.Commits, s.CommitSecondsSum, buckets)
}
