package slack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/slack-go/slack"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/sinks"
)

// Threads keeps the anchors of a sink's threads durably, shared by every
// instance: per sink and thread key, the channel ID and ts of the thread's
// first message. The delivery workers send one message of a thread at a
// time, in order; Threads makes sure that a thread gets one first message
// even when two attempts meet (a retry after a lease ran out, another
// instance).
type Threads interface {
	// Open returns the anchor of the thread, creating an empty one owned
	// by owner until until when there is none (Anchor.Mine): then this
	// attempt posts the first message.
	Open(ctx context.Context, sink, key, delivery, owner string, until time.Time) (Anchor, error)
	// Anchor records the first message of a thread owner opened.
	Anchor(ctx context.Context, sink, key, owner, channel, ts string) error
	// Reanchor moves the thread to a new first message when its old one
	// (ts old) is gone.
	Reanchor(ctx context.Context, sink, key, old, channel, ts, delivery string) error
	// Posted records that delivery posted into the thread.
	Posted(ctx context.Context, sink, key, delivery string) error
	// Release gives up an empty thread owner opened and could not post to.
	Release(ctx context.Context, sink, key, owner string) error
}

// Anchor is where a thread is.
type Anchor struct {
	// Channel is the channel ID chat.postMessage answered (chat.update
	// needs the ID, not a name), TS the first message's timestamp: ""
	// while it is being posted.
	Channel, TS string
	// LastDelivery is the delivery that posted into the thread last (but
	// for late ones: a delivery older than it posts without becoming it).
	// Delivery ids sort by when their event was received.
	LastDelivery string
	// Mine: the first message is this attempt's to post.
	Mine bool
	// OwnedUntil is, while TS is "", when the attempt posting the first
	// message runs out of time.
	OwnedUntil time.Time
}

// SetThreads gives the sink the store of its thread anchors. Without one
// (a dry run) a sink with thread: posts every message to the channel.
func (s *Sink) SetThreads(t Threads) { s.threads = t }

// Threaded reports whether the sink threads its messages: the delivery
// workers then send its messages of one thread in order.
func (s *Sink) Threaded() bool { return s.api != nil && s.cfg.Thread != "" }

// parentGoneErrors mean a thread's first message is no longer there to
// update or reply to (deleted): the thread starts again with a new one.
var parentGoneErrors = map[string]bool{"message_not_found": true, "cant_update_message": true, "thread_not_found": true}

func apiCode(err error) string {
	var api slack.SlackErrorResponse
	if errors.As(err, &api) {
		return api.Err
	}
	return ""
}

// sendThreaded posts m into its thread: as the thread's first message, or
// as a reply (after editing the first message to show m, with
// update_parent).
func (s *Sink) sendThreaded(ctx context.Context, m *sinks.Message, p payload) error {
	owner := newOwner()
	until := s.now().Add(time.Minute)
	if d, ok := ctx.Deadline(); ok {
		until = d // the attempt cannot outlive its context
	}
	a, err := s.threads.Open(ctx, s.name, m.Thread, m.DeliveryID, owner, until)
	if err != nil {
		return fmt.Errorf("open thread: %w", err)
	}
	switch {
	case a.Mine:
		return s.startThread(ctx, m, p, owner)
	case a.TS == "":
		return &sinks.Error{Err: errors.New("the thread's first message is being posted by another attempt"),
			RetryAfter: max(a.OwnedUntil.Sub(s.now()), time.Second)}
	case a.LastDelivery == m.DeliveryID:
		// An earlier attempt of this delivery posted it, and its outcome
		// was not recorded: posting again would repeat it in the thread.
		return nil
	}
	// Delivery ids sort by when their event was received: a message older
	// than the thread's latest (a silenced or dead one retried by hand
	// after later ones went out) replies, but the parent keeps showing
	// the latest, and the latest stays the one recorded.
	late := a.LastDelivery != "" && m.DeliveryID < a.LastDelivery
	if s.cfg.UpdateParent && !late {
		err := s.update(ctx, a, parentPayload(m))
		switch code := apiCode(err); {
		case parentGoneErrors[code]:
			return s.restartThread(ctx, m, p, a)
		case code == "edit_window_closed":
			// The workspace no longer allows the edit: reply all the same.
		case err != nil:
			return err
		}
	}
	_, _, err = s.post(ctx, a.Channel, p, a.TS, s.broadcast(m.Event))
	if parentGoneErrors[apiCode(err)] {
		return s.restartThread(ctx, m, p, a)
	}
	if err != nil || late {
		return err
	}
	// Best effort: if it is lost, the message is delivered all the same;
	// only an attempt made again after a crash would repeat it.
	dctx, cancel := detached(ctx)
	defer cancel()
	_ = s.threads.Posted(dctx, s.name, m.Thread, m.DeliveryID)
	return nil
}

