// The session store behind the portal: failures fail closed, Redis sessions survive restarts.

package portal

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/testutil"
	"github.com/cuegate/cuegate/portal/sessions"
	"github.com/cuegate/cuegate/portal/sessions/sessionstest"
)

// failingStore is a sessions.Store that fails every call while fail is
// set, as Redis does when it is unreachable, with an error that names
// internals no answer may show; calls counts the calls it failed.
type failingStore struct {
	sessions.Store
	fail  atomic.Bool
	calls atomic.Int64
}

// storeInternals is in failingStore's errors and must reach no answer.
const storeInternals = "redis.internal:6379 NOAUTH s3cr3t"

func (f *failingStore) err() error {
	if !f.fail.Load() {
		return nil
	}
	f.calls.Add(1)
	return errors.New("sessions: redis: " + storeInternals)
}

func (f *failingStore) Create(ctx context.Context, token string, s sessions.Session, ttl time.Duration) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.Store.Create(ctx, token, s, ttl)
}

func (f *failingStore) Get(ctx context.Context, token string) (sessions.Session, bool, error) {
	if err := f.err(); err != nil {
		return sessions.Session{}, false, err
	}
	return f.Store.Get(ctx, token)
}

func (f *failingStore) Update(ctx context.Context, token string, s sessions.Session) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.Store.Update(ctx, token, s)
}

func (f *failingStore) Delete(ctx context.Context, token string) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.Store.Delete(ctx, token)
}

// answer is what a request got: status, Retry-After, body and cookies.
type answer struct {
	status     int
	retryAfter string
	body       string
	cookies    map[string]*http.Cookie
}

// do sends a request to base with c and reads the answer: a form when
// form is set, JSON when json is set.
func do(t *testing.T, c *http.Client, method, url string, form url.Values, json string) answer {
	t.Helper()
	var body io.Reader
	switch {
	case form != nil:
		body = strings.NewReader(form.Encode())
	case json != "":
		body = strings.NewReader(json)
	}
	req, _ := http.NewRequest(method, url, body)
	switch {
	case form != nil:
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case json != "":
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header.Get("Retry-After"), string(b), cookies(resp)}
}

const (
	storeDownPage   = "The portal cannot reach its session store; try again shortly."
	storeDownSignup = "Your account is created, but the portal cannot reach its session store to log you in; log in again shortly."
	storeDownJSON   = `"error_description": "the portal cannot reach its session store; try again shortly"`
)

