package cluster

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/atomicfile"
	"github.com/cuegate/cuegate/internal/background"
	"github.com/cuegate/cuegate/runtime"
)

//go:embed floor.lua
var floorSource string

var floorScript = rueidis.NewLuaScript(floorSource)

// FollowerOptions configures NewFollower.
type FollowerOptions struct {
	// KeyPrefix begins the keys, before the version ("v1:"); "" means
	// "cuegate:". The publisher uses the same.
	KeyPrefix string
	// File is where the follower keeps the last snapshot it took, to start
	// from while Redis is unreachable; "" means nowhere. A symbolic link is
	// followed, and kept, on every write.
	File string
	// Interval is how often the follower polls the version, should a
	// notification be lost; 0 means 1s.
	Interval time.Duration
	// Timeout bounds each call to Redis; 0 means 1s.
	Timeout time.Duration
	// Logger receives a warning when Redis cannot be read, a notice when
	// it can again (once each), and the snapshots refused.
	Logger zerolog.Logger
	// MaxAge, when positive, bounds how long the follower answers with a
	// snapshot it could not check against Redis (see Ready); 0 means no
	// bound.
	MaxAge time.Duration
}

// Follower answers for the clients of the snapshots a Publisher writes to
// Redis, taking the newer ones from Start until Stop (see the package
// documentation). It never goes back to an older version.
//
// Binding, Ready and Version are safe for concurrent use, take no lock
// and never wait for Redis; Binding does not allocate. Before the first
// snapshot (from Redis or the file), and with MaxAge once the snapshot
// has gone unchecked for longer, the follower is not Ready and Binding
// reports every client as found and revoked, so that a gateway serving
// then fails closed. The client is the caller's, to close after Stop.
type Follower struct {
	link
	file   string
	cur    atomic.Pointer[index] // nil until the first snapshot
	wake   chan struct{}         // capacity 1: a notification not yet taken
	loop   background.Loop
	maxAge time.Duration
	// checked is the confirmation in force (see confirm), nil for none.
	checked atomic.Pointer[confirmation]
}

// confirmation is when a read of Redis began that found the publisher's
// snapshot of the version in use, or of a newer one, and no floor above
// it: mono on the monotonic clock, wall on the wall clock, which also
// runs while the system is suspended.
type confirmation struct{ mono, wall time.Time }

var _ runtime.Bindings = (*Follower)(nil)

// NewFollower returns a Follower, not started, that reads Redis through
// client, with the snapshot in opts.File when there is one. A File that
// group or others may write, or in a directory in which they may replace
// it (its own or one above, along a symbolic link too), or that does not
// hold a valid snapshot, is an error naming it (it is left as it is).
func NewFollower(client rueidis.Client, opts FollowerOptions) (*Follower, error) {
	f := &Follower{
		link:   newLink(client, opts.KeyPrefix, opts.Interval, opts.Timeout, opts.Logger),
		file:   opts.File,
		wake:   make(chan struct{}, 1),
		maxAge: opts.MaxAge,
	}
	if f.file != "" {
		s, err := readFile(f.file)
		if err != nil {
			return nil, err
		}
		if s != nil {
			f.cur.Store(newIndex(s))
		}
	}
	return f, nil
}

// Binding reports the registration of clientID in the newest snapshot,
// as runtime.Bindings describes; while the follower is not Ready, every
// client is found and revoked.
func (f *Follower) Binding(clientID string) (b table.Binding, found bool) {
	x := f.cur.Load()
	if x == nil || f.stale() {
		return table.Binding{Revoked: true}, true
	}
	b, ok := x.clients[clientID]
	return b, ok
}

// Ready reports whether the follower has a snapshot, from Redis or its
// file, and, with MaxAge, one that a read of Redis begun within MaxAge
// confirmed (see confirm): otherwise the node must not serve. A Redis
// holding no snapshot, or an older one, confirms nothing.
func (f *Follower) Ready() bool { return f.cur.Load() != nil && !f.stale() }

// stale reports whether MaxAge has passed since Redis last confirmed the
// snapshot in use (or never did), by either clock.
func (f *Follower) stale() bool {
	if f.maxAge <= 0 {
		return false
	}
	c := f.checked.Load()
	if c == nil {
		return true
	}
	now := time.Now()
	return now.Sub(c.mono) > f.maxAge || now.Round(0).Sub(c.wall) > f.maxAge
}

