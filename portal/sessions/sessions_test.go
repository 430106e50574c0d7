package sessions

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cuegate/cuegate/internal/testutil"
)

// storeKind makes a fresh, empty store of one implementation for t.
type storeKind struct {
	name string
	make func(t *testing.T) Store
}

// storeKinds are the implementations the behaviours run against: each
// Redis store has a key prefix of its own on one shared server.
func storeKinds(t *testing.T) []storeKind {
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	return []storeKind{
		{"Memory", func(*testing.T) Store { return NewMemory(nil) }},
		{"Redis", func(t *testing.T) Store {
			return NewRedis(client, RedisOptions{KeyPrefix: "test:" + strings.ReplaceAll(t.Name(), "/", ":") + ":"})
		}},
	}
}

// step is one call in a behaviour. For "get", want is the session
// expected, nil for none; "expires" waits until token's session is gone.
type step struct {
	op    string // create, get, update, delete, expires
	token string
	s     Session
	ttl   time.Duration
	want  *Session
}

var (
	t0     = time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	alice  = Session{Email: "alice@example.com", Account: t0, Expires: t0.Add(time.Hour)}
	alice2 = Session{Email: "alice@example.com", Account: t0, Expires: t0.Add(time.Hour), Flash: "You are logged in.", JustCreated: "client-1"}
	bob    = Session{Email: "bob@example.com", Account: t0.Add(time.Minute), Expires: t0.Add(2 * time.Hour)}
)

// behaviour is a named sequence of steps.
type behaviour struct {
	name  string
	steps []step
}

// behaviours are the session rules every Store keeps.
var behaviours = []behaviour{
	{"an unknown token has no session", []step{
		{op: "get", token: "a"},
	}},
	{"create then get", []step{
		{op: "create", token: "a", s: alice, ttl: time.Hour},
		{op: "get", token: "a", want: &alice},
		{op: "get", token: "b"},
	}},
	{"create replaces", []step{
		{op: "create", token: "a", s: alice, ttl: time.Hour},
		{op: "create", token: "a", s: bob, ttl: time.Hour},
		{op: "get", token: "a", want: &bob},
	}},
	{"tokens are apart", []step{
		{op: "create", token: "a", s: alice, ttl: time.Hour},
		{op: "create", token: "b", s: bob, ttl: time.Hour},
		{op: "get", token: "a", want: &alice},
		{op: "get", token: "b", want: &bob},
	}},
	{"update replaces and keeps the time to live", []step{
		{op: "create", token: "a", s: alice, ttl: 200 * time.Millisecond},
		{op: "update", token: "a", s: alice2},
		{op: "get", token: "a", want: &alice2},
		{op: "expires", token: "a"},
	}},
	{"update of no session stores nothing", []step{
		{op: "update", token: "a", s: alice},
		{op: "get", token: "a"},
	}},
	{"update after delete stores nothing", []step{
		{op: "create", token: "a", s: alice, ttl: time.Hour},
		{op: "delete", token: "a"},
		{op: "update", token: "a", s: alice2},
		{op: "get", token: "a"},
	}},
	{"delete ends one session", []step{
		{op: "create", token: "a", s: alice, ttl: time.Hour},
		{op: "create", token: "b", s: bob, ttl: time.Hour},
		{op: "delete", token: "a"},
		{op: "get", token: "a"},
		{op: "get", token: "b", want: &bob},
		{op: "delete", token: "a"},
	}},
	{"a session expires with its time to live", []step{
		{op: "create", token: "a", s: alice, ttl: 50 * time.Millisecond},
		{op: "create", token: "b", s: bob, ttl: time.Hour},
		{op: "expires", token: "a"},
		{op: "get", token: "b", want: &bob},
	}},
	{"an expired session is not updated back", []step{
		{op: "create", token: "a", s: alice, ttl: 50 * time.Millisecond},
		{op: "expires", token: "a"},
		{op: "update", token: "a", s: alice2},
		{op: "get", token: "a"},
	}},
}

// capBehaviours are the rules of MaxPerAccount every Store keeps.
func capBehaviours() []behaviour {
	creates := func(s Session, from, to int) (steps []step) {
		for i := from; i < to; i++ {
			steps = append(steps, step{op: "create", token: fmt.Sprint(s.Email, i), s: s, ttl: time.Hour})
		}
		return steps
	}
	gets := func(s Session, from, to int, live bool) (steps []step) {
		for i := from; i < to; i++ {
			st := step{op: "get", token: fmt.Sprint(s.Email, i)}
			if live {
				st.want = &s
			}
			steps = append(steps, st)
		}
		return steps
	}
	const n = MaxPerAccount
	return []behaviour{
		{"an account keeps its newest sessions", slices.Concat(
			creates(bob, 0, 1), creates(alice, 0, n+2),
			gets(alice, 0, 2, false), gets(alice, 2, n+2, true), gets(bob, 0, 1, true),
		)},
		{"a deleted session frees its place", slices.Concat(
			creates(alice, 0, n),
			[]step{{op: "delete", token: fmt.Sprint(alice.Email, n-1)}},
			creates(alice, n, n+1), gets(alice, 0, 1, true),
			creates(alice, n+1, n+2), gets(alice, 0, 1, false), gets(alice, 1, n-1, true),
		)},
		{"an expired session frees its place", slices.Concat(
			[]step{{op: "create", token: "short", s: alice, ttl: 50 * time.Millisecond}},
			creates(alice, 0, n-1),
			[]step{{op: "expires", token: "short"}},
			creates(alice, n-1, n), gets(alice, 0, 1, true),
		)},
	}
}

func TestBehaviours(t *testing.T) {
	for _, kind := range storeKinds(t) {
		t.Run(kind.name, func(t *testing.T) {
			for _, b := range slices.Concat(behaviours, capBehaviours()) {
				t.Run(b.name, func(t *testing.T) {
					t.Parallel()
					run(t, kind.make(t), b.steps)
				})
			}
		})
	}
}

// run runs steps on st.
func run(t *testing.T, st Store, steps []step) {
	t.Helper()
	ctx := context.Background()
	for i, s := range steps {
		var err error
		switch s.op {
		case "create":
			err = st.Create(ctx, s.token, s.s, s.ttl)
		case "update":
			err = st.Update(ctx, s.token, s.s)
		case "delete":
			err = st.Delete(ctx, s.token)
		case "get":
			got, ok, gerr := st.Get(ctx, s.token)
			err = gerr
			switch {
			case s.want == nil && ok:
				t.Errorf("step %d: get %q = %+v, want none", i, s.token, got)
			case s.want != nil && !ok:
				t.Errorf("step %d: get %q: none, want %+v", i, s.token, *s.want)
			case s.want != nil && !reflect.DeepEqual(got, *s.want):
				t.Errorf("step %d: get %q = %+v, want %+v", i, s.token, got, *s.want)
			}
		case "expires":
			testutil.Eventually(t, "session "+s.token+" to expire", func() bool {
				_, ok, err := st.Get(ctx, s.token)
				if err != nil {
					t.Fatalf("step %d: get %q: %v", i, s.token, err)
				}
				return !ok
			})
		default:
			t.Fatalf("step %d: unknown op %q", i, s.op)
		}
		if err != nil {
			t.Fatalf("step %d: %s %q: %v", i, s.op, s.token, err)
		}
	}
}
