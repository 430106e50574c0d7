package node

import (
	"context"
	"io"

	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/runtime"
)

// Options configures Start. The node keeps what it is given for its
// lifetime and closes none of it: the caller owns Logger's and
// AccessLog's destinations and closes them after Shutdown.
type Options struct {
	// ConfigDir is compiled at start and on every reload.
	ConfigDir string
	// StatePath is the portal's state file. When set, the node serves the
	// portal on the table's portal_listen and binds its registered clients
	// into the gateway's policy resolution; when empty, no portal runs.
	StatePath string
	Logger    zerolog.Logger
	// AccessLog is the gateway's access log (runtime.Options.AccessLog);
	// nil means none.
	AccessLog io.Writer
	// Bindings is the registered clients for the gateway's policy
	// resolution when no portal runs on this node (StatePath empty); nil
	// means none.
	Bindings runtime.Bindings
	// BindingsFile is where a node without StatePath, in a cluster, keeps
	// the last client bindings it took from Redis, to start from while
	// Redis is unreachable; "" means a file in the user's cache directory
	// named after the Redis address, database, key prefix and the
	// gateway's listen address.
	BindingsFile string
	// Listen, AdminListen and PortalListen, when set, replace the table's
	// addresses (tests use "127.0.0.1:0").
	Listen, AdminListen, PortalListen string
	// Watch reloads when the configuration directory changes.
	Watch bool
	// Compile compiles ConfigDir at start and on every reload, giving up
	// when ctx ends (Shutdown ends a reload's); nil means compiler.Compile,
	// in this process, which runs to its end. It is called by one
	// goroutine at a time.
	Compile func(ctx context.Context, dir string) (*table.Table, error)
	// compiled, when set, is called right after the first compile (tests
	// use it to edit the configuration during start-up).
	compiled func()
}