func TestSessionStoreFailureFailsClosed(t *testing.T) {
	t.Parallel()
	st := &failingStore{Store: sessions.NewMemory(nil)}
	e := newEnvOpts(t, Options{Logger: zerolog.Nop(), Sessions: st})
	dev := e.developer("dev@example.com")
	_, _, devTok := e.page(dev, "/clients")
	anon := e.browser()
	_, _, anonTok := e.page(anon, "/login")
	st.fail.Store(true)

	u := e.srv.URL
	creds := func(email string) url.Values {
		return url.Values{"csrf_token": {anonTok}, "email": {email}, "password": {"correct horse"}}
	}
	for _, tt := range []struct {
		name     string
		c        *http.Client
		method   string
		path     string
		form     url.Values
		json     string
		status   int
		want     string // in the body
		notWant  string // not in the body
		storeHit int64  // calls the request makes to the store
	}{
		{"catalogue, as to a visitor", dev, "GET", "/catalogue", nil, "", 200, "Gluu things", "dev@example.com", 1},
		{"API catalogue", dev, "GET", apiPrefix + "/catalogue", nil, "", 200, `"gluu_api"`, "", 0},
		{"login form", anon, "GET", "/login", nil, "", 200, `name="password"`, "", 0},
		{"login", anon, "POST", "/login", creds("dev@example.com"), "", 503, storeDownPage, "", 1},
		{"sign-up", anon, "POST", "/signup", creds("new@example.com"), "", 503, storeDownSignup, "", 1},
		{"a page for developers", dev, "GET", "/clients", nil, "", 503, storeDownPage, "dev@example.com", 1},
		{"a form for developers", dev, "POST", "/clients/new", url.Values{"csrf_token": {devTok}, "catalogue": {"gluu_api"}}, "", 503, storeDownPage, "", 1},
		{"logout", dev, "POST", "/logout", url.Values{"csrf_token": {devTok}}, "", 503, storeDownPage, "", 1},
		{"API clients", dev, "GET", apiPrefix + "/clients", nil, "", 503, storeDownJSON, "", 1},
		{"API login", anon, "POST", apiPrefix + "/login", nil, `{"email":"dev@example.com","password":"correct horse"}`, 503, storeDownJSON, "", 1},
		{"API sign-up", anon, "POST", apiPrefix + "/signup", nil, `{"email":"new2@example.com","password":"correct horse"}`, 503,
			`"error_description": "your account is created, but the portal cannot reach its session store to log you in; log in again shortly"`, "", 1},
		{"API logout", dev, "POST", apiPrefix + "/logout", nil, "{}", 503, storeDownJSON, "", 1},
	} {
		before := st.calls.Load()
		a := do(t, tt.c, tt.method, u+tt.path, tt.form, tt.json)
		if a.status != tt.status || !strings.Contains(a.body, tt.want) || tt.notWant != "" && strings.Contains(a.body, tt.notWant) {
			t.Errorf("%s: %d, want %d with %q and without %q:\n%s", tt.name, a.status, tt.status, tt.want, tt.notWant, a.body)
		}
		if strings.Contains(a.body, storeInternals) {
			t.Errorf("%s: the answer shows the store's error:\n%s", tt.name, a.body)
		}
		if tt.status == 503 && a.retryAfter != "5" {
			t.Errorf("%s: Retry-After %q, want 5", tt.name, a.retryAfter)
		}
		if c := a.cookies[sessionCookie]; c != nil {
			t.Errorf("%s: the answer sets the session cookie %+v", tt.name, c)
		}
		if n := st.calls.Load() - before; n != tt.storeHit {
			t.Errorf("%s: %d calls to the failing store, want %d", tt.name, n, tt.storeHit)
		}
	}
	for _, email := range []string{"new@example.com", "new2@example.com"} {
		if _, ok := e.store.Developer(email); !ok {
			t.Errorf("the account %s signed up while the store failed is lost", email)
		}
	}

	st.fail.Store(false) // the store is back: the session was kept all along
	if status, body, _ := e.page(dev, "/clients"); status != 200 || !strings.Contains(body, "dev@example.com") {
		t.Errorf("after the store is back: %d\n%s", status, body)
	}
}

// node is another portal Server on e's state file, table and clock with
// sessions in st: a second portal node, or e's node restarted.
func (e *env) node(st sessions.Store) *env {
	n := &env{t: e.t, store: e.store, idp: e.idp}
	n.table.Store(e.table.Load())
	n.now.Store(e.now.Load())
	s, err := New(Options{Table: n.table.Load, Store: e.store, BcryptCost: bcrypt.MinCost, Logger: zerolog.Nop(),
		Now: func() time.Time { return *n.now.Load() }, Sessions: st})
	if err != nil {
		e.t.Fatal(err)
	}
	n.s, n.srv = s, httptest.NewServer(s.Handler())
	e.t.Cleanup(n.srv.Close)
	return n
}

// redisSessions is a sessions.Redis on its own client of srv.
func redisSessions(t *testing.T, srv *testutil.Redis, timeout time.Duration) (*sessions.Redis, rueidis.Client) {
	t.Helper()
	c := srv.Client(t)
	return sessions.NewRedis(c, sessions.RedisOptions{Timeout: timeout}), c
}

// sessionKinds are the session stores the portal's session rules run on.
func sessionKinds(t *testing.T) []struct {
	name string
	make func(t *testing.T) sessions.Store
} {
	srv := testutil.StartRedis(t)
	return []struct {
		name string
		make func(t *testing.T) sessions.Store
	}{
		{"memory", func(*testing.T) sessions.Store { return nil }},
		{"Redis", func(t *testing.T) sessions.Store {
			st, _ := redisSessions(t, srv, 0)
			return st
		}},
	}
}

