package limit

import (
	"strconv"
	"sync"
)

// argStrings keeps the decimal strings of limits' numbers (a rate's
// requests and window, a quota's maximum and period), which the Redis
// script takes as arguments: they are few, fixed by the configuration,
// and asked for on every request. It holds at most maxArgStrings pairs and
// starts afresh past that. It is safe for concurrent use.
type argStrings struct {
	m  sync.Map // [2]int64 → [2]string
	n  int64    // entries, approximate
	mu sync.Mutex
}

const maxArgStrings = 4096

// of returns the decimal strings of a and b.
func (c *argStrings) of(a, b int64) (string, string) {
	k := [2]int64{a, b}
	if v, ok := c.m.Load(k); ok {
		s := v.([2]string)
		return s[0], s[1]
	}
	s := [2]string{strconv.FormatInt(a, 10), strconv.FormatInt(b, 10)}
	c.mu.Lock()
	if c.n >= maxArgStrings {
		c.m.Clear()
		c.n = 0
	}
	if _, loaded := c.m.LoadOrStore(k, s); !loaded {
		c.n++
	}
	c.mu.Unlock()
	return s[0], s[1]
}
