package sessions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// keyVersion names the layout of the keys and of their values; a change
// of either takes a new one, so nodes of two versions never read each
// other's sessions.
const (
	keyVersion     = "v1:session:"
	accountVersion = "v1:account:"
)

// DefaultRedisTimeout bounds each call to Redis when RedisOptions.Timeout
// is 0. Portal pages are interactive and already spend a bcrypt on every
// log-in, so the budget can absorb a stall of Redis (a fork for a
// snapshot, a failover) that the gateway's per-request budget could not,
// while a developer still gets an answer in well under a second when
// Redis is gone.
const DefaultRedisTimeout = 500 * time.Millisecond

// RedisOptions configures NewRedis.
type RedisOptions struct {
	// KeyPrefix begins every key, before "v1:session:" or
	// "v1:account:"; "" means "cuegate:".
	KeyPrefix string
	// Timeout bounds each call to Redis; 0 means DefaultRedisTimeout.
	Timeout time.Duration
}

// Redis keeps sessions in Redis, so that every portal node sharing the
// server shares them and a restart of a node ends none.
//
// A session is one string key, KeyPrefix + "v1:session:" + the SHA-256
// of its token in hex: Redis never holds a token, so reading it does
// not let anybody log in. The value is the Session in JSON; the key
// expires with the session's time to live (SET … PX), which an Update
// keeps (SET … XX KEEPTTL). Each account's sessions are members of a
// sorted set, KeyPrefix + "v1:account:" + the SHA-256 of Session.Email
// in hex, each member the hex of its key, scored by its creation in Unix
// microseconds by the node's clock; a Create drops the members created
// longer than its time to live ago, ends the oldest beyond MaxPerAccount
// (never the session it creates, whatever the nodes' clocks), and gives
// the set the new session's time to live; a Delete removes its member.
// After session_ttl is shortened, sessions made under the longer one may
// stop being counted before they expire (at most MaxPerAccount of them,
// once). Every command
// names one key, so the keys may lie in different slots of a Redis
// Cluster; the steps of a Create are not atomic, and two concurrent ones
// for an account may leave it a session over the cap until its next. An
// Update that changes Session.Email leaves the session counted under its
// first account. Each call is bounded by the Timeout.
//
// A Redis is safe for concurrent use. The client is the caller's, to
// close after the Redis is no longer used.
type Redis struct {
	client   rueidis.Client
	prefix   string // of the sessions' keys
	accounts string // of the accounts' sets' keys
	timeout  time.Duration
}

var _ Store = (*Redis)(nil)

// NewRedis returns a Redis store that calls Redis through client.
func NewRedis(client rueidis.Client, opts RedisOptions) *Redis {
	if opts.KeyPrefix == "" {
		opts.KeyPrefix = "cuegate:"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultRedisTimeout
	}
	return &Redis{client: client, prefix: opts.KeyPrefix + keyVersion, accounts: opts.KeyPrefix + accountVersion, timeout: opts.Timeout}
}

// key returns the Redis key of the session stored under token.
func (r *Redis) key(token string) string { return r.prefix + r.member(token) }

// member is the name of token's session in its account's set: the
// token's SHA-256 in hex, which its key ends with.
func (r *Redis) member(token string) string { return hexSHA256(token) }

// accountKey returns the Redis key of the set of email's sessions.
func (r *Redis) accountKey(email string) string { return r.accounts + hexSHA256(email) }