func TestSessionRules(t *testing.T) {
	t.Parallel()
	for _, kind := range sessionKinds(t) {
		t.Run(kind.name, func(t *testing.T) {
			loggedIn := func(e *env, c *http.Client) bool {
				t.Helper()
				status, _, _ := e.page(c, "/clients")
				return status == http.StatusOK
			}
			t.Run("a session ends with its time to live", func(t *testing.T) {
				e := newEnvOpts(t, Options{Logger: zerolog.Nop(), Sessions: kind.make(t)})
				dev := e.developer("dev@example.com")
				e.advance(time.Hour) // the table's session_ttl
				if !loggedIn(e, dev) {
					t.Error("the session ended before its time to live")
				}
				e.advance(time.Nanosecond)
				if loggedIn(e, dev) {
					t.Error("the session outlives its time to live")
				}
			})
			t.Run("a shortened session_ttl ends the longer sessions", func(t *testing.T) {
				e := newEnvOpts(t, Options{Logger: zerolog.Nop(), Sessions: kind.make(t)})
				dev := e.developer("dev@example.com")
				tab := e.freshTable()
				tab.Portal.SessionTTL = table.Duration(30 * time.Minute)
				e.table.Store(tab) // a hot swap
				if loggedIn(e, dev) {
					t.Error("a session of 1h outlives session_ttl shortened to 30m")
				}
				if again := e.developer("again@example.com"); !loggedIn(e, again) {
					t.Error("a session started under the shortened session_ttl does not hold")
				}
			})
			t.Run("logout ends the session, not others", func(t *testing.T) {
				e := newEnvOpts(t, Options{Logger: zerolog.Nop(), Sessions: kind.make(t)})
				dev, other := e.developer("dev@example.com"), e.developer("other@example.com")
				stolen := e.browser() // a copy of dev's cookie, kept by somebody else
				u, _ := url.Parse(e.srv.URL)
				stolen.Jar.SetCookies(u, dev.Jar.Cookies(u))
				if resp := e.api(dev, "POST", "/logout", struct{}{}, nil); resp.StatusCode != http.StatusNoContent {
					t.Fatalf("logout: %d", resp.StatusCode)
				}
				if loggedIn(e, dev) || loggedIn(e, stolen) {
					t.Error("the session outlives its logout")
				}
				if !loggedIn(e, other) {
					t.Error("a logout ended another developer's session")
				}
			})
			t.Run("a session ends with its account", func(t *testing.T) {
				e := newEnvOpts(t, Options{Logger: zerolog.Nop(), Sessions: kind.make(t)})
				dev := e.developer("dev@example.com")
				if _, err := e.s.accounts().Remove("dev@example.com"); err != nil {
					t.Fatal(err)
				}
				// Somebody else signs up under the address before the old
				// session comes back: it is not theirs.
				e.advance(time.Second)
				again := e.developer("dev@example.com")
				if loggedIn(e, dev) {
					t.Error("a session of a removed account logs in to the account created again under its email")
				}
				if !loggedIn(e, again) {
					t.Error("the new account's session does not hold")
				}
			})
			t.Run("a forged cookie is no session", func(t *testing.T) {
				e := newEnvOpts(t, Options{Logger: zerolog.Nop(), Sessions: kind.make(t)})
				e.developer("dev@example.com")
				forged := e.browser()
				u, _ := url.Parse(e.srv.URL)
				for _, v := range []string{randomToken(), "x", strings.Repeat("A", 4096)} {
					forged.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: v}})
					if loggedIn(e, forged) {
						t.Errorf("cookie %.20q… logs in", v)
					}
				}
			})
		})
	}
}

