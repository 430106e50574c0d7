// Package portal is cuegate's developer portal: developers sign up, browse
// the catalogue and register OAuth clients at the identity provider by
// Dynamic Client Registration. It serves server-rendered HTML pages and a
// JSON API under /portal/api/v1 that does the same things.
//
// A Server is safe for concurrent use; it reads the current table through
// Options.Table on every request, so a hot swap changes the catalogue at
// once.
//
// What the portal defends against (cookies, CSRF tokens, cross-origin
// requests, input checks, the limits on log-ins, sign-ups, registrations,
// client changes and reads at the provider) is stated in README.md and
// SECURITY.md; what they leave out follows.
//
// # Clients for several catalogue entries
//
// A client registered for several catalogue entries is registered once, at
// one provider, and bound to one policy. So the entries chosen together
// must all name the same policy and have identical (merged) dcr settings,
// and those whose APIs check tokens must take them from one identity
// provider (one issuer) with a signing algorithm in common; otherwise the
// request is refused with 400 invalid_request naming the entries that
// differ. The client is bound to that shared policy, and its
// registration expires at created_at + the policy's key_expires_in (never
// when that is zero).
//
// # Sessions and CSRF tokens
//
// Sessions live in Options.Sessions: in memory by default (a restart logs
// everybody out), or in Redis (see package sessions). When the session
// store fails, nobody is logged in: log-in, sign-up and the pages and
// endpoints for developers answer 503, pages for anyone are shown as to a
// visitor. Every HTML form carries a CSRF token: the session's synchroniser
// token (a hash of the session token) once logged in, before that a
// double-submit cookie (a nonce and its HMAC under a per-Server key);
// tokens are compared in constant time (see Server.csrfToken).
//
// # Input and limits
//
// Client names, email addresses and redirect URIs are refused when they
// hold control, bidi or invisible characters (see printable.Problem) or
// exceed their length. Past a limit on log-ins, sign-ups, registrations or
// client changes the portal answers 429 with Retry-After (past the limit
// on reads at the provider, a client is shown unchecked); past the bound on bcrypt work
// (two hashes per GOMAXPROCS at once and a short queue), 503 with
// Retry-After. A developer's expired clients count towards
// MaxClientsPerDeveloper until deleted; past it the portal answers 409
// too_many_clients.
package portal
