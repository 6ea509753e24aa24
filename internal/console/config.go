package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/switchboard/switchboard/internal/app"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/rules"
)

type timelineView struct {
	Subject string
	Events  []timelineEvent
}

type timelineEvent struct {
	*store.StoredEvent
	Pretty      string
	Description string // the vendor's words for the status
}

// subject is one subject's timeline: every event of the fax or SMS in the
// order it came in, each with the deliveries it caused.
func (c *Console) subject(w http.ResponseWriter, r *http.Request) {
	subject := r.PathValue("subject")
	// The vendors' events, and Switchboard's own about the subject (an
	// expectation that ran out for it).
	sources := []string{rules.Source}
	for _, rc := range c.rt.Config().File.Receivers {
		if !slices.Contains(sources, rc.Type) {
			sources = append(sources, rc.Type)
		}
	}
	evs, err := c.rt.Store().Timeline(r.Context(), sources, subject)
	if err != nil {
		c.storeFailed(w, r, "timeline", err)
		return
	}
	v := timelineView{Subject: subject}
	for _, e := range evs {
		var ev struct{ Description string }
		_ = json.Unmarshal(e.JSON, &ev) // an event that does not decode shows without it
		v.Events = append(v.Events, timelineEvent{StoredEvent: e, Pretty: pretty(e.JSON), Description: ev.Description})
	}
	c.render(w, r, http.StatusOK, "subject", "Subject "+subject, "deliveries", v)
}

type rulesView struct {
	Status app.ConfigStatus
	Path   string
	Rules  []ruleRow
	Sinks  []sinkRow
}

type ruleRow struct {
	Name, When, To, Throttle string
	Line, Matches            int
	Stop                     bool
}

type sinkRow struct {
	Name, Type, Rate, OldestDue string
	Pending, Dead, NoSink       int
	Concurrency                 int
}

// rules is the running configuration: its hash and load time, the last
// reload's outcome, each rule with its condition and match count, and
// each sink with its queue.
func (c *Console) rules(w http.ResponseWriter, r *http.Request) {
	b := c.rt.Config()
	v := rulesView{Status: c.rt.Status(), Path: b.File.Path}
	for _, ru := range b.File.Router.Rules() {
		row := ruleRow{Name: ru.Name, When: ru.When, To: strings.Join(ru.To, ", "), Line: ru.Line, Stop: ru.Stop, Matches: c.rt.Matches(ru.Name)}
		if ru.Throttle != nil {
			row.Throttle = ru.Throttle.Window.String()
		}
		v.Rules = append(v.Rules, row)
	}
	stats, err := c.rt.Store().Stats(r.Context())
	if err != nil {
		c.storeFailed(w, r, "queue stats", err)
		return
	}
	rows := map[string]*sinkRow{}
	for _, t := range b.Targets {
		row := &sinkRow{Name: t.Name, Rate: "no limit", OldestDue: "none due", Concurrency: t.Delivery.Concurrency}
		if rl, ok := t.Sink.(interface{ Rate() float64 }); ok && rl.Rate() > 0 {
			row.Rate = fmt.Sprintf("%g/s", rl.Rate())
		}
		rows[t.Name] = row
	}
	for _, s := range b.File.Sinks {
		if row := rows[s.Name]; row != nil {
			row.Type = s.Type
		}
	}
	for _, st := range stats {
		row := rows[st.Sink]
		if row == nil { // a sink no longer configured that still has deliveries
			row = &sinkRow{Name: st.Sink, Type: "not configured", Rate: "-", OldestDue: "none due"}
			rows[st.Sink] = row
		}
		switch st.State {
		case store.StatePending:
			row.Pending = st.Count
			if !st.OldestDue.IsZero() {
				row.OldestDue = ago(st.OldestDue)
			}
		case store.StateDead:
			row.Dead = st.Count
		case store.StateNoSink:
			row.NoSink = st.Count
		}
	}
	for _, row := range rows {
		v.Sinks = append(v.Sinks, *row)
	}
	slices.SortFunc(v.Sinks, func(a, b sinkRow) int { return strings.Compare(a.Name, b.Name) })
	c.render(w, r, http.StatusOK, "rules", "Rules and sinks", "rules", v)
}