func TestRedisSessionsSurviveARestart(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	stA, c := redisSessions(t, srv, 0)
	a := newEnvOpts(t, Options{Logger: zerolog.Nop(), Sessions: stA})
	b := a.browser()
	_, _, tok := a.page(b, "/signup")
	if resp, body := a.post(b, "/signup", url.Values{"csrf_token": {tok}, "email": {"dev@example.com"}, "password": {"correct horse"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("signup: %d %s", resp.StatusCode, body)
	}
	token := a.sessionToken(b)

	// Redis holds the session under the token's hash, for session_ttl.
	ctx := context.Background()
	key, v := sessionstest.StoredSession(t, c, "cuegate:", token)
	if strings.Contains(v, sessionCSRF(token)) {
		t.Errorf("Redis holds the session's CSRF token: %q = %q", key, v)
	}
	if ms, _ := c.Do(ctx, c.B().Pttl().Key(key).Build()).AsInt64(); ms <= (time.Hour-time.Minute).Milliseconds() || ms > time.Hour.Milliseconds() {
		t.Errorf("PTTL %dms, want session_ttl (1h)", ms)
	}

	// The node restarts (a new Server, a new client, the same Redis): the
	// developer is still logged in, sees the flash left before the
	// restart, and its forms work.
	stB, _ := redisSessions(t, srv, 0)
	a.srv.Close()
	restarted := a.node(stB)
	status, body, tok := restarted.page(b, "/clients")
	if status != http.StatusOK || !strings.Contains(body, "dev@example.com") || !strings.Contains(body, "Welcome — your account is ready.") {
		t.Fatalf("after a restart: %d\n%s", status, body)
	}
	if resp, body := restarted.post(b, "/logout", url.Values{"csrf_token": {tok}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout after a restart: %d %s", resp.StatusCode, body)
	}
	if n, _ := c.Do(ctx, c.B().Dbsize().Build()).AsInt64(); n != 0 {
		t.Errorf("after logout Redis holds %d keys", n)
	}
}

func TestRedisPausedFailsClosedInTime(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	const timeout = 200 * time.Millisecond
	st, _ := redisSessions(t, srv, timeout)
	e := newEnvOpts(t, Options{Logger: zerolog.Nop(), Sessions: st})
	dev := e.developer("dev@example.com")
	anon := e.browser()
	_, _, tok := e.page(anon, "/login")

	srv.Pause()
	defer srv.Resume()
	for _, tt := range []struct {
		name   string
		c      *http.Client
		method string
		path   string
		form   url.Values
		status int
	}{
		{"login", anon, "POST", "/login", url.Values{"csrf_token": {tok}, "email": {"dev@example.com"}, "password": {"correct horse"}}, 503},
		{"a page for developers", dev, "GET", "/clients", nil, 503},
		{"API clients", dev, "GET", apiPrefix + "/clients", nil, 503},
		{"catalogue", dev, "GET", "/catalogue", nil, 200},
	} {
		start := time.Now()
		a := do(t, tt.c, tt.method, e.srv.URL+tt.path, tt.form, "")
		if took := time.Since(start); took > timeout+time.Second {
			t.Errorf("%s took %v with a timeout of %v", tt.name, took, timeout)
		}
		if a.status != tt.status || strings.Contains(a.body, srv.Addr()) {
			t.Errorf("%s while Redis is paused: %d, want %d:\n%s", tt.name, a.status, tt.status, a.body)
		}
	}
	srv.Resume()
	testutil.Eventually(t, "the session to hold again", func() bool {
		status, _, _ := e.page(dev, "/clients")
		return status == http.StatusOK
	})
}

// TestRedisCannotMakeASession: whoever can write to the sessions' Redis
// (and read it) cannot log in: a session copied under a token of their
// choosing, or one given a later expiry, is refused, and the developer's
// own session still works.
func TestRedisCannotMakeASession(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	st, c := redisSessions(t, srv, 0)
	e := newEnvOpts(t, Options{Logger: zerolog.Nop(), Sessions: st})
	victim := e.developer("victim@example.com")
	created := e.create(victim, "prod", "gluu_api")
	token := e.sessionToken(victim)
	_, stored := sessionstest.StoredSession(t, c, "cuegate:", token)
	var rec sessions.Session
	if err := json.Unmarshal([]byte(stored), &rec); err != nil {
		t.Fatal(err)
	}
	later := rec
	later.Expires = rec.Expires.Add(100 * 365 * 24 * time.Hour)
	wrapped := rec // the same UnixNano, 2^64 ns later
	wrapped.Expires = rec.Expires.Add(math.MaxInt64).Add(math.MaxInt64).Add(2)
	ctx := context.Background()
	for _, tt := range []struct {
		name  string
		token string
		rec   sessions.Session
	}{
		{"copied under a token of the writer's", strings.Repeat("A", tokenLen), rec},
		{"given a later expiry", token, later},
		{"given a later expiry under a token of the writer's", strings.Repeat("B", tokenLen), later},
		{"given an expiry 2^64 ns later", token, wrapped},
	} {
		v, _ := json.Marshal(tt.rec)
		key := sessionstest.SessionKey("cuegate:", tt.token)
		if err := c.Do(ctx, c.B().Set().Key(key).Value(string(v)).Build()).Error(); err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", e.srv.URL+apiPrefix+"/clients/"+created.ClientID, nil)
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: tt.token})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || strings.Contains(string(body), created.ClientSecret) {
			t.Errorf("a session %s: %d %s", tt.name, resp.StatusCode, body)
		}
	}
	if n, _ := c.Do(ctx, c.B().Exists().Key(sessionstest.SessionKey("cuegate:", strings.Repeat("A", tokenLen))).Build()).AsInt64(); n != 0 {
		t.Error("a refused session is kept in Redis")
	}
	other := e.developer("other@example.com") // a session made after the forgeries works
	if resp := e.api(other, "GET", "/clients", nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("a developer's own session: %d", resp.StatusCode)
	}
}
