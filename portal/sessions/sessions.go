// Package sessions keeps the developer portal's log-in sessions: Memory in
// the process, Redis shared by every portal node and kept through their
// restarts.
//
// A session is stored under the token its cookie carries. A Store never
// returns a session past the time to live it was created with; the portal
// checks Session.Expires, the account and Session.Seal besides, so a
// store's word alone never logs anybody in.
package sessions

import (
	"context"
	"time"
)

// Session is what a store keeps of a logged-in developer.
type Session struct {
	// Email is the developer's (normalised) email address.
	Email string `json:"email"`
	// Account is when the developer's account was created: a session
	// belongs to that account, not to another created later under the
	// same email.
	Account time.Time `json:"account"`
	// Expires is when the session ends, by the portal's clock.
	Expires time.Time `json:"expires"`
	// Seal is the portal's MAC of the session under a key no store holds,
	// so that whoever can write to a store cannot make a session the
	// portal takes. A store keeps it as given.
	Seal string `json:"seal"`
	// Flash is a message for the next page, "" for none.
	Flash string `json:"flash,omitempty"`
	// JustCreated is the client just registered, whose next view is its
	// result page; "" for none.
	JustCreated string `json:"just_created,omitempty"`
	// NewSecret is the client whose secret was just rotated, whose next
	// view shows it; "" for none.
	NewSecret string `json:"new_secret,omitempty"`
}

// MaxPerAccount is how many sessions one account (Session.Email) keeps: a
// new one ends the oldest beyond, so that logging in again and again does
// not pile sessions up in a store.
const MaxPerAccount = 10

// Store keeps sessions by token. An error means the store could not be
// asked (unreachable, timed out, ctx done): nothing is known of the
// session, and a caller must not take it for one that exists.
//
// Implementations are safe for concurrent use. Concurrent updates of one
// session are not merged: the last write wins.
type Store interface {
	// Create stores s under token for ttl, replacing any session there,
	// and ends the oldest sessions of s.Email beyond MaxPerAccount.
	Create(ctx context.Context, token string, s Session, ttl time.Duration) error
	// Get returns the session stored under token; ok is false when there
	// is none or its time to live has passed.
	Get(ctx context.Context, token string) (s Session, ok bool, err error)
	// Update replaces the session stored under token by s, keeping its
	// time to live; it stores nothing when there is none, so that an
	// update racing a Delete does not bring a session back.
	Update(ctx context.Context, token string, s Session) error
	// Delete removes the session stored under token; none is no error.
	Delete(ctx context.Context, token string) error
}
