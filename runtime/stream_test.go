package runtime

import (
	"bytes"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cuegate/cuegate/internal/testutil"
)

const bigBody = 100 << 20 // 100 MiB

type zeros struct{}

var _ io.Reader = zeros{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

// peakSampler records the peak heap in use while a transfer runs.
type peakSampler struct {
	peak atomic.Uint64
	stop chan struct{}
	done chan struct{}
}

func samplePeak() *peakSampler {
	s := &peakSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		var ms goruntime.MemStats
		for {
			goruntime.ReadMemStats(&ms)
			if ms.HeapInuse > s.peak.Load() {
				s.peak.Store(ms.HeapInuse)
			}
			select {
			case <-s.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return s
}

func (s *peakSampler) Stop() uint64 {
	close(s.stop)
	<-s.done
	return s.peak.Load()
}

// vmHWM is the process's peak resident set size in bytes (Linux).
func vmHWM(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// TestStreamingLargeBodies sends 100 MiB up (with a length and chunked)
// and down through the gateway: neither the heap nor the process's peak
// RSS may grow by anything near the body size.
func TestStreamingLargeBodies(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 300 MiB")
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			n, err := io.Copy(io.Discard, r.Body)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			io.WriteString(w, strconv.FormatInt(n, 10)) //nolint:errcheck
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(bigBody))
		io.CopyN(w, zeros{}, bigBody) //nolint:errcheck
	}))
	defer up.Close()
	e := newEnv(t, envOptions{extra: `apis: big: {name: "Big", listen_path: "/big", upstream: targets: ["` + up.URL + `"], auth: keyless: true}` + "\n"})

	goruntime.GC()
	var base goruntime.MemStats
	goruntime.ReadMemStats(&base)
	hwm0 := vmHWM(t)
	s := samplePeak()

	for _, length := range []int64{bigBody, -1} {
		req, _ := http.NewRequest("POST", e.url+"/big/upload", io.LimitReader(zeros{}, bigBody))
		req.ContentLength = length
		resp, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != strconv.Itoa(bigBody) {
			t.Fatalf("upload (length %d): %d %q", length, resp.StatusCode, b)
		}
	}
	resp, err := e.client.Get(e.url + "/big/download")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != bigBody || resp.StatusCode != 200 {
		t.Fatalf("download: %d bytes, %v, status %d", n, err, resp.StatusCode)
	}

	peak := s.Stop()
	hwm := vmHWM(t)
	growth := int64(peak) - int64(base.HeapInuse)
	t.Logf("heap in use: base %d MiB, peak %d MiB (+%d MiB); VmHWM %d -> %d MiB",
		base.HeapInuse>>20, peak>>20, growth>>20, hwm0>>20, hwm>>20)
	if growth > 32<<20 {
		t.Fatalf("heap grew by %d MiB moving 100 MiB bodies: not streamed", growth>>20)
	}
	if hwm0 > 0 && hwm-hwm0 > 48<<20 {
		t.Fatalf("peak RSS grew by %d MiB moving 100 MiB bodies: not streamed", (hwm-hwm0)>>20)
	}
}

func TestTLSListener(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{tls: true})
	r := e.do("GET", "/public/x", "", nil)
	if r.status != 200 || r.body != "ok /x" {
		t.Fatalf("https: %d %q", r.status, r.body)
	}
	if got := e.lastHit().Header.Get("X-Forwarded-Proto"); got != "https" {
		t.Fatalf("X-Forwarded-Proto %q", got)
	}
	// A client that does not trust the certificate is refused.
	plain := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{}}}
	if _, err := plain.Get(e.url + "/public/x"); err == nil {
		t.Fatal("an untrusted certificate was accepted")
	}
}

// httpsUpstream starts an https upstream answering "secure", writes its
// CA certificate to caFile, and returns the configuration of an API "sec"
// at /sec proxying to it.
func httpsUpstream(t *testing.T, caFile string) (api string) {
	t.Helper()
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secure") //nolint:errcheck
	}))
	up.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	up.StartTLS()
	t.Cleanup(up.Close)
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: up.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return `apis: sec: {name: "Sec", listen_path: "/sec", upstream: targets: ["` + up.URL + `"], auth: keyless: true}` + "\n"
}

// TestHTTPSUpstream: https targets are verified against upstream_ca_file
// (and without it against the system roots, which do not know the test CA).
func TestHTTPSUpstream(t *testing.T) {
	t.Parallel()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	api := httpsUpstream(t, ca)

	e := newEnv(t, envOptions{extra: api})
	if r := e.do("GET", "/sec/x", "", nil); r.status != 502 {
		t.Fatalf("unverifiable upstream: %d %s", r.status, r.body)
	}
	e = newEnv(t, envOptions{extra: api + `gateway: upstream_ca_file: "` + ca + `"` + "\n"})
	if r := e.do("GET", "/sec/x", "", nil); r.status != 200 || r.body != "secure" {
		t.Fatalf("upstream verified with the CA file: %d %s", r.status, r.body)
	}
}

