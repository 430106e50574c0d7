package runtime

import (
	"crypto/tls"
	"errors"
	"time"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/compiler/tablediff"
	"github.com/cuegate/cuegate/runtime/auth"
)

// reloadStatus is what the last reload did, for /status.
type reloadStatus struct {
	at       time.Time
	outcome  string
	err      error // set only when outcome is reloadFailed
	diags    table.Diagnostics
	duration time.Duration
}

// Compiled is the outcome of one compile of the configuration directory,
// made by the caller (the runtime never compiles): the table, or the
// error that kept one from being made, and how long the compile took.
type Compiled struct {
	Table *table.Table
	Err   error
	Took  time.Duration
}

// Apply swaps c's table in and records the outcome for Status; the TLS
// certificates are reread even when the table is unchanged, and a table
// with secret headers, or whose tracing header secrets changed, is built
// again to read them and reported unchanged. A compile
// that failed (c.Err), or a table that fails to load (a TLS certificate,
// the upstream CA, a secret header's value), leaves the current table
// serving; the error is logged with
// positions, kept for Status, and returned. Each call logs one line, which
// lists every change a swap makes (tablediff's summary: APIs, policies,
// IdPs, catalogue entries, settings, moved routes), and counts
// cuegate_reloads_total by result (ok, unchanged, error). A swap builds
// the new generation off the request path and swaps one pointer: requests
// in flight finish on the generation they started with. It keeps the
// rate-limit and quota counters and the token cache, and removes the
// /metrics series of the API IDs the new table drops. Calls
// are serialised; Apply is safe to call from any goroutine, and the caller
// may compile while another Apply runs.
func (g *Gateway) Apply(c Compiled) error {
	t, err, took := c.Table, c.Err, c.Took
	g.mu.Lock()
	defer g.mu.Unlock()
	old := g.cur.Load().table
	if err == nil && t.Hash == old.Hash && g.exporterCurrent(t) && !hasSecretHeaders(t) && g.upstreamCACurrent(t) {
		// The files a table names can change without it: reread the
		// certificates, so that a rotation needs no restart (a rotated
		// upstream CA bundle takes the swap below, which replaces the
		// pools that verify with the old one).
		var cert, portalCert *tls.Certificate
		if cert, portalCert, err = g.loadCerts(t); err == nil {
			g.storeCerts(cert, portalCert)
			g.record(reloadStatus{outcome: reloadUnchanged, duration: took})
			g.log.Info().Str("hash", t.Hash).Str("compile_time", logDuration(took)).Msg("reload: configuration unchanged")
			return nil
		}
	}
	if err == nil {
		err = g.swapLocked(t)
	}
	if err != nil {
		var diags table.Diagnostics
		errors.As(err, &diags)
		g.record(reloadStatus{outcome: reloadFailed, err: err, diags: diags, duration: took})
		ev := g.log.Error().Str("config_dir", g.opts.ConfigDir).Str("serving_hash", old.Hash).
			Uint64("serving_generation", g.cur.Load().seq)
		if len(diags) > 0 {
			arr := make([]string, len(diags))
			for i, d := range diags {
				arr[i] = d.String()
			}
			ev = ev.Strs("errors", arr)
		} else {
			ev = ev.Err(err)
		}
		ev.Msg("reload failed: still serving the last good configuration")
		return err
	}
	if t.Hash == old.Hash { // swapped only to read its secrets again (secret headers, tracing header secrets)
		g.record(reloadStatus{outcome: reloadUnchanged, duration: took})
		g.log.Info().Str("hash", t.Hash).Uint64("generation", g.cur.Load().seq).Str("compile_time", logDuration(took)).
			Msg("reload: configuration unchanged; its secrets read again")
		return nil
	}
	g.record(reloadStatus{outcome: reloadOK, duration: took})
	ev := g.log.Info().Str("old_hash", old.Hash).Str("new_hash", t.Hash).
		Uint64("generation", g.cur.Load().seq).Str("compile_time", logDuration(took)).
		Strs("changes", tablediff.Tables(old, t).Summary())
	if fixed := startupSettings(old, t); len(fixed) > 0 {
		ev = ev.Bool("restart_needed", true).Strs("restart_needed_for", fixed)
	}
	ev.Msg("reload: configuration swapped")
	return nil
}