// confirm records that a read of Redis begun at began found the
// publisher's snapshot of the version in use, or of a newer one it took,
// and no floor above it.
func (f *Follower) confirm(began time.Time) {
	f.checked.Store(&confirmation{mono: began, wall: began.Round(0)})
}

// withdraw records that the snapshot in use is known to be outrun: no
// confirmation of it stands.
func (f *Follower) withdraw() { f.checked.Store(nil) }

// judge confirms the snapshot in use, version v, by a read begun at
// began, unless above, the greatest version or floor the read saw, says
// a node holds a newer one: then it withdraws any confirmation.
func (f *Follower) judge(v, above int64, began time.Time) {
	if above > v {
		f.withdraw()
	} else {
		f.confirm(began)
	}
}

// Version returns the version of the snapshot in use, 0 for none.
func (f *Follower) Version() int64 {
	if t := f.cur.Load(); t != nil {
		return t.version
	}
	return 0
}

// Start begins following Redis; Start on a started Follower does nothing.
func (f *Follower) Start() { f.loop.Start(f.listen, f.poll) }

// Stop ends following and returns once a call in progress is over; it
// does nothing on a Follower not started. The follower keeps answering
// with the snapshot it has.
func (f *Follower) Stop() { f.loop.Stop() }

// poke asks the poller to look at Redis now, without waiting.
func (f *Follower) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// listen subscribes to the channel, and again after each loss of the
// connection, poking the poller on every message and after every
// reconnection (the messages sent meanwhile are lost).
func (f *Follower) listen(ctx context.Context) {
	subscribe := f.client.B().Subscribe().Channel(f.keys.channel).Build()
	for {
		f.client.Receive(ctx, subscribe, func(rueidis.PubSubMessage) { f.poke() })
		select {
		case <-ctx.Done():
			return
		case <-time.After(f.interval / 4):
			f.poke()
		}
	}
}

// poll takes the newer snapshots: at once, when poked, and every interval.
func (f *Follower) poll(ctx context.Context) {
	tick := time.NewTicker(f.interval)
	defer tick.Stop()
	st := pollState{held: -1}
	for {
		held, err := f.refresh(ctx)
		if ctx.Err() != nil {
			return
		}
		f.report(&st, held, err)
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		case <-tick.C:
		}
	}
}

// pollState is what poll remembers to log each condition once.
type pollState struct {
	stale   bool  // MaxAge had passed unchecked at the last report
	failing bool  // the last call to Redis failed
	held    int64 // the version Redis held at the last answer; -1 before
	refused int64 // the last version refused as not valid
}

// report logs what a refresh found when it differs from the last time.
func (f *Follower) report(st *pollState, held int64, err error) {
	if stale := f.stale() && f.cur.Load() != nil; stale != st.stale {
		if stale {
			f.log.Error().Dur("max_age", f.maxAge).Int64("version", f.Version()).Msg("bindings: not checked against Redis within max_bindings_age, or another node announced newer bindings; this node is not ready until it has the newest")
		} else {
			f.log.Info().Int64("version", f.Version()).Msg("bindings: checked against Redis again; ready")
		}
		st.stale = stale
	}
	var bad *invalidError
	if errors.As(err, &bad) {
		if bad.version != st.refused {
			f.log.Error().Err(err).Msg("bindings: refused a snapshot")
			st.refused = bad.version
		}
		err = nil // Redis answered
	}
	switch {
	case err != nil && !st.failing:
		f.log.Warn().Err(err).Int64("version", f.Version()).Msg("bindings: cannot read Redis; serving the last bindings taken")
	case err == nil && st.failing:
		f.log.Info().Int64("version", f.Version()).Msg("bindings: reading Redis again")
	}
	st.failing = err != nil
	if err != nil {
		return
	}
	if v := f.Version(); held < v && held != st.held {
		f.log.Warn().Int64("redis_version", held).Int64("version", v).Msg("bindings: Redis holds an older version than this node's (emptied Redis, or the portal node's clock behind); keeping this node's, unconfirmed (with max_bindings_age, not ready once that age passes), until the portal node publishes a newer one")
	}
	st.held = held
}

