package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fasthttp"
)

// The harness re-executes itself for the processes it measures, so that
// every gateway — the baselines and cuegate — is a process of its own whose
// RSS and CPU time /proc reports, and the upstream does not share a Go
// runtime with the load generator (as nginx would not).

// bigBody is what the upstream returns for a path ending in /big.
const bigSize = 1 << 20

// smallBody is the fixed small response: 2 bytes, like the reference
// nginx upstream.
var smallBody = []byte("ok")

// runRole runs one child process role and never returns unless it fails.
func runRole(role string, args []string) error {
	fs := flag.NewFlagSet(role, flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "listen address")
	upstream := fs.String("upstream", "", "upstream host:port (proxies)")
	jwks := fs.String("jwks", "", "JWKS URL (jwtproxy)")
	issuer := fs.String("issuer", "", "token issuer (jwtproxy)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if addr := os.Getenv(pprofEnv); addr != "" {
		go http.ListenAndServe(addr, nil) // net/http/pprof, as cuegate gets it with -profile
	}
	var h fasthttp.RequestHandler
	switch role {
	case "upstream":
		h = upstreamHandler()
	case "proxy":
		h = proxyHandler(*upstream)
	case "jwtproxy":
		v, err := newJWTVerifier(*jwks, *issuer)
		if err != nil {
			return err
		}
		h = v.wrap(proxyHandler(*upstream))
	default:
		return fmt.Errorf("unknown role %q", role)
	}
	return gatewayServer(h).ListenAndServe(*listen)
}

// gatewayServer is the listener settings of the baselines: cuegate's
// defaults (read/write timeout 30s, idle 90s).
func gatewayServer(h fasthttp.RequestHandler) *fasthttp.Server {
	return &fasthttp.Server{
		Handler:               h,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           90 * time.Second,
		NoDefaultServerHeader: true,
	}
}

func upstreamHandler() fasthttp.RequestHandler {
	big := bytes.Repeat([]byte("0123456789abcdef"), bigSize/16)
	return func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("text/plain")
		if bytes.HasSuffix(ctx.Path(), []byte("/big")) {
			ctx.Response.SetBodyRaw(big)
			return
		}
		ctx.Response.SetBodyRaw(smallBody)
	}
}

// upstreamClient is the upstream pool of the baselines. It copies the
// HostClient settings of cuegate's runtime/proxy (pool size, timeouts,
// streamed response bodies, buffer size, connect timeout, retry rule), so
// that a baseline differs from cuegate only by what cuegate adds.
func upstreamClient(addr string) *fasthttp.HostClient {
	dialer := &net.Dialer{KeepAlive: 30 * time.Second, Timeout: 5 * time.Second}
	return &fasthttp.HostClient{
		Addr:                     addr,
		Dial:                     func(a string) (net.Conn, error) { return dialer.Dial("tcp", a) },
		MaxConns:                 1024,
		MaxConnWaitTimeout:       30 * time.Second,
		MaxIdleConnDuration:      90 * time.Second,
		DisablePathNormalizing:   true,
		NoDefaultUserAgentHeader: true,
		StreamResponseBody:       true,
		ReadBufferSize:           16 << 10,
		RetryIfErr: func(req *fasthttp.Request, _ int, _ error) (bool, bool) {
			return false, req.Header.IsGet() || req.Header.IsHead()
		},
	}
}

var hopByHop = []string{"Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// proxyHandler is the bare fasthttp reverse proxy: no routing, no auth.
func proxyHandler(upstream string) fasthttp.RequestHandler {
	client := upstreamClient(upstream)
	return func(ctx *fasthttp.RequestCtx) {
		req := &ctx.Request
		for _, h := range hopByHop {
			req.Header.Del(h)
		}
		var buf [64]byte
		ip, _ := ctx.RemoteIP().AppendText(buf[:0])
		req.Header.SetBytesV("X-Forwarded-For", ip)
		req.Header.Set("X-Forwarded-Proto", "http")
		if err := client.DoTimeout(req, &ctx.Response, 30*time.Second); err != nil {
			ctx.Error(`{"error":"bad gateway","code":502}`, fasthttp.StatusBadGateway)
			return
		}
		for _, h := range hopByHop {
			ctx.Response.Header.Del(h)
		}
	}
}

// jwtVerifier is the (b) baseline: every token is verified with golang-jwt,
// no cache, so a signature check on every request is its floor.
type jwtVerifier struct {
	keys   map[string]any
	parser *jwt.Parser
}

func newJWTVerifier(jwksURL, issuer string) (*jwtVerifier, error) {
	keys, err := fetchJWKS(jwksURL)
	if err != nil {
		return nil, err
	}
	return &jwtVerifier{keys: keys, parser: jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256", "ES256"}),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(30*time.Second),
	)}, nil
}

func (v *jwtVerifier) keyfunc(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	if k, ok := v.keys[kid]; ok {
		return k, nil
	}
	return nil, errors.New("unknown kid")
}

func (v *jwtVerifier) wrap(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		h := ctx.Request.Header.Peek("Authorization")
		raw, ok := bytes.CutPrefix(h, []byte("Bearer "))
		var claims jwt.MapClaims
		if ok {
			_, err := v.parser.ParseWithClaims(string(raw), &claims, v.keyfunc)
			ok = err == nil
		}
		if id, _ := claims[identityClaim].(string); !ok || id == "" {
			ctx.Response.Header.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			ctx.Error(`{"error":"invalid token","code":401}`, fasthttp.StatusUnauthorized)
			return
		}
		next(ctx)
	}
}

// fetchJWKS reads the RSA and EC P-256 keys of a JWKS, by kid.
func fetchJWKS(url string) (map[string]any, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct{ Kty, Kid, Crv, N, E, X, Y string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	num := func(s string) *big.Int {
		b, _ := base64.RawURLEncoding.DecodeString(s)
		return new(big.Int).SetBytes(b)
	}
	keys := map[string]any{}
	for _, k := range set.Keys {
		switch {
		case k.Kty == "RSA":
			keys[k.Kid] = &rsa.PublicKey{N: num(k.N), E: int(num(k.E).Int64())}
		case k.Kty == "EC" && k.Crv == "P-256":
			x, errX := base64.RawURLEncoding.DecodeString(k.X)
			y, errY := base64.RawURLEncoding.DecodeString(k.Y)
			if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
				return nil, fmt.Errorf("jwks: key %q: x and y must be 32 bytes of base64url each", k.Kid)
			}
			pk, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), slices.Concat([]byte{4}, x, y))
			if err != nil {
				return nil, fmt.Errorf("jwks: key %q: %w", k.Kid, err)
			}
			keys[k.Kid] = pk
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("jwks: no usable keys")
	}
	return keys, nil
}
