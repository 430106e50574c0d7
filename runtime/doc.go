// Package runtime serves a compiled table: it routes requests, validates
// their tokens, resolves identity and policy, enforces access, rate limits
// and quotas, and proxies to upstreams. Tables are hot-swapped without
// dropping a request.
//
// The request path, and what each step answers when it refuses (always
// JSON {"error": "...", "code": N} and an X-Request-Id header):
//
//  1. The raw path is cleaned (package pathclean): 400 for encoded
//     slashes, backslashes, NUL, double encoding, ".." above the root,
//     dot segments with parameters ("..;", "%2e%2e%3bx"). The path
//     matched against grants is the path forwarded (less the listen
//     path when it is stripped). Then the header: a field name of more
//     than letters, digits and "-", a second Authorization field, or a line
//     that begins with white space (obsolete folding), is 400 (fasthttp
//     refuses a second Host, Content-Length or Transfer-Encoding).
//
//  2. A CORS preflight to an API with cors is answered here, 204, before
//     any token is checked (routed by the method it asks about). Routing
//     on the cleaned path: 404, or 405 with Allow; 400 when the
//     path's ";" parameters change the API serving it (an upstream that
//     drops them, as Tomcat, Jetty and Spring do, would read it as
//     another API's path), when the path read without regard to case
//     belongs to a longer listen path (ASP.NET Core and IIS read it so),
//     and when the query names a method override (_method and kin) on an
//     API whose checks depend on the method (a methods list, CORS methods
//     that leave some out, or a policy's grant limited by method).
//
//     Steps 1 to 7 read the header only. A request expecting 100 Continue
//     is decided before the body is asked for (a refusal gets no 100
//     Continue and closes the connection), and so is one with a body length
//     whose header already shows a refusal (no API, too large, no bearer
//     token for a JWT API, a refused path or header): it is answered
//     without waiting for its body.
//
//  3. A declared Content-Length over gateway.max_body_bytes: 413 (a
//     chunked body is cut at the limit, also 413).
//
//  4. JWT APIs: no bearer token is 401 with `WWW-Authenticate: Bearer
//     realm="cuegate"` (RFC 6750 §3.1: no error code when the request
//     carries no credentials); a rejected token is 401 with `Bearer
//     realm="cuegate", error="invalid_token", error_description="..."`;
//     keys never fetched is 503. A token without the identity claim is a
//     401 invalid_token too; one without the API's scopes or claims is 403
//     (`Bearer error="insufficient_scope"` for scopes).
//
//  5. Policy (package policy): the portal binding of the identity, else
//     the policy claim (a string or a list), else the API's
//     default_policies; an unknown policy ID or no policy at all: 403. A
//     binding holds for tokens of the issuer its catalogue entries' APIs
//     take tokens from; a token of another issuer is another provider's
//     client with the same ID and goes on to the claim. A revoked or expired registration is 403 for
//     every issuer, and so is one none of whose entries has an API that
//     checks tokens any more. A cluster follower that holds no bindings
//     yet (or, with max_bindings_age, has not checked them in time)
//     answers 503.
//
//  6. Access: a policy must grant the API, and the grant's methods and
//     paths (segment-bounded prefixes of the path below the listen path)
//     must allow the request: 403. When several of the identity's
//     policies allow the request, the most generous limits win, rate and
//     quota each on its own: a granting policy without a rate limit (or
//     quota) lifts it; otherwise the highest Requests/Per (or Max/Period)
//     applies, ties to the policy listed first. Counters are kept per
//     token issuer, identity claim, identity and ID of the policy whose
//     limit applies.
//
//  7. Limits (package limit): a request is counted against the rate limit
//     and the quota together, or against neither when one refuses it. Rate
//     limit: 429 with Retry-After; quota: 403. A refusal has
//     X-RateLimit-Limit, -Remaining and -Reset (seconds) of the limit that
//     refused. With gateway.rate_limit_headers true, so has every other
//     response under a limit: those of the limit nearer to refusing (fewer
//     requests remaining), so that one set of headers says how many more
//     requests pass. A shared limit store that cannot count, with
//     on_redis_error "deny": 503.
//
//  8. Proxy (package proxy): 503 with Retry-After when the upstream has
//     upstream.max_inflight requests in flight, 502 when no target
//     answers, 504 on timeout.
//     The Authorization header is passed on to the upstream. The
//     Connection header cannot remove framing, Host, credentials or the
//     gateway's own headers (proxy.Forward).
//
// Each request writes one line to Options.AccessLog (none when it is nil),
// as zerolog's Info "request" with method, path (cleaned, without the
// query), api, identity, policy, status, bytes (response body bytes passed
// on), duration_us and upstream_duration_us (integer microseconds),
// request_id and time; never the token. For a streamed response the line
// is written when the body is through. Besides fasthttp's own
// buffers, the path up to the upstream exchange allocates nothing.
package runtime
