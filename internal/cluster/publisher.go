package cluster

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"github.com/rs/zerolog"

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
	client   rueidis.Client
	src      Source
	keys     keys
	interval time.Duration
	timeout  time.Duration
	log      zerolog.Logger
	now      func() time.Time // time.Now; a test's clock
	changed  chan struct{}    // capacity 1: a change not yet taken
	version  atomic.Int64     // the last version Redis confirmed

	mu   sync.Mutex
	stop chan struct{}
	done chan struct{}
}

// NewPublisher returns a Publisher, not started, of src through client.
// It registers a hook with src.
func NewPublisher(client rueidis.Client, src Source, opts PublisherOptions) *Publisher {
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	p := &Publisher{
		client:   client,
		src:      src,
		keys:     newKeys(opts.KeyPrefix),
		interval: opts.Interval,
		timeout:  opts.Timeout,
		log:      opts.Logger,
		now:      time.Now,
		changed:  make(chan struct{}, 1),
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
func (p *Publisher) Start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stop != nil {
		return
	}
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go p.run(p.stop, p.done)
}

// Stop ends publishing and returns once a call in progress is over (within
// the timeout); it does nothing on a Publisher not started.
func (p *Publisher) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stop == nil {
		return
	}
	close(p.stop)
	<-p.done
	p.stop, p.done = nil, nil
}

// pending is the snapshot a publisher is making Redis hold.
type pending struct {
	version   int64
	bindings  []store.ClientBinding
	payload   []byte
	confirmed bool // Redis stored this version from us
}

func (p *Publisher) run(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	var cur pending
	dirty := true
	failing := false
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-stop:
			return
		case <-p.changed:
			dirty = true
		case <-timer.C:
		}
		if dirty {
			cur.bindings = p.src.Bindings()
			p.setVersion(&cur, 0)
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

// setVersion gives cur a version above its present one and above floor,
// the clock's when it is ahead, and encodes it.
func (p *Publisher) setVersion(cur *pending, floor int64) {
	cur.version = max(max(cur.version, floor)+1, p.now().UnixMicro())
	cur.payload, _ = json.Marshal(newSnapshot(cur.version, cur.bindings)) // cannot fail: strings, times and bools
	cur.confirmed = false
}

// sync makes Redis hold cur, or a newer version of it when Redis holds
// one at least as new that is not ours.
func (p *Publisher) sync(cur *pending) error {
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	held, err := heldVersion(ctx, p.client, p.keys)
	if err != nil {
		return err
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

// heldVersion returns the version Redis holds under k, 0 for none.
func heldVersion(ctx context.Context, client rueidis.Client, k keys) (int64, error) {
	v, err := client.Do(ctx, client.B().Hget().Key(k.hash).Field("version").Build()).AsInt64()
	if rueidis.IsRedisNil(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("cluster: read the bindings version: %w", err)
	}
	if v < 0 {
		return 0, errors.New("cluster: Redis holds a negative bindings version")
	}
	return v, nil
}
