package portal

import (
	"fmt"
	"net/http"
	"time"

	"github.com/cuegate/cuegate/compiler/table"
)

// beginChange counts a client change in flight (a registration, update
// or deletion, or a read at the provider, which stores the credentials it
// rotated): each outlives its request, calls the provider and then
// writes the store. Once Drain was called it refuses (503) instead, since
// the store is about to close. endChange ends a change it counted.
func (s *Server) beginChange() *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		e := errorf(http.StatusServiceUnavailable, "temporarily_unavailable", "the portal is restarting: try again in a moment")
		e.RetryAfter = 5 * time.Second
		return e
	}
	s.changes.Add(1)
	return nil
}

func (s *Server) endChange() { s.changes.Done() }

// Drain refuses client changes from now on (beginChange) and waits for
// those in flight to end, at most three
// times the longest provider call timeout of the current table and a
// second (discovery, the call and an undo each take at most one), so
// that their answers, rotated credentials among them, are stored before
// the caller closes the store. It is for shutdown, once the portal's
// HTTP server no longer takes requests; it is safe to call more than
// once.
func (s *Server) Drain() error {
	bound := 3*longestCall(s.table()) + time.Second
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	drained := make(chan struct{})
	go func() {
		s.changes.Wait()
		close(drained)
	}()
	select {
	case <-drained:
		return nil
	case <-time.After(bound):
		return fmt.Errorf("portal: client changes still calling the identity provider after %s", bound)
	}
}

// longestCall is the longest provider call timeout of t's catalogue (0
// when no entry registers clients).
func longestCall(t *table.Table) time.Duration {
	var longest time.Duration
	for _, e := range t.Portal.Catalogue {
		if e.DCR != nil {
			longest = max(longest, e.DCR.CallTimeout())
		}
	}
	return longest
}
