package app

import (
	"context"
	"errors"
	"time"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/rules"
	"github.com/switchboard/switchboard/sinks/slack"
)

// A Slack sink's thread: is an expr key over the event, compiled by package
// rules (as a throttle key) and evaluated at intake, where the router sets
// each match's thread key; the store keeps it with the delivery and claims
// a thread's deliveries in order; the sink keeps its threads' anchors in
// the store, handed to it once the store is open (attach).

// buildSlack builds a Slack sink and compiles its thread key.
func (b *Built) buildSlack(c rules.Component) (*slack.Sink, error) {
	var cfg slack.Config
	if err := b.decode("sink", c, &cfg); err != nil {
		return nil, err
	}
	s, err := slack.New(c.Name, cfg)
	if err != nil || cfg.Thread == "" {
		return s, err
	}
	key, err := rules.CompileKey(cfg.Thread)
	if err != nil {
		return nil, config.Errors{config.KeyErrorf("thread", "thread: %v", err)}
	}
	if b.threaded == nil {
		b.threaded, b.threadKeys = map[string]*slack.Sink{}, map[string]*rules.Key{}
	}
	b.threaded[c.Name], b.threadKeys[c.Name] = s, key
	return s, nil
}

// attach gives the threaded sinks of b the store that keeps their threads'
// anchors. Call it before b's targets run.
func (b *Built) attach(st *store.Store) {
	for _, s := range b.threaded {
		s.SetThreads(storeThreads{st})
	}
}

// storeThreads keeps a Slack sink's thread anchors in the store.
type storeThreads struct{ st *store.Store }

func (t storeThreads) Open(ctx context.Context, sink, key, delivery, owner string, until time.Time) (slack.Anchor, error) {
	th, err := t.st.OpenThread(ctx, sink, key, delivery, owner, until)
	return slack.Anchor{Channel: th.Channel, TS: th.TS, LastDelivery: th.LastDelivery, Mine: th.Mine, OwnedUntil: th.OwnedUntil}, err
}

func (t storeThreads) Anchor(ctx context.Context, sink, key, owner, channel, ts string) error {
	err := t.st.AnchorThread(ctx, sink, key, owner, channel, ts)
	if errors.Is(err, store.ErrThreadLost) {
		// This attempt ran out of time and another took the thread over:
		// its first message is the other's, this one stays a message of
		// its own in the channel.
		return nil
	}
	return err
}

func (t storeThreads) Reanchor(ctx context.Context, sink, key, old, channel, ts, delivery string) error {
	return t.st.ReanchorThread(ctx, sink, key, old, channel, ts, delivery)
}

func (t storeThreads) Posted(ctx context.Context, sink, key, delivery string) error {
	return t.st.ThreadPosted(ctx, sink, key, delivery)
}

func (t storeThreads) Release(ctx context.Context, sink, key, owner string) error {
	return t.st.ReleaseThread(ctx, sink, key, owner)
}

var _ slack.Threads = storeThreads{}
