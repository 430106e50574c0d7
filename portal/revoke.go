package portal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Revoker makes client revocations known to the gateway's other nodes
// before the portal makes and reports them, so that a deleted client is
// never accepted elsewhere because they could not be told. On a node of
// several it is the bindings publisher; a single node has none.
//
// Revoke returns once the other nodes can learn that clientIDs are
// revoked, or the error why they cannot; after a success the caller
// deletes the clients from the store and then calls release once,
// whether the deletion succeeded or failed.
type Revoker interface {
	Revoke(ctx context.Context, clientIDs []string) (release func(), err error)
}

// ErrUnshared is the error of a deletion refused because the gateway's
// other nodes cannot be told of it (Revoker): nothing was deleted.
var ErrUnshared = errors.New("the gateway's other nodes cannot be told of the deletion now (the Redis they share does not answer); nothing was deleted: try again in a moment")

// revokeAhead revokes clientIDs through r ahead of their deletion (see
// Revoker); without a Revoker, or without clients, it does nothing. The
// error wraps ErrUnshared and says why.
func revokeAhead(ctx context.Context, r Revoker, clientIDs []string) (release func(), err error) {
	if r == nil || len(clientIDs) == 0 {
		return func() {}, nil
	}
	release, err = r.Revoke(ctx, clientIDs)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnshared, err)
	}
	return release, nil
}

// errUnshared is the developer's answer to a deletion revokeAhead
// refused: the cause, a Redis error, goes to the log only.
func errUnshared() *apiError {
	return errorf(http.StatusServiceUnavailable, "temporarily_unavailable", "%s", ErrUnshared.Error())
}
