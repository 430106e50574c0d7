package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cuegate/cuegate/e2e/hydra"
)

// clusterConfig is one configuration for several nodes: JWT APIs against
// Hydra whose default policies carry a quota (/quota/), a rate limit
// (/rate/) or a limit high enough never to refuse (/bulk/), and a portal
// catalogue entry whose registered clients get the "basic" policy on
// /echo/, with a quota that never refuses but counts. The cluster block
// is appended when the nodes share Redis.
const clusterConfig = `package cluster

idps: hydra: {
	issuer:    "%[1]s/"
	discovery: "%[1]s/.well-known/openid-configuration"
	leeway:    "5s"
}

_jwt: {idp: "hydra", identity_claim: "client_id"}

apis: quota: {
	name:        "Quota API"
	listen_path: "/quota/"
	upstream: targets: ["%[2]s"]
	auth: jwt: _jwt & {default_policies: ["quota"]}
}
apis: rate: {
	name:        "Rate API"
	listen_path: "/rate/"
	upstream: targets: ["%[2]s"]
	auth: jwt: _jwt & {default_policies: ["rate"]}
}
apis: bulk: {
	name:        "Bulk API"
	listen_path: "/bulk/"
	upstream: targets: ["%[2]s"]
	auth: jwt: _jwt & {default_policies: ["bulk"]}
}
apis: echo: {
	name:        "Echo API"
	listen_path: "/echo/"
	upstream: targets: ["%[2]s"]
	auth: jwt: _jwt & {default_policies: []}
}

policies: quota: {name: "Quota", access: quota: {}, quota: {max: 300, period: "1h"}}
policies: rate: {name: "Rate", access: rate: {}, rate: {requests: 50, per: "1s"}}
policies: bulk: {name: "Bulk", access: bulk: {}, rate: {requests: 1000000, per: "1s"}, quota: {max: 100000000, period: "1h"}}
policies: basic: {name: "Basic", access: echo: {}, rate: {requests: 1000, per: "1s"}, quota: {max: 10000000, period: "1h"}}

portal: {
	signup: "open"
	catalogue: echo: {
		name:   "Echo API"
		api:    "echo"
		policy: "basic"
		dcr: {
			provider: "hydra"
			grant_types: ["client_credentials"]
			token_endpoint_auth_method: "client_secret_post"
			response_types: ["token"]
			idp_host:              "%[1]s/"
			registration_endpoint: "%[1]s/oauth2/register"
			token_endpoint:        "%[1]s/oauth2/token"
		}
	}
}
`

// clusterBlock shares limits, bindings and sessions through Redis.
const clusterBlock = `
cluster: redis: address: "%s"
`

// cluster is three `cuegate serve` nodes on one configuration behind
// nginx: node 0 runs the portal (it has the state file), the others follow.
type cluster struct {
	nodes []*gateway
	lb    *nginxBalancer
}

// startCluster writes the configuration (with the cluster block when
// redisAddr is not "") and starts three nodes and nginx in front of them.
func startCluster(t *testing.T, h *hydra.Server, upstream, redisAddr string) *cluster {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(clusterConfig, h.PublicURL, upstream)
	if redisAddr != "" {
		cfg += fmt.Sprintf(clusterBlock, redisAddr)
	}
	if err := os.WriteFile(filepath.Join(dir, "cluster.cue"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := execOutput(cuegateBinary(t), "compile", "--check", dir); err != nil {
		t.Fatalf("cuegate compile --check: %v\n%s", err, out)
	}
	c := &cluster{}
	for i := range 3 {
		state := ""
		if i == 0 {
			state = filepath.Join(t.TempDir(), "state.json")
		}
		c.nodes = append(c.nodes, startNode(t, dir, state, "--bindings-file", filepath.Join(t.TempDir(), "bindings.json")))
	}
	var addrs []string
	for _, n := range c.nodes {
		addrs = append(addrs, n.URL[len("http://"):])
	}
	c.lb = startNginx(t, addrs)
	return c
}

// hydraToken registers a client at Hydra (not through the portal, so the
// API's default policy applies) and returns an access token for it.
func hydraToken(t *testing.T, h *hydra.Server, name string) string {
	t.Helper()
	reg := hydraRegister(t, h.PublicURL+"/oauth2/register", name)
	return clientCredentials(t, h.PublicURL+"/oauth2/token", reg["client_id"].(string), reg["client_secret"].(string))
}

// loadResult is what a load run saw.
type loadResult struct {
	status    map[int]int
	errors    int
	latencies []time.Duration
}

func (r *loadResult) p99() time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	s := slices.Clone(r.latencies)
	slices.Sort(s)
	return s[len(s)*99/100]
}

// load sends GET url with token from workers goroutines until n requests
// were sent (n > 0) or ctx is done.
func load(ctx context.Context, url, token string, workers, n int) *loadResult {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	defer client.CloseIdleConnections()
	res := &loadResult{status: map[int]int{}}
	var mu sync.Mutex
	var sent int
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				mu.Lock()
				if n > 0 && sent >= n {
					mu.Unlock()
					return
				}
				sent++
				mu.Unlock()
				req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
				req.Header.Set("Authorization", "Bearer "+token)
				start := time.Now()
				resp, err := client.Do(req)
				took := time.Since(start)
				mu.Lock()
				switch {
				case err != nil && ctx.Err() != nil:
				case err != nil:
					res.errors++
				default:
					res.status[resp.StatusCode]++
					res.latencies = append(res.latencies, took)
				}
				mu.Unlock()
				if err == nil {
					resp.Body.Close()
				}
			}
		})
	}
	wg.Wait()
	return res
}

