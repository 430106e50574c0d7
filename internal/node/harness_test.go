package node

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/internal/devidp"
	"github.com/cuegate/cuegate/internal/testidp"
	"github.com/cuegate/cuegate/internal/testutil"
	"github.com/cuegate/cuegate/runtime"
)

// hotNode is a running node (Start, watching its configuration directory
// when asked) and a client for it.
type hotNode struct {
	*Node
	url    string // the gateway listener
	admin  string // the admin listener
	client *http.Client
}

func startNode(t testing.TB, dir string, log zerolog.Logger, watch bool) *hotNode {
	t.Helper()
	n, err := Start(context.Background(), Options{
		ConfigDir: dir, Logger: log, Watch: watch,
		Listen: "127.0.0.1:0", AdminListen: "127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown() }) //nolint:errcheck
	h := &hotNode{Node: n, url: "http://" + n.GatewayAddr(), admin: "http://" + n.AdminAddr(),
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	t.Cleanup(h.client.CloseIdleConnections)
	testutil.Eventually(t, "the gateway to be ready (IdP keys fetched)", n.Gateway().Ready)
	return h
}

type hotResponse struct {
	status int
	header http.Header
	body   string
}

func (n *hotNode) get(path, token string) (hotResponse, error) {
	req, err := http.NewRequest("GET", n.url+path, nil)
	if err != nil {
		return hotResponse{}, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return hotResponse{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return hotResponse{}, err
	}
	return hotResponse{resp.StatusCode, resp.Header, string(b)}, nil
}

func (n *hotNode) status(t testing.TB) runtime.Status {
	t.Helper()
	resp, err := n.client.Get(n.admin + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s runtime.Status
	hotMust(t, json.NewDecoder(resp.Body).Decode(&s))
	return s
}

// reloads returns cuegate_reloads_total by result, from /metrics.
func (n *hotNode) reloads(t testing.TB) map[string]float64 {
	t.Helper()
	resp, err := n.client.Get(n.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	hotMust(t, err)
	m := map[string]float64{}
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(line, `cuegate_reloads_total{result="`)
		if !ok {
			continue
		}
		outcome, value, _ := strings.Cut(rest, `"} `)
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		hotMust(t, err)
		m[outcome] = v
	}
	return m
}

// echo answers every request with its marker and the request URI; paths
// ending in /slow take 50 ms, so that requests are in flight across swaps.
func echo(t testing.TB, marker string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/slow") {
			time.Sleep(50 * time.Millisecond)
		}
		io.WriteString(w, marker+" "+r.RequestURI) //nolint:errcheck
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func newIdP(t testing.TB) *devidp.Provider { return testidp.New(t, devidp.Options{}).IdP }

func token(t testing.TB, idp *devidp.Provider, clientID string) string {
	t.Helper()
	now := time.Now()
	tok, err := idp.Sign(map[string]any{
		"iss": idp.Issuer(), "sub": clientID, "client_id": clientID,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// visible polls until check passes (testutil.EventuallyState) and
// returns how long that took from since.
func visible(t testing.TB, what string, since time.Time, check func() (bool, string)) time.Duration {
	t.Helper()
	testutil.EventuallyState(t, what, check)
	return time.Since(since)
}

func writeFiles(b testing.TB, dir string, files map[string]string) {
	for name, content := range files {
		tmp := filepath.Join(dir, "."+name+".tmp")
		hotMust(b, os.WriteFile(tmp, []byte(content), 0o644))
		hotMust(b, os.Rename(tmp, filepath.Join(dir, name)))
	}
}
