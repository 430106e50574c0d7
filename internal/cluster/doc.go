// Package cluster shares the portal's client bindings between the nodes
// of one gateway through Redis.
//
// The portal node (the one that writes the state file) runs a Publisher:
// after every change of its store's bindings (a change of what no node
// reads, such as a client's name or secret, makes none), and at start,
// it writes a snapshot of
// every binding — client ID, policy, catalogue entries, expiry, and a
// tombstone for each deleted client — to Redis under a version, and
// publishes the version on a channel. Every other node runs a Follower,
// which the gateway asks about clients (it is a runtime.Bindings): it
// takes a snapshot when it hears of a newer version, on the channel or by
// polling the version every second (pub/sub loses messages while a
// connection is down), and keeps the last one in a local file for a start
// while Redis is unreachable. No secret, registration token or developer
// is ever written to Redis or to the file.
//
// # Keys
//
// KeyPrefix + "v1:bindings" is a hash with the fields "version" (decimal)
// and "snapshot" (JSON: the type snapshot), written together by one script
// that refuses a version not greater than the one stored: an older
// snapshot never replaces a newer one. A follower refuses a snapshot whose
// own version is not the hash's. The hash's field "floor" (decimal)
// is the greatest version a follower holds that Redis did not (see
// Versions). The channel is KeyPrefix + "v1:bindings:changed"; its
// messages are versions published and floors raised, on either of which
// a follower reads Redis.
//
// # Versions
//
// A version is the publisher's clock in Unix microseconds when the
// snapshot was taken, or one more than the greatest version it has seen
// (in Redis, the floor, or its own), whichever is greater. A follower
// that finds Redis holding an older version than its own (Redis
// restarted empty, and the publisher restarted with its clock behind,
// or on another host) raises the floor to its own, so versions grow
// across restarts of the publisher and of Redis whatever the clocks: the
// publisher's next check, within a second, publishes above it. A
// publisher that finds Redis without its version (Redis restarted empty,
// or lost the key) writes it again, within a second.
//
// # Deleted clients stay refused
//
// A follower never goes back to an older version, wherever it comes from
// (an emptied Redis, a publisher whose clock is behind: it logs that and
// keeps what it has), and stores each new snapshot in its file before
// serving it; tombstones are part of every snapshot. A follower with
// neither a snapshot from Redis nor a file is not Ready, and its Binding
// then reports every client as revoked: a gateway that serves anyway
// refuses every bound client rather than accept a deleted one on the
// strength of its token's claims. A deletion reaches Redis before it is
// made (Publisher.Revoke): while Redis is unreachable the portal refuses
// it rather than make one the followers cannot learn of. A follower that
// cannot read Redis keeps the snapshot it has until it can; with MaxAge it
// is not Ready once Redis has not confirmed that snapshot for that long,
// or once a version or floor in Redis shows a node holds a newer one (see
// Follower). Only the publisher's snapshot of the follower's version, or
// of a newer one, confirms it: a Redis holding no snapshot, or an older
// one (emptied while the portal node is down), confirms nothing, so the
// follower is not Ready once MaxAge has passed since its last
// confirmation, as when Redis is unreachable.
package cluster