// startThread posts the first message of a thread this attempt owns and
// anchors the thread to it. A failed post gives the thread up, so that the
// next attempt starts it at once.
func (s *Sink) startThread(ctx context.Context, m *sinks.Message, p payload, owner string) error {
	ch, ts, err := s.post(ctx, s.cfg.Channel, p, "", false)
	dctx, cancel := detached(ctx)
	defer cancel()
	if err != nil {
		_ = s.threads.Release(dctx, s.name, m.Thread, owner)
		return err
	}
	// The message is posted: record it even if the attempt's time is up.
	// If this fails (or the process dies first), the next attempt cannot
	// know the message is there and starts the thread again: a second
	// first message, the one window left (see the README).
	if err := s.threads.Anchor(dctx, s.name, m.Thread, owner, ch, ts); err != nil {
		return fmt.Errorf("record the thread's first message (posted, ts %s): %w", ts, err)
	}
	return nil
}

// restartThread starts a thread again whose first message is gone: m
// becomes its new first message.
func (s *Sink) restartThread(ctx context.Context, m *sinks.Message, p payload, a Anchor) error {
	ch, ts, err := s.post(ctx, s.cfg.Channel, p, "", false)
	if err != nil {
		return err
	}
	dctx, cancel := detached(ctx)
	defer cancel()
	if err := s.threads.Reanchor(dctx, s.name, m.Thread, a.TS, ch, ts, m.DeliveryID); err != nil {
		return fmt.Errorf("record the thread's new first message (posted, ts %s): %w", ts, err)
	}
	return nil
}

// broadcast reports whether a reply about ev is also shown in the channel.
func (s *Sink) broadcast(ev *event.Event) bool {
	return s.cfg.Broadcast && ev != nil && ev.Final && ev.Status == event.StatusFailure
}

// post posts p to channel, in the thread of threadTS if not "", and returns
// the channel ID and ts Slack answers.
func (s *Sink) post(ctx context.Context, channel string, p payload, threadTS string, broadcast bool) (string, string, error) {
	opts := append([]slack.MsgOption{
		slack.MsgOptionText(p.text, false),
		slack.MsgOptionBlocks(p.blocks...),
	}, s.options...)
	if threadTS != "" {
		opts = append(opts, slack.MsgOptionTS(threadTS))
		if broadcast {
			opts = append(opts, slack.MsgOptionBroadcast())
		}
	}
	return s.api.PostMessageContext(ctx, channel, opts...)
}

// update replaces the thread's first message with p (chat.update).
func (s *Sink) update(ctx context.Context, a Anchor, p payload) error {
	_, _, _, err := s.api.UpdateMessageContext(ctx, a.Channel, a.TS,
		slack.MsgOptionText(p.text, false), slack.MsgOptionBlocks(p.blocks...))
	return err
}

// parentPayload is a thread's first message showing m, the thread's latest.
func parentPayload(m *sinks.Message) payload {
	p := render(m)
	p.blocks = append(p.blocks, slack.NewContextBlock("", mrkdwn("Latest status · every update is in the thread")))
	return p
}

// detached is ctx without its deadline, with a short one of its own: for
// recording what was already sent when the attempt's time ran out.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
}

// newOwner returns a token for one attempt at a thread.
func newOwner() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
