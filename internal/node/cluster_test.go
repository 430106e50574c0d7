package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/internal/devidp"
	"github.com/cuegate/cuegate/internal/node/nodetest"
	"github.com/cuegate/cuegate/internal/testutil"
	"github.com/cuegate/cuegate/portal/store"
	"github.com/cuegate/cuegate/runtime"
)

// clusterConfig is a JWT API under a quota of 5 and a client binding's
// policy, on the Redis at %[3]s with key prefix %[4]s; %[1]s is the IdP's
// issuer, %[5]s its JWKS, %[2]s the upstream.
const clusterConfig = `package t

gateway: {listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0", portal_listen: "127.0.0.1:0"}
idps: dev: {issuer: %[1]q, jwks_uri: %[5]q}
apis: q: {
	name:        "Q"
	listen_path: "/q"
	upstream: targets: [%[2]q]
	auth: jwt: {idp: "dev", default_policies: ["five"]}
}
policies: five: {name: "Five", access: q: {}, quota: {max: 5, period: "1h"}}
policies: bound: {name: "Bound", access: q: {}}
portal: catalogue: e: {name: "E", api: "q", policy: "bound"}
cluster: redis: {address: %[3]q, key_prefix: %[4]q}
`

// clusterEnv is two nodes on one configuration and one Redis: a portal
// node (with the state file) and a follower.
type clusterEnv struct {
	idp              *devidp.Provider
	redis            *testutil.Redis
	dir, state       string
	bindings         string // the follower's file
	portal, follower *Node
}

// startClusterEnv starts the two nodes on clusterConfig and extra.
func startClusterEnv(t *testing.T, extra ...string) *clusterEnv {
	t.Helper()
	e := newClusterEnv(t, extra...)
	e.state = filepath.Join(t.TempDir(), "state.json")
	e.portal = e.start(t, e.state, "")
	e.bindings = filepath.Join(t.TempDir(), "bindings.json")
	e.follower = e.start(t, "", e.bindings)
	return e
}

// newClusterEnv writes clusterConfig and extra for a new Redis and
// identity provider, and starts no node.
func newClusterEnv(t *testing.T, extra ...string) *clusterEnv {
	t.Helper()
	e := &clusterEnv{redis: testutil.StartRedis(t), dir: t.TempDir()}
	e.idp = newIdP(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })) //nolint:errcheck
	t.Cleanup(up.Close)
	cfg := fmt.Sprintf(clusterConfig, e.idp.Issuer(), up.URL, e.redis.Addr(), strings.ReplaceAll(t.Name(), "/", "_")+":", e.idp.JWKSURL())
	testutil.WriteFile(t, filepath.Join(e.dir, "c.cue"), cfg+strings.Join(extra, ""), 0o644)
	return e
}

// followerBinds reports whether the follower binds the client id (found,
// not revoked).
func (e *clusterEnv) followerBinds(id string) bool {
	b, found := e.follower.cluster.follower.Binding(id)
	return found && !b.Revoked
}

func (e *clusterEnv) start(t *testing.T, state, bindings string) *Node {
	t.Helper()
	n, err := Start(context.Background(), Options{ConfigDir: e.dir, StatePath: state, BindingsFile: bindings, Logger: zerolog.Nop(),
		Listen: "127.0.0.1:0", AdminListen: "127.0.0.1:0", PortalListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown() }) //nolint:errcheck
	testutil.Eventually(t, "the node to be ready", n.Gateway().Ready)
	return n
}

