//go:build !linux

package watch

import "errors"

// writes would report closes after writing; this platform does not.
type writes struct{}

func newWrites(<-chan struct{}) (*writes, error) {
	return nil, errors.New("closes after writing are not reported on this platform")
}

func (*writes) add(string) error          { return nil }
func (*writes) remove(string)             {}
func (*writes) events() <-chan writeEvent { return nil }
func (*writes) Close() error              { return nil }
