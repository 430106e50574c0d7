// Package background runs a component's goroutines from its Start to its
// Stop.
package background

import (
	"context"
	"sync"
)

// Loop runs goroutines from Start until Stop. The zero Loop is ready to
// use; its methods are safe for concurrent use.
type Loop struct {
	mu     sync.Mutex
	cancel context.CancelFunc // nil while none runs
	done   sync.WaitGroup
}

// Start runs each of fns in a goroutine of its own, with a context that
// Stop cancels. While the goroutines of an earlier Start run, Start does
// nothing.
func (l *Loop) Start(fns ...func(ctx context.Context)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	for _, fn := range fns {
		l.done.Go(func() { fn(ctx) })
	}
}

// Stop cancels the context of the goroutines Start began and returns once
// they have all returned; no Start begins meanwhile. It does nothing when
// none runs.
func (l *Loop) Stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cancel == nil {
		return
	}
	l.cancel()
	l.done.Wait()
	l.cancel = nil
}