func (e *clusterEnv) token(t *testing.T, clientID string) string {
	t.Helper()
	tok, err := e.idp.Sign(map[string]any{"client_id": clientID, "iss": e.idp.Issuer(), "exp": time.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// bindDevClient registers dev-client of d@example.com, bound to policy
// "bound", in the portal node's state file, and returns the store.
func (e *clusterEnv) bindDevClient(t *testing.T) *store.Store {
	t.Helper()
	st := e.portal.portal.store
	created := time.Now()
	if err := st.AddDeveloper(store.Developer{Email: "d@example.com", Created: created}); err != nil {
		t.Fatal(err)
	}
	if err := st.AddClient(store.Client{ClientID: "dev-client", Developer: "d@example.com", Policy: "bound", Catalogue: []string{"e"}}, created); err != nil {
		t.Fatal(err)
	}
	return st
}

func status(t *testing.T, n *Node) runtime.Status {
	t.Helper()
	_, body := testutil.Get(t, "http://"+n.AdminAddr()+"/status", "")
	var s runtime.Status
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("/status: %v: %s", err, body)
	}
	return s
}

// TestClusterSharesQuota: two nodes on one Redis count one quota, and
// /status and /metrics say the limiter counts in Redis.
func TestClusterSharesQuota(t *testing.T) {
	t.Parallel()
	e := startClusterEnv(t)
	tok := e.token(t, "shared")
	passed := 0
	for i := range 10 {
		n := []*Node{e.portal, e.follower}[i%2]
		if code, _ := testutil.Get(t, "http://"+n.GatewayAddr()+"/q/x", tok); code == http.StatusOK {
			passed++
		}
	}
	if passed != 5 {
		t.Errorf("10 requests over two nodes against a quota of 5: %d passed", passed)
	}
	for _, n := range []*Node{e.portal, e.follower} {
		s := status(t, n)
		if s.Cluster == nil || s.Cluster.Limiter != "redis" || !s.Cluster.Bindings.Ready {
			t.Errorf("/status cluster = %+v, want the Redis limiter and bindings ready", s.Cluster)
		}
	}
	if s := status(t, e.follower); s.Cluster.Bindings.Role != "follower" {
		t.Errorf("the node without the state file is a %q", s.Cluster.Bindings.Role)
	}
	_, metrics := testutil.Get(t, "http://"+e.follower.AdminAddr()+"/metrics", "")
	if !strings.Contains(metrics, `cuegate_cluster_limiter_mode{mode="redis"} 1`) {
		t.Errorf("/metrics has no cuegate_cluster_limiter_mode{mode=\"redis\"} 1")
	}
}

// TestClusterFollowsBindings: a client the portal node binds is bound on
// the follower, and once deleted it is refused there too, also by a
// follower restarted while Redis is down (from its file).
func TestClusterFollowsBindings(t *testing.T) {
	t.Parallel()
	e := startClusterEnv(t)
	st := e.bindDevClient(t)
	tok := e.token(t, "dev-client")
	gw := "http://" + e.follower.GatewayAddr() + "/q/x"
	testutil.Eventually(t, "the binding on the follower (200 beyond the default quota)", func() bool {
		for range 6 {
			if code, _ := testutil.Get(t, gw, tok); code != http.StatusOK {
				return false
			}
		}
		return true
	})
	if _, err := st.DeleteClient("dev-client", time.Now()); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the deletion on the follower", func() bool {
		code, _ := testutil.Get(t, gw, tok)
		return code == http.StatusForbidden
	})

	e.redis.Kill()
	restarted := e.start(t, "", e.bindings)
	if code, body := testutil.Get(t, "http://"+restarted.GatewayAddr()+"/q/x", tok); code != http.StatusForbidden {
		t.Errorf("deleted client on a follower restarted with Redis down: %d %s, want 403", code, body)
	}
}

// TestAdminListenFlagNeedsToken: --admin-listen on an address other
// machines reach needs admin_token, as admin_listen does.
func TestAdminListenFlagNeedsToken(t *testing.T) {
	t.Parallel()
	dir, _ := nodetest.Dir(t, nil)
	_, err := Start(context.Background(), Options{ConfigDir: dir, Logger: zerolog.Nop(), Listen: "127.0.0.1:0", AdminListen: "0.0.0.0:0"})
	if err == nil || !strings.Contains(err.Error(), "set gateway.admin_token") {
		t.Fatalf("Start with --admin-listen 0.0.0.0:0 and no token: %v", err)
	}
}

// TestFollowerNotReady: a follower started while Redis is down, without a
// bindings file, is not ready and answers requests to JWT APIs 503, never
// 403 "revoked"; it becomes ready when Redis answers.
func TestFollowerNotReady(t *testing.T) {
	t.Parallel()
	e := startClusterEnv(t)
	e.redis.Kill()
	n, err := Start(context.Background(), Options{ConfigDir: e.dir, BindingsFile: filepath.Join(t.TempDir(), "bindings.json"), Logger: zerolog.Nop(),
		Listen: "127.0.0.1:0", AdminListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown() }) //nolint:errcheck
	if code, body := testutil.Get(t, "http://"+n.AdminAddr()+"/readyz", ""); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz of a follower without bindings: %d %s", code, body)
	}
	code, body := testutil.Get(t, "http://"+n.GatewayAddr()+"/q/x", e.token(t, "anyone"))
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "not loaded the portal's client registrations") {
		t.Errorf("request to a follower without bindings: %d %s, want 503", code, body)
	}
	e.redis.Restart()
	testutil.Eventually(t, "the follower to be ready once Redis is back", n.Gateway().Ready)
}

