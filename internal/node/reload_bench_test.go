package node

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"
)

// benchFiles is a configuration of apis keyless APIs on /api<i> and a
// /probe API proxied to probe; bump changes the table without touching the
// routes the load uses.
func benchFiles(apis int, upstream, probe string, bump int) map[string]string {
	var b strings.Builder
	fmt.Fprintf(&b, "package bench\n\ngateway: {}\nidps: {}\npolicies: {}\nportal: {}\napis: {\n")
	for i := range apis {
		fmt.Fprintf(&b, "\tapi%d: {name: \"API %d\", listen_path: \"/api%d\", upstream: targets: [%q], auth: keyless: true}\n", i, i, i, upstream)
	}
	b.WriteString("}\n")
	return map[string]string{
		"apis.cue":  b.String(),
		"probe.cue": fmt.Sprintf("package bench\n\napis: probe: {name: \"Probe %d\", listen_path: \"/probe\", upstream: targets: [%q], auth: keyless: true}\n", bump, probe),
	}
}

// BenchmarkReloadLatency measures the time from a configuration file being
// saved (editor-style rename) to the first request served by the new table,
// for 10 and 1,000 APIs: "watch" goes through the directory watcher (and
// its debounce) as `cuegate serve` does, "reload" calls Node.Reload
// right after the write (compile and swap only). ns/op is that latency.
func BenchmarkReloadLatency(b *testing.B) {
	for _, apis := range []int{10, 1000} {
		for _, viaWatch := range []bool{true, false} {
			mode := map[bool]string{true: "watch", false: "reload"}[viaWatch]
			b.Run(fmt.Sprintf("apis=%d/%s", apis, mode), func(b *testing.B) {
				up := [2]string{echo(b, "A"), echo(b, "B")}
				dir := b.TempDir()
				writeFiles(b, dir, benchFiles(apis, up[0], up[0], 0))
				n := startNode(b, dir, zerolog.Nop(), viaWatch)
				var worst time.Duration
				b.ResetTimer()
				for i := range b.N {
					to := (i + 1) % 2
					start := time.Now()
					hotMust(b, os.WriteFile(filepath.Join(dir, ".probe.tmp"), []byte(benchFiles(0, "", up[to], 0)["probe.cue"]), 0o644))
					hotMust(b, os.Rename(filepath.Join(dir, ".probe.tmp"), filepath.Join(dir, "probe.cue")))
					if !viaWatch {
						hotMust(b, n.Reload())
					}
					d := visible(b, "probe upstream", start, func() (bool, string) {
						r, err := n.get("/probe/", "")
						if err == nil && r.status == 200 && strings.HasPrefix(r.body, "AB"[to:to+1]) {
							return true, ""
						}
						return false, fmt.Sprint(r.status, err)
					})
					worst = max(worst, d)
				}
				b.ReportMetric(float64(worst.Microseconds())/1000, "max-ms")
			})
		}
	}
}

// BenchmarkReloadUnderLoad runs closed-loop load (8 clients over 10 APIs)
// through the gateway in alternating phases: without reloads, and with a
// configuration change and Node.Reload every 100 ms. It reports the
// throughput and p99 latency of each and their ratios (with / without).
// Each run takes about 4×phase; run it with -benchtime=1x.
func BenchmarkReloadUnderLoad(b *testing.B) {
	const (
		clients = 8
		apis    = 10
		phase   = 2 * time.Second
		every   = 100 * time.Millisecond
	)
	upstream := fastEcho(b)
	dir := b.TempDir()
	writeFiles(b, dir, benchFiles(apis, upstream, upstream, 0))
	n := startNode(b, dir, zerolog.Nop(), false)
	hc := &fasthttp.HostClient{Addr: n.GatewayAddr(), MaxConns: 2 * clients}
	b.Cleanup(hc.CloseIdleConnections)

	type stats struct {
		reqs, errs int
		lat        []time.Duration
		took       time.Duration
		reloads    int
	}
	run := func(reload bool) stats {
		var (
			mu   sync.Mutex
			st   stats
			wg   sync.WaitGroup
			stop = make(chan struct{})
		)
		if reload {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tick := time.NewTicker(every)
				defer tick.Stop()
				for bump := 1; ; bump++ {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					writeFiles(b, dir, map[string]string{"probe.cue": benchFiles(0, "", upstream, bump)["probe.cue"]})
					if err := n.Reload(); err != nil {
						b.Error(err)
					}
					mu.Lock()
					st.reloads++
					mu.Unlock()
				}
			}()
		}
		start := time.Now()
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
				defer fasthttp.ReleaseRequest(req)
				defer fasthttp.ReleaseResponse(resp)
				var lat []time.Duration
				errs := 0
				for i := c; ; i++ {
					select {
					case <-stop:
						mu.Lock()
						st.lat = append(st.lat, lat...)
						st.errs += errs
						mu.Unlock()
						return
					default:
					}
					req.SetRequestURI(fmt.Sprintf("http://%s/api%d/x", hc.Addr, i%apis))
					t0 := time.Now()
					err := hc.Do(req, resp)
					lat = append(lat, time.Since(t0))
					if err != nil || resp.StatusCode() != 200 {
						errs++
					}
				}
			}()
		}
		time.Sleep(phase)
		close(stop)
		wg.Wait()
		st.took = time.Since(start)
		st.reqs = len(st.lat)
		slices.Sort(st.lat)
		return st
	}
	p99 := func(s stats) time.Duration { return s.lat[len(s.lat)*99/100] }
	rps := func(s stats) float64 { return float64(s.reqs) / s.took.Seconds() }

	b.ResetTimer()
	var base, with []stats
	for range b.N {
		for range 2 { // interleaved, so drift affects both alike
			base = append(base, run(false))
			with = append(with, run(true))
		}
	}
	b.StopTimer()
	sum := func(ss []stats) (r float64, p time.Duration, errs, reloads int) {
		for _, s := range ss {
			r += rps(s) / float64(len(ss))
			p += p99(s) / time.Duration(len(ss))
			errs += s.errs
			reloads += s.reloads
		}
		return
	}
	br, bp, be, _ := sum(base)
	wr, wp, we, reloads := sum(with)
	if be+we > 0 {
		b.Errorf("%d failed requests without reloads, %d with", be, we)
	}
	b.ReportMetric(br, "rps-base")
	b.ReportMetric(wr, "rps-reload")
	b.ReportMetric(wr/br, "rps-ratio")
	b.ReportMetric(float64(bp.Microseconds())/1000, "p99-ms-base")
	b.ReportMetric(float64(wp.Microseconds())/1000, "p99-ms-reload")
	b.ReportMetric(float64(wp)/float64(bp), "p99-ratio")
	b.ReportMetric(float64(reloads)/(float64(len(with))*phase.Seconds()), "reloads/s")
}

// fastEcho is a fasthttp upstream, cheap enough not to dominate the load.
func fastEcho(b testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	hotMust(b, err)
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.WriteString("ok") }} //nolint:errcheck
	go srv.Serve(ln)                                                                           //nolint:errcheck
	b.Cleanup(func() { srv.Shutdown() })                                                       //nolint:errcheck
	return "http://" + ln.Addr().String()
}
