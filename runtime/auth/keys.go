package auth

import (
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/compiler"
)

// KeySetsOptions configures NewKeySets.
type KeySetsOptions struct {
	// Client fetches discovery documents and key sets; nil means a client
	// with a 10s timeout.
	Client *http.Client
	Logger zerolog.Logger
	// MinRefetch is how often at most an unknown kid triggers a refetch of
	// one IdP's keys; 0 means 5s.
	MinRefetch time.Duration
}

// KeyStatus is the state of one IdP's key set, for the admin status page.
type KeyStatus struct {
	Fetched   bool      `json:"fetched"`
	LastFetch time.Time `json:"last_fetch"`
	KeyIDs    []string  `json:"key_ids"`
	LastError string    `json:"last_error,omitempty"`
}

// KeySets holds the signing keys of every IdP of the current table, fetched
// and refreshed in the background. It outlives table generations: Sync
// carries unchanged IdPs over. All methods are safe for concurrent use.
type KeySets struct {
	opts KeySetsOptions
	mu   sync.Mutex
	// TODO(auth): per-IdP fetchers.
}

// NewKeySets returns an empty KeySets; call Sync with a table's IdPs.
func NewKeySets(opts KeySetsOptions) *KeySets {
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.MinRefetch <= 0 {
		opts.MinRefetch = 5 * time.Second
	}
	return &KeySets{opts: opts}
}

// Sync makes the fetched IdPs equal to idps (from a newly compiled table).
// IdPs whose ID, issuer, discovery and jwks_uri are unchanged keep their keys
// and fetcher (not refetched); new ones start fetching in the background
// (never blocks; retries with backoff); removed ones stop. Safe concurrently
// with Validate.
func (k *KeySets) Sync(idps map[string]*compiler.IdP) {
	// TODO(auth): implement.
}

// Close stops every background fetcher.
func (k *KeySets) Close() {}

// Ready reports whether every synced IdP has fetched keys at least once.
func (k *KeySets) Ready() bool { return false }

// Status returns the key state per IdP ID.
func (k *KeySets) Status() map[string]KeyStatus { return map[string]KeyStatus{} }
