package server

import (
	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/internal/store"
)

// countMatches wraps plan to remember the rules each event matched, and
// returns the func that counts them once the intake is committed: the
// planner runs inside the write transaction, which may run it again or
// fail, so counting there would count matches that were never stored.
func (s *Server) countMatches(plan store.Planner) (store.Planner, func(stored []*event.Event)) {
	if s.metrics.Match == nil {
		return plan, func([]*event.Event) {}
	}
	matched := map[string][]string{} // by event id; a re-run overwrites
	wrapped := func(ev *event.Event) []store.Planned {
		out := plan(ev)
		var rules []string
		for i, p := range out {
			// Every rule names at least one sink; its sinks are adjacent.
			if i == 0 || out[i-1].Rule != p.Rule {
				rules = append(rules, p.Rule)
			}
		}
		matched[ev.ID] = rules
		return out
	}
	count := func(stored []*event.Event) {
		for _, ev := range stored {
			for _, rule := range matched[ev.ID] {
				s.metrics.Match(rule)
			}
		}
	}
	return wrapped, count
}
