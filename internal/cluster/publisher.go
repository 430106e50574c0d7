package cluster

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/background"
	"github.com/cuegate/cuegate/portal/store"
)

//go:embed publish.lua
var publishSource string

var publishScript = rueidis.NewLuaScript(publishSource)

// Source is what a Publisher publishes: the portal's store.
type Source interface {
	// Bindings returns every client's binding, deleted ones included, in
	// a slice of the caller's own, sorted by ClientID.
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
// when Redis is back. A deletion, which must not wait for Redis, goes
// through Revoke first. Its methods are safe for concurrent use. The
// client is the caller's, to close after Stop.
type Publisher struct {
	link
	src     Source
	now     func() time.Time // time.Now; a test's clock
	changed chan struct{}    // capacity 1: a change not yet taken
	version atomic.Int64     // the last version Redis confirmed
	loop    background.Loop

	turn     turn           // guards cur and revoking, across the calls to Redis
	cur      pending        // the snapshot Redis is made to hold
	revoking map[string]int // clients revoked ahead of the Source, by callers of Revoke
}

// turn is a lock whose wait a context can end.
type turn chan struct{}

// take waits for the lock, or for ctx's end (its error).
func (t turn) take(ctx context.Context) error {
	select {
	case t <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// wait waits for the lock.
func (t turn) wait() { t <- struct{}{} }

// give releases the lock.
func (t turn) give() { <-t }

// NewPublisher returns a Publisher, not started, of src through client.
// It registers a hook with src.
func NewPublisher(client rueidis.Client, src Source, opts PublisherOptions) *Publisher {
	p := &Publisher{
		link:     newLink(client, opts.KeyPrefix, opts.Interval, opts.Timeout, opts.Logger),
		src:      src,
		now:      time.Now,
		changed:  make(chan struct{}, 1),
		turn:     make(turn, 1),
		revoking: map[string]int{},
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
// within three times the timeout (a Revoke in progress may hold the
// publisher for one). When that fails it logs an error naming the
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
	dirty := true
	failing := false
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			p.flush(dirty)
			return
		case <-p.changed:
			dirty = true
		case <-timer.C:
		}
		err := p.publish(dirty)
		dirty = false
		switch {
		case err != nil && !failing:
			p.log.Warn().Err(err).Msg("bindings: cannot publish to Redis; other nodes keep the last bindings they saw until it is back")
		case err == nil && failing:
			p.log.Info().Int64("version", p.Version()).Msg("bindings: published to Redis again")
		}
		failing = err != nil
		wait := p.interval
		if failing {
			wait /= 4
		}
		timer.Reset(wait)
	}
}

// publish makes Redis hold the snapshot, taking the Source's bindings
// first when dirty, within the timeout.
func (p *Publisher) publish(dirty bool) error {
	p.turn.wait()
	defer p.turn.give()
	return p.publishHeld(dirty)
}

// publishHeld is publish with p.turn held.
func (p *Publisher) publishHeld(dirty bool) error {
	if dirty {
		p.take()
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	return p.sync(ctx)
}

// Revoke makes Redis hold a snapshot in which clientIDs are revoked, ahead
// of the Source, so that a deletion is known to the other nodes before it
// is made: it returns once Redis confirmed one, or the error why it did
// not (Redis unreachable, ctx's end, twice the timeout, which bounds the
// wait for a call in progress too), and then nothing stays revoked ahead
// and release is nil. After a success every snapshot keeps
// them revoked until release is called: the caller makes its change of
// the Source (the deletion), whether it succeeds or fails, and then calls
// release, after which the Source's own bindings are published.
func (p *Publisher) Revoke(ctx context.Context, clientIDs []string) (release func(), err error) {
	ctx, cancel := context.WithTimeout(ctx, 2*p.timeout)
	defer cancel()
	if err := p.turn.take(ctx); err != nil {
		return nil, fmt.Errorf("cluster: revoke: waiting for the publish in progress: %w", err)
	}
	defer p.turn.give()
	for _, id := range clientIDs {
		p.revoking[id]++
	}
	p.take()
	sctx, scancel := context.WithTimeout(ctx, p.timeout)
	defer scancel()
	if err := p.sync(sctx); err != nil {
		p.forget(clientIDs)
		p.take() // what the loop publishes next: the Source as it is
		p.notify()
		return nil, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			p.turn.wait()
			p.forget(clientIDs)
			p.turn.give()
			p.notify()
		})
	}, nil
}

// forget ends the revocation ahead of clientIDs by one caller. p.turn is
// held.
func (p *Publisher) forget(clientIDs []string) {
	for _, id := range clientIDs {
		if p.revoking[id]--; p.revoking[id] <= 0 {
			delete(p.revoking, id)
		}
	}
}

// take makes cur the Source's bindings now, with the clients revoked
// ahead revoked, under a new version; when they are cur's bindings, cur
// stands, version and all. p.turn is held.
func (p *Publisher) take() {
	bs := p.src.Bindings()
	for id := range p.revoking {
		i, found := slices.BinarySearchFunc(bs, id, func(b store.ClientBinding, id string) int { return strings.Compare(b.ClientID, id) })
		if found {
			bs[i].Binding = table.Binding{Revoked: true}
		} else {
			bs = slices.Insert(bs, i, store.ClientBinding{ClientID: id, Binding: table.Binding{Revoked: true}})
		}
	}
	if p.cur.payload != nil && slices.EqualFunc(bs, p.cur.bindings, sameClientBinding) {
		return // a change of what no node reads (a name, a secret): the snapshot stands
	}
	p.cur.bindings = bs
	p.setVersion(0)
}

func sameClientBinding(a, b store.ClientBinding) bool {
	return a.ClientID == b.ClientID && a.Binding.Equal(b.Binding)
}

// flush makes a last try, on stop, to write a change Redis does not hold
// yet: one not taken (dirty, or notified), or cur not confirmed. It logs
// an error when it fails: the followers keep the older bindings until a
// publisher runs again.
func (p *Publisher) flush(dirty bool) {
	select {
	case <-p.changed:
		dirty = true
	default:
	}
	p.turn.wait()
	defer p.turn.give()
	if !dirty && p.cur.confirmed {
		return
	}
	if err := p.publishHeld(dirty); err != nil {
		p.log.Error().Err(err).Int64("unpublished_version", p.cur.version).Int64("published_version", p.Version()).
			Msg("bindings: stopping with changes Redis does not hold; the other nodes keep the bindings of the version published (deleted clients included) until the portal node runs again")
	}
}

// setVersion gives cur a version above its present one and above floor,
// the clock's when it is ahead, and encodes it. p.turn is held.
func (p *Publisher) setVersion(floor int64) {
	cur := &p.cur
	cur.version = max(max(cur.version, floor)+1, p.now().UnixMicro())
	cur.payload, _ = json.Marshal(newSnapshot(cur.version, cur.bindings)) // cannot fail: strings, times and bools
	cur.confirmed = false
}

// sync makes Redis hold cur, or a newer version of it when Redis holds
// one at least as new that is not ours or a follower raised the floor
// above it. p.turn is held.
func (p *Publisher) sync(ctx context.Context) error {
	cur := &p.cur
	held, floor, err := p.held(ctx)
	if err != nil {
		return err
	}
	if floor > cur.version {
		p.setVersion(floor)
	}
	if held == cur.version && cur.confirmed {
		return nil
	}
	for range 3 { // another publisher (a misconfiguration) may keep winning
		if held >= cur.version {
			p.setVersion(held)
		}
		if cur.version >= maxVersion {
			return p.versionsExhausted(cur.version)
		}
		reply, err := p.publishCur(ctx)
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

// publishCur runs the publishing script for cur and returns its reply. A
// run whose connection failed (Redis may have run it, and its answer was
// lost, as right after a restart) is made once more on the connection
// that replaces it: the script stores a version once, so running it again
// only reads what a first run stored. p.turn is held.
func (p *Publisher) publishCur(ctx context.Context) (string, error) {
	args := []string{strconv.FormatInt(p.cur.version, 10), string(p.cur.payload), p.keys.channel}
	reply, err := publishScript.Exec(ctx, p.client, []string{p.keys.hash}, args).ToString()
	if _, refused := rueidis.IsRedisErr(err); err != nil && !refused && ctx.Err() == nil {
		reply, err = publishScript.Exec(ctx, p.client, []string{p.keys.hash}, args).ToString()
	}
	return reply, err
}
