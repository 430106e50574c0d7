package main

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseRivals(t *testing.T) {
	for _, tc := range []struct {
		list, scenarios string
		want            []string
		wantErr         string
	}{
		{list: "", scenarios: "c", want: nil},
		{list: "krakend", scenarios: "a", want: []string{"krakend"}},
		{list: " krakend , krakend,", scenarios: "c, a", want: []string{"krakend"}},
		{list: "krakend", scenarios: "b-rs256,c", wantErr: `join scenario (a) only, and -scenarios "b-rs256,c" has no a`},
		{list: "tyk", scenarios: "a", wantErr: "tyk is not supported yet"},
		{list: "krakend,kong", scenarios: "a", wantErr: `unknown gateway "kong" (have: krakend)`},
	} {
		got, err := parseRivals(tc.list, tc.scenarios)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parseRivals(%q, %q): error %v, want one containing %q", tc.list, tc.scenarios, err, tc.wantErr)
			}
		case err != nil || !reflect.DeepEqual(got, tc.want):
			t.Errorf("parseRivals(%q, %q) = %q, %v; want %q", tc.list, tc.scenarios, got, err, tc.want)
		}
	}
}

// TestKrakenDConfig checks the generated krakend.json field by field
// against what scenario (a) needs: the listener, the validator's JWKS,
// issuer, audience and key cache, the per-client limit, and a no-op proxy
// to the upstream on the same path.
func TestKrakenDConfig(t *testing.T) {
	raw, err := krakendConfig("127.0.0.1:18082", "127.0.0.1:17000", "/api/hello",
		"http://127.0.0.1:17001/jwks.json", issuer, audience, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Version   int                       `json:"version"`
		ListenIP  string                    `json:"listen_ip"`
		Port      int                       `json:"port"`
		Extra     map[string]map[string]any `json:"extra_config"`
		Endpoints []struct {
			Endpoint, Method string
			OutputEncoding   string                    `json:"output_encoding"`
			Extra            map[string]map[string]any `json:"extra_config"`
			Backend          []struct {
				Host       []string
				URLPattern string `json:"url_pattern"`
				Encoding   string
			}
		}
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf("%v:\n%s", err, raw)
	}
	if cfg.Version != 3 || cfg.ListenIP != "127.0.0.1" || cfg.Port != 18082 || len(cfg.Endpoints) != 1 {
		t.Fatalf("version %d, listen %s:%d, %d endpoints:\n%s", cfg.Version, cfg.ListenIP, cfg.Port, len(cfg.Endpoints), raw)
	}
	e := cfg.Endpoints[0]
	if e.Endpoint != "/api/hello" || e.Method != "GET" || e.OutputEncoding != "no-op" {
		t.Errorf("endpoint %s %s, output %s", e.Method, e.Endpoint, e.OutputEncoding)
	}
	if len(e.Backend) != 1 || !reflect.DeepEqual(e.Backend[0].Host, []string{"http://127.0.0.1:17000"}) ||
		e.Backend[0].URLPattern != "/api/hello" || e.Backend[0].Encoding != "no-op" {
		t.Errorf("backend %+v", e.Backend)
	}
	for _, tc := range []struct {
		ns, key string
		want    any
	}{
		{"auth/validator", "alg", "RS256"},
		{"auth/validator", "jwk_url", "http://127.0.0.1:17001/jwks.json"},
		{"auth/validator", "cache", true},
		{"auth/validator", "disable_jwk_security", true},
		{"auth/validator", "issuer", issuer},
		{"auth/validator", "audience", []any{audience}},
		{"qos/ratelimit/router", "client_max_rate", 1000.0},
		{"qos/ratelimit/router", "strategy", "header"},
		{"qos/ratelimit/router", "key", "Authorization"},
	} {
		if got := e.Extra[tc.ns][tc.key]; !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s %s = %#v, want %#v", tc.ns, tc.key, got, tc.want)
		}
	}
	if cfg.Extra["router"]["disable_access_log"] != false {
		t.Errorf("access log disabled: %v (cuegate writes one line per request too)", cfg.Extra["router"])
	}
}

func TestKrakenDConfigBadListen(t *testing.T) {
	for _, listen := range []string{"127.0.0.1", "127.0.0.1:http"} {
		if _, err := krakendConfig(listen, "127.0.0.1:1", "/", "http://x/", issuer, audience, 1); err == nil || !strings.Contains(err.Error(), listen) {
			t.Errorf("krakendConfig(listen %q): error %v, want one naming the address", listen, err)
		}
	}
}

// TestRivalBinary checks where the binary comes from: the flag, then the
// cache, without building.
func TestRivalBinary(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	cached, err := rivalCachePath(tKrakenD)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(cached), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cached, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := rivalBinary(tKrakenD, "", io.Discard); err != nil || got != cached {
		t.Errorf("cached: %q, %v; want %q", got, err, cached)
	}
	if got, err := rivalBinary(tKrakenD, cached, io.Discard); err != nil || got != cached {
		t.Errorf("-krakend %s: %q, %v", cached, got, err)
	}
	if _, err := rivalBinary(tKrakenD, filepath.Dir(cached), io.Discard); err == nil || !strings.Contains(err.Error(), "not a file") {
		t.Errorf("-krakend DIR: %v, want not a file", err)
	}
}

// TestBuildModule builds a small module's command the way a rival is
// built: golang-jwt's cmd/jwt, already in the module cache as a
// dependency of this module, so nothing is downloaded.
func TestBuildModule(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go build")
	}
	out := filepath.Join(t.TempDir(), "bin", "jwt")
	var log strings.Builder
	if err := buildModule("github.com/golang-jwt/jwt/v5", "v5.3.1", "./cmd/jwt", out, &log); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if b, err := exec.Command(out, "-help").CombinedOutput(); !strings.Contains(string(b), "-verify") {
		t.Errorf("built binary -help: %v\n%s", err, b)
	}
	t.Setenv("GOPROXY", "off")
	err := buildModule("example.com/not/cached", "v1.0.0", ".", out+"2", io.Discard)
	if err == nil || !strings.Contains(err.Error(), "example.com/not/cached@v1.0.0") {
		t.Errorf("uncached module with GOPROXY=off: %v, want an error naming it", err)
	}
	if _, err := os.Stat(out + "2"); !os.IsNotExist(err) {
		t.Errorf("failed build left %s: %v", out+"2", err)
	}
}
