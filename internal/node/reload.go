package node

import (
	"time"

	"github.com/cuegate/cuegate/runtime"
)

// watchDebounce is how long the configuration directory must be quiet
// before a burst of changes is reloaded.
const watchDebounce = 150 * time.Millisecond

// reloadOnChange reloads on every event of the watcher until Shutdown.
func (n *Node) reloadOnChange() {
	defer n.wg.Done()
	for {
		select {
		case <-n.stop:
			return
		case _, ok := <-n.watcher.Events():
			if !ok {
				return
			}
			n.Reload() //nolint:errcheck // logged and kept for /status by the gateway
		}
	}
}

// Reload compiles the configuration directory and applies the outcome to
// the gateway (a failure is logged and kept for /status; the last good
// table keeps serving) and, when it succeeded, reads the admin token
// again (see reloadAdminToken) and, when a portal runs, checks the
// portal's registration secrets again. It returns the compile's or
// the swap's error.
//
// Reload is safe for concurrent use, with itself and with the watcher's
// reloads: reloads are serialised, so a later compile is never applied
// before an earlier one. Call it between Start and Shutdown.
func (n *Node) Reload() error {
	n.reloadMu.Lock()
	defer n.reloadMu.Unlock()
	start := time.Now()
	t, err := n.compile(n.configDir)
	err = n.gw.Apply(runtime.Compiled{Table: t, Err: err, Took: time.Since(start)})
	if err == nil && n.watcher != nil {
		// A document the last good table does not name, such as a new
		// one that did not compile, counts from the next .cue change on.
		n.watcher.Also(n.gw.Current().ReferenceFiles())
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