// clusterStatus is the part of a node's /status this test reads.
type clusterStatus struct {
	Cluster struct {
		Limiter  string `json:"limiter"`
		Nodes    int    `json:"nodes"`
		Bindings struct {
			Ready bool `json:"ready"`
		} `json:"bindings"`
	} `json:"cluster"`
}

func (g *gateway) clusterStatus(t *testing.T) clusterStatus {
	t.Helper()
	var s clusterStatus
	res, err := http.Get(g.AdminURL + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestClusterLimits runs three nodes on one configuration and a real
// redis-server behind nginx: a quota passes exactly its maximum across the
// nodes, a rate limit passes what one node alone passes, and the same
// nodes without Redis pass about three times as much (the negative
// control).
func TestClusterLimits(t *testing.T) {
	h, _ := startHydra(t)
	echo := startEcho(t)
	redis := startRedis(t)
	shared := startCluster(t, h, echo.URL, redis.Addr)
	alone := startCluster(t, h, echo.URL, "")

	t.Run("quota is exact across nodes", func(t *testing.T) {
		got := load(t.Context(), shared.lb.URL+"/quota/x", hydraToken(t, h, "quota"), 8, 400)
		if got.status[200] != 300 || got.status[403] != 100 || got.errors != 0 {
			t.Errorf("400 requests against a quota of 300 through three nodes: %v, %d errors; want exactly 300×200 and 100×403", got.status, got.errors)
		}
		control := load(t.Context(), alone.lb.URL+"/quota/x", hydraToken(t, h, "quota-alone"), 8, 1000)
		if control.status[200] < 800 {
			t.Errorf("negative control: three nodes without Redis passed %d of 1000 against a quota of 300 each; want about 900", control.status[200])
		}
	})

	t.Run("portal usage counts every node", func(t *testing.T) {
		p := newPortalClient(t, shared.nodes[0].PortalURL)
		p.signUp(t, "usage@example.com", "correct horse battery")
		c := p.createClient(t, "echo", "usage")
		tok := clientCredentials(t, c.TokenEndpoint, c.ClientID, c.ClientSecret)
		// Calls through nginx reach all three nodes; a follower refuses
		// (uncounted) until the registration reaches it.
		passed := 0
		eventually(t, "30 calls pass through the balancer", func() string {
			for passed < 30 {
				if r := call(t, "GET", shared.lb.URL+"/echo/usage", tok); r.Status != 200 {
					return fmt.Sprintf("%d passed, then %d %s", passed, r.Status, r.Body)
				}
				passed++
			}
			return ""
		})
		var v struct {
			Usage struct {
				Quota struct{ Used, Max int64 } `json:"quota"`
			} `json:"usage"`
		}
		p.do(t, "GET", "/clients/"+c.ClientID, nil, &v)
		// Redis counts the units each node leased with its first call
		// (at most 63 more a node, the quota being far off) as used.
		if q := v.Usage.Quota; q.Used < int64(passed) || q.Used > int64(passed)+3*63 || q.Max != 10000000 {
			t.Errorf("the portal shows quota %+v after %d calls through three nodes; want %d to %d used", q, passed, passed, passed+3*63)
		}
	})

	t.Run("rate across nodes is one node's", func(t *testing.T) {
		run := func(url, name string) int {
			ctx, cancel := context.WithTimeout(t.Context(), 4*time.Second)
			defer cancel()
			return load(ctx, url, hydraToken(t, h, name), 8, 0).status[200]
		}
		one := run(shared.nodes[1].URL+"/rate/x", "rate-one")
		three := run(shared.lb.URL+"/rate/x", "rate-three")
		control := run(alone.lb.URL+"/rate/x", "rate-alone")
		t.Logf("a rate of 50/s for 4 s: one node %d, three nodes on Redis %d, three nodes without Redis %d", one, three, control)
		if d := float64(three-one) / float64(one); d > 0.05 || d < -0.05 {
			t.Errorf("three nodes on Redis passed %d, one node alone %d: more than 5%% apart", three, one)
		}
		if control < 2*one {
			t.Errorf("negative control: three nodes without Redis passed %d, one node %d; want about 3×", control, one)
		}
	})
}

// TestClusterFaults: a client deleted in the portal on one node is
// refused on another within a second; Redis frozen under load costs no
// 5xx and no connection error; Redis restarted is picked up again without
// a node restart; a node killed under load is routed around by nginx and
// leaves the others' counters alone (but for the units of its lease).
func TestClusterFaults(t *testing.T) {
	h, _ := startHydra(t)
	echo := startEcho(t)
	redis := startRedis(t)
	c := startCluster(t, h, echo.URL, redis.Addr)

	t.Run("deleted client refused on another node", func(t *testing.T) {
		p := newPortalClient(t, c.nodes[0].PortalURL)
		p.signUp(t, "dev@example.com", "correct horse battery")
		created := p.createClient(t, "echo", "cluster")
		tok := clientCredentials(t, created.TokenEndpoint, created.ClientID, created.ClientSecret)
		eventually(t, "the registration reaches node 2", func() string {
			if r := call(t, "GET", c.nodes[2].URL+"/echo/x", tok); r.Status != 200 {
				return fmt.Sprintf("node 2 answers %d %s", r.Status, r.Body)
			}
			return ""
		})
		if st, b := p.do(t, "DELETE", "/clients/"+created.ClientID, nil, nil); st/100 != 2 {
			t.Fatalf("delete client: %d %s", st, b)
		}
		deleted := time.Now()
		for {
			r := call(t, "GET", c.nodes[2].URL+"/echo/x", tok)
			if r.Status == 403 {
				t.Logf("refused on node 2 %s after the deletion on node 0", time.Since(deleted).Round(time.Millisecond))
				break
			}
			if time.Since(deleted) > time.Second {
				t.Fatalf("node 2 still answers %d a second after the deletion on node 0", r.Status)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	bulk := hydraToken(t, h, "bulk")

	t.Run("redis frozen under load", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 6*time.Second)
		defer cancel()
		go func() {
			time.Sleep(1500 * time.Millisecond)
			redis.signal(t, syscall.SIGSTOP)
			time.Sleep(3 * time.Second)
			redis.signal(t, syscall.SIGCONT)
		}()
		got := load(ctx, c.lb.URL+"/bulk/x", bulk, 8, 0)
		t.Logf("6 s of load with Redis frozen for 3 s: %v, %d errors, p99 %s", got.status, got.errors, got.p99())
		if got.errors != 0 || len(got.status) != 1 || got.status[200] == 0 {
			t.Errorf("with Redis frozen: %v and %d connection errors; want only 200", got.status, got.errors)
		}
		if p99 := got.p99(); p99 > 500*time.Millisecond {
			t.Errorf("p99 %s with Redis frozen; want it bounded by the call timeout", p99)
		}
	})

	t.Run("redis restarted", func(t *testing.T) {
		redis.restart(t)
		restarted := time.Now()
		for i, n := range c.nodes {
			eventually(t, fmt.Sprintf("node %d counts in Redis again", i), func() string {
				call(t, "GET", n.URL+"/bulk/x", bulk) // a request lets the breaker probe
				if s := n.clusterStatus(t); s.Cluster.Limiter != "redis" {
					return "limiter " + s.Cluster.Limiter
				}
				return ""
			})
		}
		if took := time.Since(restarted); took > 2*time.Second {
			t.Errorf("nodes counted in Redis again %s after its restart; want within 2s", took)
		}
	})

	t.Run("node killed under load", func(t *testing.T) {
		quota := hydraToken(t, h, "quota-kill")
		first := load(t.Context(), c.lb.URL+"/quota/x", quota, 4, 100)
		c.nodes[2].kill()
		rest := load(t.Context(), c.lb.URL+"/quota/x", quota, 4, 300)
		// The units left of the killed node's lease die with it: a lease
		// holds at most a sixty-fourth of the quota, 4 units, one of them
		// used by the request that made it.
		if first.status[200] != 100 || rest.status[200] < 200-3 || rest.status[200] > 200 || rest.status[200]+rest.status[403] != 300 || first.errors+rest.errors != 0 {
			t.Errorf("quota of 300, 100 requests, a node killed, 300 more: %v then %v (%d errors); want 100, then 197 to 200 ×200 and the rest ×403",
				first.status, rest.status, first.errors+rest.errors)
		}
	})
}