// TestFilesRelativeToConfigDir: the TLS files and the upstream CA that a
// configuration names relative to itself are read from the configuration
// directory, whatever the working directory, at start and on reload.
func TestFilesRelativeToConfigDir(t *testing.T) {
	t.Chdir(t.TempDir())
	e := newEnv(t, envOptions{tls: true}) // tls/cert.pem, tls/key.pem
	if r := e.do("GET", "/public/x", "", nil); r.status != 200 {
		t.Fatalf("https with the certificate from the configuration directory: %d %s", r.status, r.body)
	}
	api := httpsUpstream(t, filepath.Join(e.dir, "ca.pem"))
	e.writeConfig(testutil.CertConfig + api + `gateway: upstream_ca_file: "ca.pem"` + "\n")
	if err := reload(e.gw); err != nil {
		t.Fatal(err)
	}
	if r := e.do("GET", "/sec/x", "", nil); r.status != 200 || r.body != "secure" {
		t.Fatalf("upstream verified with the CA file from the configuration directory: %d %s", r.status, r.body)
	}
}

func TestMaxBodyBytes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{extra: "gateway: max_body_bytes: 1048576\n"})
	for _, tt := range []struct {
		size, length int64
		status       int
	}{
		{1 << 20, 1 << 20, 200},
		{1 << 20, -1, 200},
		{1<<20 + 1, 1<<20 + 1, 413},
		{4 << 20, -1, 413},
	} {
		req, _ := http.NewRequest("POST", e.url+"/public/up", io.LimitReader(zeros{}, tt.size))
		req.ContentLength = tt.length
		req.Close = true
		resp, err := e.client.Do(req)
		if err != nil && tt.status == 413 && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
			// Refused: the gateway answered 413 and closed before the
			// client was through writing the body (on the declared
			// length, or on the chunked bytes past the limit).
			continue
		}
		if err != nil {
			t.Fatalf("%d bytes (length %d): %v", tt.size, tt.length, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%d bytes (length %d): %d, want %d: %s", tt.size, tt.length, resp.StatusCode, tt.status, b)
		}
	}
}

// TestTLSCertificateRotation: a reload (here with an unchanged
// configuration) serves a rewritten certificate to new connections.
func TestTLSCertificateRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{tls: true})
	first := e.gw.TLSConfig()
	c1, _ := first.GetCertificate(nil)
	testutil.WriteCert(t, e.dir) // new key pair, same paths
	if err := reload(e.gw); err != nil {
		t.Fatal(err)
	}
	c2, _ := e.gw.TLSConfig().GetCertificate(nil)
	if bytes.Equal(c1.Certificate[0], c2.Certificate[0]) {
		t.Fatal("the certificate was not reread")
	}
	e.client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: testutil.CertPool(t, e.dir)}}
	if r := e.do("GET", "/public/x", "", nil); r.status != 200 {
		t.Fatalf("with the new certificate: %d", r.status)
	}
}

// TestUpstreamCARotated: a reload of an unchanged configuration whose
// upstream_ca_file was rotated in place (the target now shows a
// certificate only the new bundle trusts) verifies with the new bundle;
// the pools that trusted the old one are replaced.
func TestUpstreamCARotated(t *testing.T) {
	t.Parallel()
	certs := make([]tls.Certificate, 2)
	bundles := make([][]byte, 2)
	for i := range certs {
		dir := t.TempDir()
		testutil.WriteCert(t, dir)
		c, err := tls.LoadX509KeyPair(filepath.Join(dir, "tls", "cert.pem"), filepath.Join(dir, "tls", "key.pem"))
		if err != nil {
			t.Fatal(err)
		}
		certs[i] = c
		bundles[i], _ = os.ReadFile(filepath.Join(dir, "tls", "cert.pem"))
	}
	var shown atomic.Int32 // the certificate the target shows
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secure") //nolint:errcheck
	}))
	up.TLS = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		return &tls.Config{Certificates: certs[shown.Load() : shown.Load()+1]}, nil
	}}
	up.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	up.StartTLS()
	t.Cleanup(up.Close)

	e := newEnv(t, envOptions{})
	caFile := filepath.Join(e.dir, "ca.pem")
	testutil.WriteFile(t, caFile, string(bundles[0]), 0o644)
	e.writeConfig(`apis: sec: {name: "Sec", listen_path: "/sec", upstream: targets: ["` + up.URL + `"], auth: keyless: true}` + "\n" +
		`gateway: upstream_ca_file: "ca.pem"` + "\n")
	if err := reload(e.gw); err != nil {
		t.Fatal(err)
	}
	if r := e.do("GET", "/sec/x", "", nil); r.status != 200 || r.body != "secure" {
		t.Fatalf("upstream verified with the first bundle: %d %s", r.status, r.body)
	}
	shown.Store(1)
	up.CloseClientConnections()
	testutil.WriteFile(t, caFile, string(bundles[1]), 0o644)
	if err := reload(e.gw); err != nil {
		t.Fatal(err)
	}
	if r := e.do("GET", "/sec/x", "", nil); r.status != 200 || r.body != "secure" {
		t.Errorf("upstream verified after the bundle was rotated: %d %s", r.status, r.body)
	}
}
