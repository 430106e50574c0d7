// Package limit counts requests per identity (of one issuer, taken from
// one claim) and policy: a sliding-window rate limit and a fixed-window
// quota.
//
// # Rate limit
//
// A rate of N requests per P means at most N requests in any window of
// length P. It is kept as a sliding-window counter: two fixed windows of
// length P per key, the current one and the one before it, and an estimate
// of the requests in the last P that weights the previous window by the part
// of it that still overlaps:
//
//	est(t) = prev × (P − elapsed)/P + cur
//
// where elapsed is the time since the current window began. A request is
// allowed when est(t) + 1 ≤ N, and then counted in cur; a refused request is
// not counted. A key's windows start with its first request (and again with
// the first request after both windows have emptied), so a fresh identity
// begins at the start of a window: offered 300 req/s against 100 per second
// for 5 s, it passes 496 (100 in the first window, then 99 a window), not
// 600.
//
// The estimate assumes the previous window's requests were spread evenly.
// After a burst at the start of a window it is conservative: a key that spent
// its N at once gets its next request P + P/N after the burst (5 per 10 s: 5
// quick calls pass, and the next one 12 s after the first). Requests bunched
// at the very end of one window and then of the next are undercounted:
// nearly 2N can pass within a span of P across the boundary. For steady or
// random traffic it is close to exact.
//
// Arithmetic is exact: products such as prev × (P − elapsed) are taken in 128
// bits (math/bits), so there is no rounding near the limit and no overflow
// for any int64 request count and any window up to a century.
//
// # Redis
//
// The Redis limiter runs the arithmetic of Memory in one Lua script, in one
// round trip per Take that is not counted from a lease or refused from
// memory (EVALSHA, EVAL when the server does not have the script yet).
//
// Time is the server's (TIME), so the nodes' clocks do not matter, in
// whole microseconds: Lua numbers are doubles, and Unix microseconds stay
// below 2^53 (until the year 2255) where nanoseconds would not. A Per or
// Period is rounded up to a whole microsecond, and at most 2^52 − 1 µs;
// for limits and times in whole microseconds the decisions are Memory's.
// Counts are exact below 2^53 requests in a window.
//
// Keys are RedisOptions.KeyPrefix + "v3:{" + tag + "}:" + policy, where tag is a hash
// (SHA-256, 128 bits) of the issuer, claim and identity and policy a hash of the
// policy's name (72 bits): no identity, issuer or policy is stored in
// Redis in the clear, and a Request's two keys (one identity under two
// policies, as the gateway counts) share a hash tag, hence a slot on Redis
// Cluster. A key holds the rate's and the quota's state of its policy,
// packed in one string value (read and written with one call each), and
// expires a second after its last window with a count ends.
//
// # Refusals remembered
//
// A request refused by its rate limit is remembered on its node until
// its RetryAfter, and one refused by its quota until its quota window
// ends but at most a second (so that units other nodes give back are
// seen): requests for the same key and limits are refused before then
// without a call to Redis, so one client's flood costs Redis nothing.
// Their decisions are the ones Redis would give when no other node
// counts meanwhile; a call on one of the key's keys (a request with
// other limits) forgets the refusal, but the quota counted under another
// policy's key by requests without the refusal's rate is not seen.
//
// # Leases
//
// When Redis allows a request counted under one key (one policy
// gives its limits, or only one applies), the same call may count up to
// RedisOptions.MaxLease − 1 more units in both of its limits (never in one alone), k =
// min(MaxLease, limit / RedisOptions.LeaseShare, floor(room / (2 × live nodes))) in
// all, limit being the smaller of the two and room what both allow at
// that instant; a small limit or room gives k = 1, a call per request.
// The node that called then counts that many further requests with the same key and
// limits itself, without a call, until they run out, until the earlier of
// the rate's and the quota's window ends (on Redis's clock, taken onto
// the node's at the call, less the timeout), until maxLeaseAge has
// passed since the call (so that a step or drift of either clock cannot
// carry units past their window), or until a call counts on the key (one
// with other limits after a table swap, say). Such a call gives the units
// left back in the same script, so for one node the decisions and
// Remaining, Reset and RetryAfter are Memory's: a unit counted at t stays
// within the rate until its window ends, since the estimate only falls
// within a window. With several nodes, the Remaining of a request counted
// from a lease does not see what the others counted since its call. The
// units are counted when leased, so the nodes never pass a limit
// together. A lease forgotten with units left (to make room within
// MaxLeaseBytes, or when the breaker of a Resilient opens) is queued to
// be given back by a script of its own, in the background: pipelined, on
// the next call Redis answers when an earlier pass failed (at most once a
// second), until its windows end. The units of a lease not given back
// (beyond MaxGivebackBytes, still held or queued when its node stops, or
// of a lease that ended and is neither called on again nor forgotten)
// stay counted until their windows end: at most MaxLease − 1 per node and
// key, conservative. A request whose two limits are counted under two
// keys always calls Redis.
package limit
