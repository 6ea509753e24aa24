package slack

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// memThreads keeps anchors in memory, with the store's semantics.
type memThreads struct {
	mu sync.Mutex
	m  map[string]*memThread
}

type memThread struct {
	Anchor
	owner string
}

func (t *memThreads) Open(_ context.Context, sink, key, delivery, owner string, until time.Time) (Anchor, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]*memThread{}
	}
	th := t.m[sink+"/"+key]
	if th == nil {
		th = &memThread{Anchor: Anchor{LastDelivery: delivery, OwnedUntil: until}, owner: owner}
		t.m[sink+"/"+key] = th
	}
	a := th.Anchor
	if a.TS == "" && (th.owner == owner || th.LastDelivery == delivery || time.Now().After(a.OwnedUntil)) {
		th.owner, th.LastDelivery, th.OwnedUntil = owner, delivery, until
		a = th.Anchor
		a.Mine = true
	}
	return a, nil
}

func (t *memThreads) with(sink, key string, f func(th *memThread) bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if th := t.m[sink+"/"+key]; th != nil && f(th) {
		return nil
	}
	return fmt.Errorf("thread lost")
}

func (t *memThreads) Anchor(_ context.Context, sink, key, owner, channel, ts string) error {
	return t.with(sink, key, func(th *memThread) bool {
		if th.owner != owner || th.TS != "" {
			return false
		}
		th.Channel, th.TS, th.owner = channel, ts, ""
		return true
	})
}

func (t *memThreads) Reanchor(_ context.Context, sink, key, old, channel, ts, delivery string) error {
	return t.with(sink, key, func(th *memThread) bool {
		if th.TS == old {
			th.Channel, th.TS, th.LastDelivery = channel, ts, delivery
		}
		return true
	})
}

func (t *memThreads) Posted(_ context.Context, sink, key, delivery string) error {
	return t.with(sink, key, func(th *memThread) bool { th.LastDelivery = delivery; return true })
}

func (t *memThreads) Release(_ context.Context, sink, key, owner string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if th := t.m[sink+"/"+key]; th != nil && th.owner == owner && th.TS == "" {
		delete(t.m, sink+"/"+key)
	}
	return nil
}

func (t *memThreads) get(key string) Anchor {
	t.mu.Lock()
	defer t.mu.Unlock()
	if th := t.m["fax-alerts/"+key]; th != nil {
		return th.Anchor
	}
	return Anchor{}
}