// TestRedisWrongPassword: Redis refusing the password is a start-up
// error that says so, not an outage to wait out.
func TestRedisWrongPassword(t *testing.T) {
	t.Parallel()
	e := startClusterEnv(t)
	if _, err := e.redis.Do("CONFIG", "SET", "requirepass", "right-one"); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"pw.cue": "package t\n\ncluster: redis: password: file: \"redis.pw\"\n", "redis.pw": "wrong-one\n"} {
		testutil.WriteFile(t, filepath.Join(e.dir, name), content, 0o600)
	}
	_, err := Start(context.Background(), Options{ConfigDir: e.dir, BindingsFile: filepath.Join(t.TempDir(), "b.json"), Logger: zerolog.Nop(),
		Listen: "127.0.0.1:0", AdminListen: "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), "refused the username or password") || strings.Contains(err.Error(), "wrong-one") {
		t.Fatalf("Start with a wrong Redis password: %v", err)
	}
}

// TestRemovalWhileRedisIsDownIsRefused: with Redis down the portal node
// refuses to remove an account (503, nothing removed), since the other
// nodes could not be told and would keep accepting its clients; once
// Redis is back the removal goes through, and the follower refuses the
// client.
func TestRemovalWhileRedisIsDownIsRefused(t *testing.T) {
	t.Parallel()
	e := startClusterEnv(t)
	st := e.bindDevClient(t)
	bound := func() bool { return e.followerBinds("dev-client") }
	testutil.Eventually(t, "the binding on the follower", bound)
	remove := func() (int, string) {
		req, err := http.NewRequest(http.MethodDelete, "http://"+e.portal.AdminAddr()+OperatorPrefix+"/developers/d@example.com", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	e.redis.Kill()
	if code, body := remove(); code != http.StatusServiceUnavailable || !strings.Contains(body, "nothing was deleted") {
		t.Errorf("removal with Redis down: %d %s, want 503 saying nothing was deleted", code, body)
	}
	if _, ok := st.Developer("d@example.com"); !ok || len(st.Clients("")) != 1 {
		t.Fatal("a refused removal changed the state file")
	}
	if !bound() {
		t.Fatal("the follower lost the binding")
	}

	e.redis.Restart()
	testutil.Eventually(t, "the removal once Redis is back", func() bool {
		code, _ := remove()
		return code == http.StatusOK
	})
	tok := e.token(t, "dev-client")
	testutil.Eventually(t, "the removed developer's client refused on the follower", func() bool {
		code, _ := testutil.Get(t, "http://"+e.follower.GatewayAddr()+"/q/x", tok)
		return code == http.StatusForbidden
	})
}

// TestMinNodesDividesLimitsDuringAnOutage: a node started while Redis is
// down has seen no other node; with cluster.min_nodes 3 it counts a
// quota of 5 as its share of three nodes (2), not the whole.
func TestMinNodesDividesLimitsDuringAnOutage(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		extra string
		want  int
	}{
		{"", 5},
		{"cluster: min_nodes: 3\n", 2},
	} {
		e := newClusterEnv(t, tt.extra)
		e.redis.Kill()
		n := e.start(t, filepath.Join(t.TempDir(), "state.json"), "")
		tok := e.token(t, "someone")
		passed := 0
		for range 10 {
			if code, _ := testutil.Get(t, "http://"+n.GatewayAddr()+"/q/x", tok); code == http.StatusOK {
				passed++
			}
		}
		if passed != tt.want {
			t.Errorf("%q: a quota of 5 on a node started with Redis down passed %d of 10, want %d", tt.extra, passed, tt.want)
		}
	}
}

// TestMaxBindingsAgeTakesACutOffFollowerOutOfService: with
// cluster.max_bindings_age a follower that cannot read Redis for longer
// is not ready (/readyz 503) and answers JWT requests 503, bound client
// or not, until Redis answers again.
func TestMaxBindingsAgeTakesACutOffFollowerOutOfService(t *testing.T) {
	t.Parallel()
	e := startClusterEnv(t, `cluster: max_bindings_age: "3s"`+"\n")
	e.bindDevClient(t)
	bound, stranger := e.token(t, "dev-client"), e.token(t, "stranger")
	gw := "http://" + e.follower.GatewayAddr() + "/q/x"
	testutil.Eventually(t, "the binding on the follower", func() bool { return e.followerBinds("dev-client") })
	e.redis.Pause()
	testutil.Eventually(t, "the follower out of service", func() bool {
		code, _ := testutil.Get(t, "http://"+e.follower.AdminAddr()+"/readyz", "")
		return code == http.StatusServiceUnavailable
	})
	for _, tok := range []string{bound, stranger} {
		if code, body := testutil.Get(t, gw, tok); code != http.StatusServiceUnavailable {
			t.Errorf("JWT request on the follower cut off: %d %s, want 503", code, body)
		}
	}
	e.redis.Resume()
	testutil.Eventually(t, "the follower back in service", func() bool {
		code, _ := testutil.Get(t, gw, bound)
		return code == http.StatusOK
	})
}
