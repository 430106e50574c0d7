package limit

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/cuegate/cuegate/internal/background"
)

//go:embed heartbeat.lua
var heartbeatSource string

var heartbeatScript = rueidis.NewLuaScript(heartbeatSource)

// keyVersion names the layout of the heartbeat's key; a change takes a
// new one, so nodes of two versions never read each other's.
const keyVersion = "v1:"

// HeartbeatOptions configures NewHeartbeat.
type HeartbeatOptions struct {
	// KeyPrefix begins the key, before the version ("v1:"); "" means
	// DefaultKeyPrefix. Nodes that share counters share it.
	KeyPrefix string
	// Node names this node; "" means a random name.
	Node string
	// TTL is how long one announcement lasts; 0 means 3s.
	TTL time.Duration
	// Interval is the time between announcements; 0 means TTL/3.
	Interval time.Duration
	// Timeout bounds each call to Redis; 0 means DefaultTimeout.
	Timeout time.Duration
	// MinNodes is the fewest nodes Nodes reports (the nodes the operator
	// runs, for a node that has seen no other); 0 means 1.
	MinNodes int
}

// Heartbeat announces a node to Redis, with a TTL, and counts the nodes
// that announce themselves under the same key prefix: the live nodes that
// share a limit, whose share of it a node counts alone while Redis is
// unreachable. Nodes reports the last count seen. Its methods are safe for
// concurrent use.
type Heartbeat struct {
	client   rueidis.Client
	key      string
	node     string
	ttl      string // ms
	interval time.Duration
	timeout  time.Duration
	min      int64
	nodes    atomic.Int64
	loop     background.Loop
}

// NewHeartbeat returns a Heartbeat, not started, that calls Redis through
// client (the caller's, to close after Stop).
func NewHeartbeat(client rueidis.Client, opts HeartbeatOptions) *Heartbeat {
	if opts.KeyPrefix == "" {
		opts.KeyPrefix = DefaultKeyPrefix
	}
	if opts.Node == "" {
		b := make([]byte, 8)
		rand.Read(b)
		opts.Node = hex.EncodeToString(b)
	}
	if opts.TTL <= 0 {
		opts.TTL = 3 * time.Second
	}
	if opts.Interval <= 0 {
		opts.Interval = opts.TTL / 3
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	h := &Heartbeat{
		client:   client,
		key:      opts.KeyPrefix + keyVersion + "nodes",
		node:     opts.Node,
		ttl:      strconv.FormatInt(max(opts.TTL.Milliseconds(), 1), 10),
		interval: opts.Interval,
		timeout:  opts.Timeout,
		min:      int64(max(opts.MinNodes, 1)),
	}
	h.nodes.Store(h.min)
	return h
}

// Nodes returns the number of live nodes last seen, this one included,
// or MinNodes when that is more (as it is before the first answer).
func (h *Heartbeat) Nodes() int { return int(h.nodes.Load()) }

// Start announces the node now and then every Interval, until Stop. A
// failed announcement leaves Nodes as it was. Start on a started
// Heartbeat does nothing.
func (h *Heartbeat) Start() { h.loop.Start(h.run) }

// Stop ends the announcements, withdraws the node (within the timeout)
// and returns once done; it does nothing on a Heartbeat not started.
func (h *Heartbeat) Stop() { h.loop.Stop() }

// run announces the node every interval until ctx ends, then withdraws it.
func (h *Heartbeat) run(ctx context.Context) {
	tick := time.NewTicker(h.interval)
	defer tick.Stop()
	for {
		h.beat()
		select {
		case <-ctx.Done():
			h.withdraw()
			return
		case <-tick.C:
		}
	}
}

// withdraw removes the node from the live ones.
func (h *Heartbeat) withdraw() {
	ctx, cancel := context.WithTimeout(context.Background(), h.timeout)
	defer cancel()
	h.client.Do(ctx, h.client.B().Zrem().Key(h.key).Member(h.node).Build())
}

// beat announces the node once and records the count of live nodes.
func (h *Heartbeat) beat() {
	ctx, cancel := context.WithTimeout(context.Background(), h.timeout)
	defer cancel()
	n, err := heartbeatScript.Exec(ctx, h.client, []string{h.key}, []string{h.node, h.ttl}).AsInt64()
	if err == nil && n > 0 {
		h.nodes.Store(max(n, h.min))
	}
}
