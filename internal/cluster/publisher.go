package cluster

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/internal/background"
	"github.com/cuegate/cuegate/portal/store"
)

//go:embed publish.lua
var publishSource string

var publishScript = rueidis.NewLuaScript(publishSource)

// Source is what a Publisher publishes: the portal's store.
type Source interface {
	// Bindings returns every client's binding, deleted ones included.
	Bindings() []store.ClientBinding
	// OnChange registers fn to run after every change of the bindings.
	OnChange(fn func())
}

var _ Source = (*store.Store)(nil)

// PublisherOptions configures NewPublisher.
type PublisherOptions struct {
	// KeyPrefix begins the keys, before the version ("v1:"); "" means
	// "cuegate:". The followers use the same.
	KeyPrefix string
	// Interval is how often the publisher checks that Redis holds its
	// snapshot (it writes it again when not); 0 means 1s. After a failed
	// call it tries again after a quarter of it.
	Interval time.Duration
	// Timeout bounds each call to Redis; 0 means 1s.
	Timeout time.Duration
	// Logger receives a warning when Redis cannot be written and a notice
	// when it can again, once each.
	Logger zerolog.Logger
}

// Publisher writes the bindings of a Source to Redis (see the package
// documentation), from Start until Stop: at once, after each change, and
// again whenever Redis lost them. Redis being unreachable delays the
// snapshot and never the Source's writers: the newest snapshot is written
// when Redis is back. Its methods are safe for concurrent use. The client
// is the caller's, to close after Stop.
type Publisher struct {
	link
	src     Source
	now     func() time.Time // time.Now; a test's clock
	changed chan struct{}    // capacity 1: a change not yet taken
	version atomic.Int64     // the last version Redis confirmed
	loop    background.Loop
}

// NewPublisher returns a Publisher, not started, of src through client.
// It registers a hook with src.
func NewPublisher(client rueidis.Client, src Source, opts PublisherOptions) *Publisher {
	p := &Publisher{
		link:    newLink(client, opts.KeyPrefix, opts.Interval, opts.Timeout, opts.Logger),
		src:     src,
		now:     time.Now,
		changed: make(chan struct{}, 1),
	}
	src.OnChange(p.notify)
	return p
}

// notify records a change without waiting.
func (p *Publisher) notify() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

// Version returns the version of the last snapshot Redis confirmed
// holding (0 before the first).
func (p *Publisher) Version() int64 { return p.version.Load() }

// Start begins publishing; Start on a started Publisher does nothing.
func (p *Publisher) Start() { p.loop.Start(p.run) }

// Stop ends publishing and returns once a call in progress is over and,
// when a change of the Source is not yet in Redis (made meanwhile, or
// not written for Redis failing), one last call has tried to write it:
// within twice the timeout. When that fails it logs an error naming the
// version left unpublished. It does nothing on a Publisher not started.
func (p *Publisher) Stop() { p.loop.Stop() }

// pending is the snapshot a publisher is making Redis hold.
type pending struct {
	version   int64
	bindings  []store.ClientBinding
	payload   []byte
	confirmed bool // Redis stored this version from us
}

// run publishes, at once, after each change and every interval (a
// quarter of it after a failure), until ctx ends.
func (p *Publisher) run(ctx context.Context) {
	var cur pending
	dirty := true
	failing := false
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			p.flush(&cur, dirty)
			return
		case <-p.changed:
			dirty = true
		case <-timer.C:
		}
		if dirty {
			p.take(&cur)
			dirty = false
		}
		err := p.sync(&cur)
		switch {
		case err != nil && !failing:
			p.log.Warn().Err(err).Msg("bindings: cannot publish to Redis; other nodes keep the last bindings they saw until it is back")
		case err == nil && failing:
			p.log.Info().Int64("version", cur.version).Msg("bindings: published to Redis again")
		}
		failing = err != nil
		wait := p.interval
		if failing {
			wait /= 4
		}
		timer.Reset(wait)
	}
}

// take makes cur the Source's bindings now, under a new version.
func (p *Publisher) take(cur *pending) {
	cur.bindings = p.src.Bindings()
	p.setVersion(cur, 0)
}

// flush makes a last try, on stop, to write a change Redis does not hold
// yet: one not taken (dirty, or notified), or cur not confirmed. It logs
// an error when it fails: the followers keep the older bindings until a
// publisher runs again.
func (p *Publisher) flush(cur *pending, dirty bool) {
	select {
	case <-p.changed:
		dirty = true
	default:
	}
	if !dirty && cur.confirmed {
		return
	}
	if dirty {
		p.take(cur)
	}
	if err := p.sync(cur); err != nil {
		p.log.Error().Err(err).Int64("unpublished_version", cur.version).Int64("published_version", p.Version()).
			Msg("bindings: stopping with changes Redis does not hold; the other nodes keep the bindings of the version published (deleted clients included) until the portal node runs again")
	}
}

// setVersion gives cur a version above its present one and above floor,
// the clock's when it is ahead, and encodes it.
func (p *Publisher) setVersion(cur *pending, floor int64) {
	cur.version = max(max(cur.version, floor)+1, p.now().UnixMicro())
	cur.payload, _ = json.Marshal(newSnapshot(cur.version, cur.bindings)) // cannot fail: strings, times and bools
	cur.confirmed = false
}

// sync makes Redis hold cur, or a newer version of it when Redis holds
// one at least as new that is not ours or a follower raised the floor
// above it.
func (p *Publisher) sync(cur *pending) error {
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	held, floor, err := p.held(ctx)
	if err != nil {
		return err
	}
	if floor > cur.version {
		p.setVersion(cur, floor)
	}
	if held == cur.version && cur.confirmed {
		return nil
	}
	for range 3 { // another publisher (a misconfiguration) may keep winning
		if held >= cur.version {
			p.setVersion(cur, held)
		}
		reply, err := publishScript.Exec(ctx, p.client, []string{p.keys.hash},
			[]string{strconv.FormatInt(cur.version, 10), string(cur.payload), p.keys.channel}).ToString()
		if err != nil {
			return fmt.Errorf("cluster: publish bindings: %w", err)
		}
		if held, err = strconv.ParseInt(reply, 10, 64); err != nil {
			return fmt.Errorf("cluster: publish bindings: Redis holds version %q: %w", reply, err)
		}
		if held == cur.version {
			cur.confirmed = true
			p.version.Store(held)
			return nil
		}
	}
	return fmt.Errorf("cluster: publish bindings: Redis keeps holding a newer version (%d) than ours; is another portal node publishing under the same key prefix?", held)
}