func hexSHA256(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// Create stores s under token for ttl, rounded up to a whole millisecond,
// and ends the oldest sessions of s.Email beyond MaxPerAccount.
func (r *Redis) Create(ctx context.Context, token string, s Session, ttl time.Duration) error {
	v, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("sessions: %w", err)
	}
	ms := int64(max((ttl+time.Millisecond-1)/time.Millisecond, 1))
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	now := time.Now().UnixMicro()
	b, member, account := r.client.B(), r.member(token), r.accountKey(s.Email)
	res, err := r.doMulti(ctx, "create",
		b.Set().Key(r.prefix+member).Value(string(v)).PxMilliseconds(ms).Build(),
		b.Zadd().Key(account).ScoreMember().ScoreMember(float64(now), member).Build(),
		b.Pexpire().Key(account).Milliseconds(ms).Build(),
		b.Zremrangebyscore().Key(account).Min("-inf").Max("("+strconv.FormatInt(now-ms*1000, 10)).Build(),
		b.Zrange().Key(account).Min("0").Max("-1").Build(),
	)
	if err != nil {
		return err
	}
	members, err := res[len(res)-1].AsStrSlice()
	if err != nil {
		return fmt.Errorf("sessions: redis: create: %w", err)
	}
	others := slices.DeleteFunc(members, func(m string) bool { return m == member })
	return r.end(ctx, account, others[:max(len(others)-(MaxPerAccount-1), 0)])
}

// end deletes the sessions that are members of account's set, and the
// members; ctx is bounded already.
func (r *Redis) end(ctx context.Context, account string, members []string) error {
	if len(members) == 0 {
		return nil
	}
	cmds := make(rueidis.Commands, 0, len(members)+1)
	for _, m := range members {
		cmds = append(cmds, r.client.B().Del().Key(r.prefix+m).Build())
	}
	cmds = append(cmds, r.client.B().Zrem().Key(account).Member(members...).Build())
	_, err := r.doMulti(ctx, "end the oldest sessions", cmds...)
	return err
}

// doMulti runs cmds in one round trip on ctx, bounded already, and
// returns their replies, or the first error among them, as what's.
func (r *Redis) doMulti(ctx context.Context, what string, cmds ...rueidis.Completed) ([]rueidis.RedisResult, error) {
	res := r.client.DoMulti(ctx, cmds...)
	for _, re := range res {
		if err := re.Error(); err != nil {
			return nil, fmt.Errorf("sessions: redis: %s: %w", what, err)
		}
	}
	return res, nil
}

// Get returns the session stored under token. A value that is not a
// session (not written by this version) is taken for none.
func (r *Redis) Get(ctx context.Context, token string) (Session, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	v, err := r.client.Do(ctx, r.client.B().Get().Key(r.key(token)).Build()).AsBytes()
	if rueidis.IsRedisNil(err) {
		return Session{}, false, nil
	}
	if err != nil {
		return Session{}, false, fmt.Errorf("sessions: redis: get: %w", err)
	}
	var s Session
	if json.Unmarshal(v, &s) != nil {
		return Session{}, false, nil
	}
	return s, true, nil
}

// Update replaces the session stored under token, keeping its time to
// live (SET … XX KEEPTTL: nothing is stored when the key is gone).
func (r *Redis) Update(ctx context.Context, token string, s Session) error {
	v, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("sessions: %w", err)
	}
	return r.do(ctx, "update", r.client.B().Set().Key(r.key(token)).Value(string(v)).Xx().Keepttl().Build())
}

// Delete removes the session stored under token, and its member of its
// account's set.
func (r *Redis) Delete(ctx context.Context, token string) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	key := r.key(token)
	res := r.client.DoMulti(ctx, r.client.B().Get().Key(key).Build(), r.client.B().Del().Key(key).Build())
	if err := res[1].Error(); err != nil {
		return fmt.Errorf("sessions: redis: delete: %w", err)
	}
	v, err := res[0].AsBytes()
	var s Session
	if err != nil || json.Unmarshal(v, &s) != nil {
		return nil // no session there, or none this version wrote
	}
	if err := r.client.Do(ctx, r.client.B().Zrem().Key(r.accountKey(s.Email)).Member(r.member(token)).Build()).Error(); err != nil {
		return fmt.Errorf("sessions: redis: delete: %w", err)
	}
	return nil
}

// do runs cmd within the timeout; a nil reply (SET XX on no key) is no
// error.
func (r *Redis) do(ctx context.Context, what string, cmd rueidis.Completed) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if err := r.client.Do(ctx, cmd).Error(); err != nil && !rueidis.IsRedisNil(err) {
		return fmt.Errorf("sessions: redis: %s: %w", what, err)
	}
	return nil
}
