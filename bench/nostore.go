package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/internal/app"
	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/internal/server"
	"github.com/switchboard/switchboard/receivers"
	"github.com/switchboard/switchboard/sinks"
)

// noStoreHandler is Switchboard without its store: the receivers, rules and
// sinks of the configuration at path, built by serve's own code, in a
// handler that takes a callback in as serve does (server.Decode: the
// receiver's checks, body limit, verification and parser), routes each
// event, encodes it and sends each match through its sink (at most the
// sink's concurrency at a time, as serve's workers send), then answers
// with the receiver's reply once every send succeeded. It keeps nothing:
// no event or delivery is written, nothing is retried, and no subject state
// is kept (every event's previous_status is empty). Its intake is what
// serve's pipeline reaches on these cores when the store costs nothing, so
// the gap between it and serve is the whole of the store's cost, and the
// gap between it and the bare handler what no store could give back. It
// shares the bench's process (one runtime with the load generator), which
// flatters it a little, as it does the bare handler.
//
// The sinks' log lines, if any, go to logTo at warn level, as serve's do
// under the bench's --log-level warn.
func noStoreHandler(path string, logTo io.Writer) (http.Handler, error) {
	log := slog.New(slog.NewJSONHandler(logTo, &slog.HandlerOptions{Level: slog.LevelWarn}))
	built, err := app.Load(path, log)
	if err != nil {
		return nil, err
	}
	rt := built.Routing
	// Each sink sends at most its concurrency at once, as serve's delivery
	// workers do: more would open connections its client does not keep.
	type target struct {
		sink  sinks.Sink
		slots chan struct{}
	}
	byName := map[string]target{}
	for _, t := range built.Targets {
		byName[t.Name] = target{t.Sink, make(chan struct{}, t.Delivery.Concurrency)}
	}
	var seq atomic.Uint64
	// send routes ev and sends each of its matches once.
	send := func(ctx context.Context, ev *event.Event) error {
		res := rt.Router.Route(ev) // a rule that fails is skipped, as serve does
		if len(res.Matches) == 0 {
			return nil
		}
		body, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		for _, m := range res.Matches {
			t := byName[m.Sink]
			t.slots <- struct{}{}
			err := t.sink.Send(ctx, &sinks.Message{
				DeliveryID: "nostore-" + strconv.FormatUint(seq.Add(1), 10),
				Rule:       m.Rule, Title: m.Title, Text: m.Text, Templated: m.Templated,
				Event: ev, EventJSON: body, Attempt: 1, Thread: m.Thread,
			})
			<-t.slots
			if err != nil {
				return err
			}
		}
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/hooks/")
		rc := rt.Receivers[name]
		if rc == nil || r.Method != http.MethodPost {
			http.Error(w, "POST /hooks/<receiver> only", http.StatusNotFound)
			return
		}
		events, err := server.Decode(w, r, server.Callback{Receiver: rc, Name: name, BodyLimit: rt.BodyLimit}, time.Now())
		for _, ev := range events {
			if err != nil {
				break
			}
			if err = send(r.Context(), ev); err != nil {
				err = &receivers.Error{Status: http.StatusBadGateway, Msg: err.Error(), Err: err}
			}
		}
		rc.Reply(w, r, events, err)
	}), nil
}