// raiseFloor makes the hash's floor at least v, so that the publisher
// publishes above the version in use here, and returns the floor
// afterwards (higher than v when another node raised it further).
func (f *Follower) raiseFloor(ctx context.Context, v int64) (int64, error) {
	msg, err := floorScript.Exec(ctx, f.client, []string{f.keys.hash}, []string{strconv.FormatInt(v, 10), f.keys.channel}).ToMessage()
	if err != nil {
		return 0, fmt.Errorf("cluster: raise the bindings floor to %d: %w", v, err)
	}
	return versionOf(msg, "floor")
}

// invalidError is a snapshot in Redis that does not decode or check.
type invalidError struct {
	key     string
	version int64 // the version Redis held with it
	kept    int64 // the version in use instead
	err     error
}

func (e *invalidError) Error() string {
	return fmt.Sprintf("cluster: the bindings snapshot in Redis (%s, version %d) is not valid; keeping version %d: %v", e.key, e.version, e.kept, e.err)
}

func (e *invalidError) Unwrap() error { return e.err }

// refresh takes the snapshot Redis holds when it is newer than the one in
// use, storing it in the file before serving it, and returns the version
// Redis held. When Redis holds none, or an older one, see ahead. refresh
// is the poller's: it must not run twice at once.
func (f *Follower) refresh(ctx context.Context) (int64, error) {
	began := time.Now()
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	held, floor, err := f.held(ctx)
	if err != nil {
		return held, err
	}
	first := held
	switch v := f.Version(); {
	case held < v, held == 0:
		return held, f.ahead(ctx, v, floor)
	case held == v: // a floor above: Redis is an older copy, a node holds newer
		f.judge(v, floor, began)
		return held, nil
	}
	vals, err := f.client.Do(ctx, f.client.B().Hmget().Key(f.keys.hash).Field("version", "snapshot").Build()).ToArray()
	if err == nil && len(vals) != 2 {
		err = fmt.Errorf("%d values for 2 fields", len(vals))
	}
	if err != nil {
		return held, fmt.Errorf("cluster: read the bindings snapshot: %w", err)
	}
	if held, err = versionOf(vals[0], "version"); err != nil {
		return held, err
	}
	b, err := vals[1].AsBytes()
	if err != nil {
		return held, fmt.Errorf("cluster: read the bindings snapshot: %w", err)
	}
	s, err := decodeSnapshot(b)
	if err == nil && s.Version != held {
		err = fmt.Errorf("the snapshot says version %d, the hash %d", s.Version, held)
	}
	if err != nil {
		return held, &invalidError{key: f.keys.hash, version: held, kept: f.Version(), err: err}
	}
	if v := f.Version(); s.Version <= v {
		// Redis held a newer version a moment ago: as good as a floor.
		return held, f.ahead(ctx, v, max(floor, first))
	}
	if f.file != "" {
		switch err := writeFile(f.file, b); {
		case errors.Is(err, atomicfile.ErrNotDurable):
			f.log.Warn().Err(err).Int64("version", s.Version).Msg("bindings: the snapshot is in its file, which a crash may still lose")
		case err != nil:
			// Serve it anyway: newer bindings refuse more deleted clients.
			f.log.Error().Err(err).Int64("version", s.Version).Msg("bindings: cannot keep the snapshot on disk; a restart while Redis is unreachable would start from an older one")
		}
	}
	f.cur.Store(newIndex(s))
	f.judge(s.Version, max(floor, first), began)
	return held, nil
}

// ahead answers a Redis holding no snapshot, or an older one than v, the
// one in use (Redis restarted empty, say), whose floor is floor. The floor
// is raised to v, so that the publisher publishes above it. Such a Redis
// confirms nothing: it cannot tell whether v missed a deletion, and only
// the publisher's snapshot of v or a newer one confirms v, so with MaxAge
// the follower is not ready once MaxAge has passed since the last
// confirmation, as when Redis is unreachable. A floor above v, before or
// after the raise, means another node holds a newer snapshot: v is stale,
// and any confirmation of it is withdrawn at once.
func (f *Follower) ahead(ctx context.Context, v, floor int64) error {
	if floor < v {
		raised, err := f.raiseFloor(ctx, v)
		if err != nil {
			return err
		}
		floor = raised
	}
	if floor > v {
		f.withdraw()
	}
	return nil
}
