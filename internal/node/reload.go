package node

import (
	"errors"
	"time"

	"github.com/cuegate/cuegate/runtime"
)

// watchDebounce is how long the configuration directory must be quiet
// before a burst of changes is reloaded.
const watchDebounce = 150 * time.Millisecond

// reloadOnRequest reloads on every RequestReload, and on every event of
// the watcher, if any, but one that finds the files a reload reads (inputs)
// as the last successful compile read them (a file written again
// with the same bytes, as some tools rewrite a secret or a certificate
// file on a schedule), until Shutdown. Requests made while a reload runs
// are served by one more.
func (n *Node) reloadOnRequest() {
	defer n.wg.Done()
	var events <-chan struct{}
	if n.watcher != nil {
		events = n.watcher.Events()
	}
	last := n.started // the inputs of the last successful compile
	for {
		fromWatcher := false
		select {
		case <-n.ending.Done():
			return
		case _, ok := <-events:
			if !ok {
				events = nil // closed: requests only
				continue
			}
			fromWatcher = true
		case <-n.reloads:
		}
		cue, ok := cueInputs(n.configDir)
		in := inputs{cue, namedInputs(n.configDir, n.gw.Current())}
		if fromWatcher && ok && in == last {
			n.log.Debug().Msg("reload skipped: the configuration's files are as the last reload read them")
			continue
		}
		if err := n.Reload(); err == nil && ok {
			last = in
		}
	}
}

// RequestReload asks for a reload (see Reload) without waiting for it:
// the node's reloader runs it after the one in progress, if any; requests
// made meanwhile are served by one reload. It never blocks, so a caller
// that also waits for a signal to stop (SIGTERM) is never held up by a
// compile.
func (n *Node) RequestReload() {
	select {
	case n.reloads <- struct{}{}:
	default:
	}
}

// errShuttingDown is Reload's error once Shutdown has begun.
var errShuttingDown = errors.New("the node is shutting down: no reload")

// Reload compiles the configuration directory and applies the outcome to
// the gateway (a failure is logged and kept for /status; the last good
// table keeps serving) and, when it succeeded, reads the admin token
// again (see reloadAdminToken) and, when a portal runs, checks the
// portal's registration secrets again. It returns the compile's or
// the swap's error.
//
// Reload is safe for concurrent use, with itself and with the node's
// reloader: reloads are serialised, so a later compile is never applied
// before an earlier one. Once Shutdown has begun, a compile in progress
// gives up (when Options.Compile heeds its context) and nothing is
// applied: Reload returns errShuttingDown.
func (n *Node) Reload() error {
	n.reloadMu.Lock()
	defer n.reloadMu.Unlock()
	if n.ending.Err() != nil {
		return errShuttingDown
	}
	start := time.Now()
	t, err := n.compile(n.ending, n.configDir)
	if n.ending.Err() != nil {
		return errShuttingDown
	}
	err = n.gw.Apply(runtime.Compiled{Table: t, Err: err, Took: time.Since(start)})
	if err == nil && n.watcher != nil {
		// A document the last good table does not name, such as a new
		// one that did not compile, counts from the next .cue change on.
		n.watcher.Also(n.gw.Current().WatchedFiles())
	}
	if err == nil {
		n.reloadAdminToken()
	}
	if err == nil && n.portal != nil {
		warnUnreadableSecrets(n.log, n.gw.Current(), n.configDir)
	}
	return err
}

// reloadAdminToken makes the admin listener take the serving table's
// admin_token from now on, logging a change. A token that cannot be read
// or is empty, or none on a listener other machines reach, keeps the one
// in force and logs an error naming the reference.
func (n *Node) reloadAdminToken() {
	token, err := adminToken(n.gw.Current(), n.configDir, n.AdminAddr())
	if err != nil {
		n.log.Error().Err(err).Msg("admin listener: keeping the admin token in force")
		return
	}
	if n.adminAuth.SetToken(token) {
		n.log.Warn().Bool("token_set", token != "").Msg("admin listener: admin_token changed; the previous token no longer works")
	}
}
