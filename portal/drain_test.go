package portal

import (
	"net/http"
	"testing"

	"github.com/cuegate/cuegate/internal/testutil"
)

// TestDrainWaitsForChanges: Drain returns only once a client change in
// flight has stored the provider's answer (its rotated registration
// access token), so that the store closed after it loses nothing; the
// change the provider was still answering succeeds.
func TestDrainWaitsForChanges(t *testing.T) {
	t.Parallel()
	e, dev, c := newEnvWithClient(t, "first")
	arrived, hold := holdUpdates(e)
	status := patchAsync(e, dev, c.ClientID, `{"client_name":"renamed"}`)
	<-arrived
	drained := make(chan error, 1)
	go func() {
		err := e.s.Drain()
		e.store.Close() //nolint:errcheck // as the node does after Drain
		drained <- err
	}()
	testutil.Eventually(t, "Drain to wait for the change", func() bool {
		e.s.mu.Lock()
		defer e.s.mu.Unlock()
		return e.s.closing
	})
	close(hold)
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
	if got := <-status; got != http.StatusOK {
		t.Errorf("the change in flight: %d, want 200 (stored before the store closed)", got)
	}
}

// TestNoChangeAfterDrain: once Drain was called, a client change that
// reaches the portal (a request whose body was still arriving when the
// HTTP server's shutdown gave up) is refused with 503 before any call to
// the provider, for the store is about to close.
func TestNoChangeAfterDrain(t *testing.T) {
	t.Parallel()
	e, dev, c := newEnvWithClient(t, "first")
	if err := e.s.Drain(); err != nil {
		t.Fatal(err)
	}
	calls := len(e.requests())
	if resp := e.api(dev, "PATCH", "/clients/"+c.ClientID, map[string]any{"rotate_secret": true}, nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a change after Drain: %d, want 503", resp.StatusCode)
	}
	if n := len(e.requests()) - calls; n != 0 {
		t.Errorf("%d provider calls after Drain", n)
	}
}