// logDuration is d for a log line, with its unit ("412ms"): a number
// alone reads as nothing in the console format.
func logDuration(d time.Duration) string {
	if d >= time.Millisecond {
		d = d.Round(time.Millisecond)
	}
	return d.String()
}

// Status is the gateway's state for the admin /status endpoint.
type Status struct {
	Generation uint64    `json:"generation"`
	TableHash  string    `json:"table_hash"`
	LoadedAt   time.Time `json:"loaded_at"`
	ConfigDir  string    `json:"config_dir"`
	APIs       int       `json:"apis"`
	Ready      bool      `json:"ready"`
	// LastReload is the last Apply call; nil before the first.
	LastReload *ReloadStatus `json:"last_reload,omitempty"`
	// LastError is the last failed reload, kept until a reload succeeds.
	LastError *ReloadError              `json:"last_error,omitempty"`
	IdPs      map[string]auth.KeyStatus `json:"idps"`
	// Cluster is the node's view of its cluster; nil for one node.
	Cluster *ClusterStatus `json:"cluster,omitempty"`
	Portal  PortalStatus   `json:"portal"`
}

// PortalStatus is what the developer portal cannot do with the serving
// table.
type PortalStatus struct {
	// Unavailable lists, by catalogue entry ID, the entries whose
	// registration settings cannot work, with the reason (see
	// table.Portal.UnavailableEntries); the portal shows them as
	// unavailable. Empty when every entry can register.
	Unavailable map[string]string `json:"unavailable"`
}

// ReloadStatus describes one reload.
type ReloadStatus struct {
	At          time.Time `json:"at"`
	Outcome     string    `json:"outcome"`
	CompileTime string    `json:"compile_time"`
}

// ReloadError is a failed reload with the compiler's findings.
type ReloadError struct {
	At          time.Time          `json:"at"`
	Message     string             `json:"message"`
	Diagnostics []table.Diagnostic `json:"diagnostics,omitempty"`
}

// Status returns the serving generation and the last reload's outcome.
func (g *Gateway) Status() Status {
	gen := g.cur.Load()
	g.mu.Lock()
	rs := g.status
	g.mu.Unlock()
	s := Status{
		Generation: gen.seq,
		TableHash:  gen.table.Hash,
		LoadedAt:   gen.loadedAt,
		ConfigDir:  g.opts.ConfigDir,
		APIs:       len(gen.table.APIs),
		Ready:      g.Ready(),
		IdPs:       g.keys.Status(),
		Portal:     PortalStatus{Unavailable: gen.table.Portal.UnavailableEntries(g.opts.ConfigDir)},
	}
	if s.Portal.Unavailable == nil {
		s.Portal.Unavailable = map[string]string{}
	}
	if !rs.at.IsZero() {
		s.LastReload = &ReloadStatus{At: rs.at, Outcome: rs.outcome, CompileTime: rs.duration.String()}
	}
	if rs.err != nil {
		s.LastError = &ReloadError{At: rs.at, Message: rs.err.Error(), Diagnostics: rs.diags}
	}
	if g.opts.Cluster != nil {
		cs := g.opts.Cluster.ClusterStatus()
		s.Cluster = &cs
	}
	return s
}

// hasSecretHeaders reports whether an API of t sends secret headers,
// whose values a reload reads again even when t is unchanged.
func hasSecretHeaders(t *table.Table) bool {
	for _, a := range t.APIs {
		if len(a.Upstream.SecretHeaders) > 0 {
			return true
		}
	}
	return false
}

// record makes s, stamped now, the last reload's status, and counts its
// outcome. g.mu must be held.
func (g *Gateway) record(s reloadStatus) {
	s.at = time.Now()
	g.status = s
	g.series.reloads(s.outcome).Inc()
}
