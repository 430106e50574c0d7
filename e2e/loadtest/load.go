package main

import (
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Target is one thing under load in a scenario: a gateway (or the
// upstream) at Addr, driven with GETs of Path.
type Target struct {
	Name string
	Addr string
	Path string
	// Tokens, when set, are "Bearer …" header values sent in turn: every
	// request takes the next one from a cursor shared by the connections
	// and kept across rounds, so a pool larger than any cache is walked
	// through rather than replayed.
	Tokens [][]byte
	cursor atomic.Uint64
	// BodySize is the expected response body length.
	BodySize int
	// PID is the process whose RSS and CPU time are measured; 0 for none.
	PID int
	// Admin is cuegate's admin address, for /metrics deltas; "" for none.
	Admin string
	// During, when set, runs beside the load (warm-up included) until stop
	// is closed: the hot-swap scenario rewrites the config there.
	During func(stop <-chan struct{})
	// Redis, when set, is the redis-server the target uses: what it did in
	// each window is reported.
	Redis *redisServer
	// pprof is where the process serves net/http/pprof when profiling.
	pprof string
}

// Window is one measured run of a target.
type Window struct {
	Round    int
	Requests uint64
	Errors   uint64
	Elapsed  time.Duration
	Hist     Hist
	CPU      time.Duration // the gateway's CPU time in the window
	SysCPU   time.Duration // the part of CPU in the kernel
	SelfCPU  time.Duration // the load generator's
	PeakRSS  int64         // the gateway's peak RSS in the window
	ErrKinds map[string]uint64
	Metrics  map[string]float64 // admin /metrics deltas
	Redis    *RedisUse          // with Target.Redis
}

// RPS returns requests per second.
func (w *Window) RPS() float64 { return float64(w.Requests) / w.Elapsed.Seconds() }

// LoadOptions drive one window.
type LoadOptions struct {
	Conns    int
	Warmup   time.Duration
	Duration time.Duration
	// Stream reads response bodies as streams into a counter instead of
	// buffering them (the 1 MB scenario).
	Stream bool
	// MetricsRe selects the admin metrics whose deltas are kept.
	MetricsRe string
	// Generator is genGo or genWrk.
	Generator string
	// Dir is where wrk's scripts and token files are written.
	Dir string
}

type worker struct {
	hist  Hist
	reqs  uint64
	errs  uint64
	kinds map[string]uint64
}

type countWriter struct{ n int }

func (c *countWriter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }

// Run drives t with a closed loop of o.Conns connections, each sending its
// next request as soon as the previous response is read, from the
// generator o.Generator names. Warm-up requests are not recorded; only
// requests completing inside the window are.
func Run(t *Target, round int, o LoadOptions) (*Window, error) {
	var gen loadGen
	if o.Generator == genWrk {
		gen = &wrkGen{t: t, o: o}
	} else {
		gen = newGoGen(t, o)
	}
	var during, duringDone chan struct{}
	if t.During != nil {
		during, duringDone = make(chan struct{}), make(chan struct{})
		go func() { t.During(during); close(duringDone) }()
	}
	if err := gen.warmUp(); err != nil {
		gen.abort()
		return nil, err
	}

	win := &Window{Round: round, ErrKinds: map[string]uint64{}}
	var user0, sys0 time.Duration
	var m0 map[string]float64
	peakReset := false
	if t.PID != 0 {
		user0, sys0, _ = cpuTimes(t.PID)
		peakReset = resetPeak(t.PID) == nil
	}
	if t.Admin != "" {
		m0 = scrapeMetrics(t.Admin, o.MetricsRe)
	}
	var r0 redisSnapshot
	if t.Redis != nil {
		var err error
		if r0, err = t.Redis.snapshot(); err != nil {
			gen.abort()
			return nil, err
		}
	}
	t0 := time.Now()
	if err := gen.record(); err != nil {
		return nil, err
	}
	sampled := sampleRSS(t.PID, o.Duration)
	win.Elapsed = time.Since(t0)
	if err := gen.finish(win); err != nil {
		return nil, err
	}
	if t.Redis != nil {
		r1, err := t.Redis.snapshot()
		if err != nil {
			return nil, err
		}
		win.Redis = redisUse(r0, r1)
	}
	if during != nil {
		close(during)
		<-duringDone
	}
	if t.PID != 0 {
		user1, sys1, err := cpuTimes(t.PID)
		if err != nil {
			return nil, fmt.Errorf("%s: %w (did it exit?)", t.Name, err)
		}
		win.CPU, win.SysCPU = user1+sys1-user0-sys0, sys1-sys0
		_, hwm, _ := memStatus(t.PID)
		win.PeakRSS = sampled
		if peakReset {
			win.PeakRSS = max(hwm, sampled)
		}
	}
	if t.Admin != "" {
		win.Metrics = deltaMetrics(m0, scrapeMetrics(t.Admin, o.MetricsRe))
	}
	return win, nil
}

// loadGen is a load generator driving one target through one window:
// warmUp, then record, then finish once the window has passed (or abort
// instead when the window cannot be measured).
type loadGen interface {
	// warmUp loads the target for the warm-up, unrecorded, and returns
	// when it has passed.
	warmUp() error
	// record starts the measured load, for the window's duration.
	record() error
	// finish ends the load and adds to w what it recorded: requests,
	// errors, latencies and its own CPU time; it may correct w.Elapsed to
	// the generator's own measure of the window.
	finish(w *Window) error
	// abort ends the load without recording.
	abort()
}

var (
	_ loadGen = (*goGen)(nil)
	_ loadGen = (*wrkGen)(nil)
)

// goGen is the Go generator: o.Conns fasthttp clients in this process.
type goGen struct {
	t               *Target
	o               LoadOptions
	workers         []*worker
	wg              sync.WaitGroup
	recording, stop atomic.Bool
	self0           time.Duration
}

// newGoGen starts the workers of a goGen: they send requests at once,
// unrecorded until record.
func newGoGen(t *Target, o LoadOptions) *goGen {
	g := &goGen{t: t, o: o, workers: make([]*worker, o.Conns)}
	url := "http://" + t.Addr + t.Path
	for i := range g.workers {
		w := &worker{kinds: map[string]uint64{}}
		g.workers[i] = w
		g.wg.Go(func() { w.loop(t, url, o.Stream, &g.recording, &g.stop) })
	}
	return g
}

func (g *goGen) warmUp() error {
	time.Sleep(g.o.Warmup)
	return nil
}

func (g *goGen) record() error {
	g.self0, _ = cpuTime(selfPID)
	g.recording.Store(true)
	return nil
}

func (g *goGen) finish(win *Window) error {
	g.stop.Store(true)
	self1, _ := cpuTime(selfPID)
	win.SelfCPU = self1 - g.self0
	g.wg.Wait()
	for _, w := range g.workers {
		win.Hist.Merge(&w.hist)
		win.Requests += w.reqs
		win.Errors += w.errs
		for k, n := range w.kinds {
			win.ErrKinds[k] += n
		}
	}
	return nil
}

func (g *goGen) abort() { g.stop.Store(true) }

// wrkGen runs wrk: one run for the warm-up, one for the window. Its
// requests are checked for their status only (wrk does not read bodies
// into the script).
type wrkGen struct {
	t    *Target
	o    LoadOptions
	wait func() (*wrkRun, error)
}

// run starts wrk on g's target for d, from the target's token cursor.
func (g *wrkGen) run(d time.Duration) (func() (*wrkRun, error), error) {
	script, err := wrkScript(g.o.Dir, g.t.Tokens != nil)
	if err != nil {
		return nil, err
	}
	tokens := ""
	if g.t.Tokens != nil {
		if tokens, err = writeTokenFile(g.o.Dir, g.t.Tokens); err != nil {
			return nil, err
		}
	}
	wait, err := startWrk(wrkArgs(g.t, g.o.Conns, d, script, tokens, g.t.cursor.Load()))
	if err != nil {
		return nil, err
	}
	return func() (*wrkRun, error) {
		r, err := wait()
		if err == nil {
			g.t.cursor.Add(r.Requests)
		}
		return r, err
	}, nil
}

func (g *wrkGen) warmUp() error {
	if g.o.Warmup <= 0 {
		return nil
	}
	wait, err := g.run(g.o.Warmup)
	if err != nil {
		return err
	}
	_, err = wait()
	return err
}

func (g *wrkGen) record() (err error) {
	g.wait, err = g.run(g.o.Duration)
	return err
}

func (g *wrkGen) finish(win *Window) error {
	r, err := g.wait()
	if err != nil {
		return err
	}
	win.Requests, win.Elapsed, win.SelfCPU = r.Requests, r.Elapsed, r.CPU
	win.Hist = r.hist()
	win.Errors = r.errors()
	maps.Copy(win.ErrKinds, r.Errors)
	return nil
}

func (g *wrkGen) abort() {
	if g.wait != nil {
		g.wait()
	}
}

// sampleRSS sleeps d while polling the process's RSS every 50ms and
// returns the largest value seen (a fallback when VmHWM cannot be reset).
func sampleRSS(pid int, d time.Duration) int64 {
	end := time.Now().Add(d)
	var peak int64
	for {
		if pid != 0 {
			if rss, _, err := memStatus(pid); err == nil {
				peak = max(peak, rss)
			}
		}
		left := time.Until(end)
		if left <= 0 {
			return peak
		}
		time.Sleep(min(left, 50*time.Millisecond))
	}
}

func (w *worker) loop(t *Target, url string, stream bool, recording, stop *atomic.Bool) {
	hc := &fasthttp.HostClient{
		Addr:                     t.Addr,
		MaxConns:                 1,
		ReadTimeout:              30 * time.Second,
		WriteTimeout:             30 * time.Second,
		MaxIdleConnDuration:      time.Minute,
		StreamResponseBody:       stream,
		NoDefaultUserAgentHeader: true,
	}
	defer hc.CloseIdleConnections()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	var cw countWriter
	for !stop.Load() {
		if t.Tokens != nil {
			req.Header.SetBytesV("Authorization", t.Tokens[t.cursor.Add(1)%uint64(len(t.Tokens))])
		}
		start := time.Now()
		err := hc.Do(req, resp)
		n := 0
		if err == nil {
			cw.n = 0
			err = resp.BodyWriteTo(&cw)
			n = cw.n
		}
		lat := time.Since(start)
		if !recording.Load() || stop.Load() {
			continue
		}
		w.reqs++
		w.hist.Record(lat)
		switch {
		case err != nil:
			w.fail(err.Error())
		case resp.StatusCode() != fasthttp.StatusOK:
			w.fail(fmt.Sprintf("status %d: %.80s", resp.StatusCode(), resp.Body()))
		case n != t.BodySize:
			w.fail(fmt.Sprintf("body of %d bytes, want %d", n, t.BodySize))
		}
	}
}

func (w *worker) fail(kind string) {
	w.errs++
	w.kinds[kind]++
}
