package portal

import (
	"net/http"
	"sync"
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
	hold, arrived := make(chan struct{}), make(chan struct{})
	var once sync.Once
	e.idp.SetAnswer(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut {
			once.Do(func() { close(arrived) })
			<-hold
		}
		return false
	})
	status := make(chan int, 1)
	go func() {
		status <- e.api(dev, "PATCH", "/clients/"+c.ClientID, map[string]any{"client_name": "renamed"}, nil).StatusCode
	}()
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
		return e.s.drained != nil
	})
	close(hold)
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
	if got := <-status; got != http.StatusOK {
		t.Errorf("the change in flight: %d, want 200 (stored before the store closed)", got)
	}
}
