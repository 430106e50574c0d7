package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Load generators (-generator).
const (
	genGo  = "go"
	genWrk = "wrk"
)

// defaultGenerator is wrk when it is installed, else the Go generator.
func defaultGenerator() string {
	if _, err := exec.LookPath("wrk"); err == nil {
		return genWrk
	}
	return genGo
}

// wrkQuantiles is how many evenly spaced quantiles of each wrk run are
// read (every 0.1 %, at the middle of each step): the histogram of a
// window is rebuilt from them, each standing for requests/wrkQuantiles
// requests, so that rounds merge as the Go generator's do.
const wrkQuantiles = 1000

// wrkDone is the part of every wrk script that reports a run: one line of
// counts (wrk's summary, durations in µs) and one of quantiles (µs).
var wrkDone = `
function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("wrk-summary requests=%d duration=%d bytes=%d connect=%d read=%d write=%d status=%d timeout=%d max=%d\n",
		summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout, latency.max))
	io.write("wrk-quantiles")
	for i = 0, ` + strconv.Itoa(wrkQuantiles-1) + ` do
		io.write(" ", latency:percentile((i + 0.5) * 100 / ` + strconv.Itoa(wrkQuantiles) + `))
	end
	io.write("\n")
end
`

// wrkTokens is the part of a wrk script for targets with tokens: each
// request carries the next "Bearer …" value of the file args[1], one a
// line. Thread id (0-based) takes the lines id, id+threads, … and starts
// at the one nearest line args[2], so that together the threads walk the
// pool in order from there (the harness keeps the cursor across runs). A
// thread's share of up to 20,000 tokens is formatted into requests once,
// in init; a larger one, request by request.
const wrkTokens = `
local next_id = 0
function setup(thread)
	thread:set("id", next_id)
	next_id = next_id + 1
end

local reqs, n, i, formatted = {}, 0, 0, false
function init(args)
	local first, threads, k = tonumber(args[2]), tonumber(args[3]), 0
	for line in io.lines(args[1]) do
		if k % threads == id then
			n = n + 1
			reqs[n] = line
		end
		k = k + 1
	end
	i = math.floor(first / threads) % n
	if n <= 20000 then
		for j = 1, n do
			reqs[j] = wrk.format(nil, nil, {["Authorization"] = reqs[j]})
		end
		formatted = true
	end
end

function request()
	i = i % n + 1
	if formatted then
		return reqs[i]
	end
	return wrk.format(nil, nil, {["Authorization"] = reqs[i]})
end
`

// wrkRun is what one wrk run reported.
type wrkRun struct {
	Requests uint64
	Elapsed  time.Duration
	Bytes    uint64
	Errors   map[string]uint64 // by kind, non-zero only
	Max      time.Duration
	// Quantiles are wrkQuantiles evenly spaced latency quantiles.
	Quantiles []time.Duration
	CPU       time.Duration // wrk's own
}

// wrkScript writes the script for a target with or without tokens into
// dir and returns its path.
func wrkScript(dir string, tokens bool) (string, error) {
	name, src := "wrk-done.lua", wrkDone
	if tokens {
		name, src = "wrk-tokens.lua", wrkTokens+wrkDone
	}
	path := filepath.Join(dir, name)
	return path, os.WriteFile(path, []byte(src), 0o644)
}

// writeTokenFile writes toks, one a line, into dir once per pool and
// returns the file's path.
func writeTokenFile(dir string, toks [][]byte) (string, error) {
	path := filepath.Join(dir, fmt.Sprintf("tokens-%d-%p.txt", len(toks), &toks[0]))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	return path, os.WriteFile(path, append(bytes.Join(toks, []byte("\n")), '\n'), 0o644)
}

// wrkArgs are the arguments of a wrk run of d (in whole seconds, at least
// one: wrk's resolution) on t with conns connections; script and tokens as wrkScript and writeTokenFile made
// them ("" when t has no tokens), first the token to start at.
func wrkArgs(t *Target, conns int, d time.Duration, script, tokens string, first uint64) []string {
	threads := max(1, min(runtime.NumCPU(), conns))
	args := []string{"-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "-d", fmt.Sprintf("%ds", max(1, int((d+time.Second-1)/time.Second))),
		"--timeout", "30s", "-s", script, "http://" + t.Addr + t.Path}
	if tokens != "" {
		args = append(args, "--", tokens, strconv.FormatUint(first, 10), strconv.Itoa(threads))
	}
	return args
}

// startWrk starts wrk with args; wait returns what it reported.
func startWrk(args []string) (wait func() (*wrkRun, error), err error) {
	cmd := exec.Command("wrk", args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("wrk: %w", err)
	}
	return func() (*wrkRun, error) {
		if err := cmd.Wait(); err != nil {
			return nil, fmt.Errorf("wrk %s: %w: %s%s", strings.Join(args, " "), err, out.String(), errOut.String())
		}
		r, err := parseWrk(out.String())
		if err != nil {
			return nil, fmt.Errorf("wrk %s: %w\n%s%s", strings.Join(args, " "), err, out.String(), errOut.String())
		}
		r.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		return r, nil
	}, nil
}

// parseWrk reads the lines wrkDone wrote among wrk's output.
func parseWrk(out string) (*wrkRun, error) {
	r := &wrkRun{Errors: map[string]uint64{}}
	var summary, quantiles bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) > 0 && f[0] == "wrk-summary":
			summary = true
			for _, kv := range f[1:] {
				k, v, _ := strings.Cut(kv, "=")
				n, err := strconv.ParseUint(v, 10, 64)
				if err != nil {
					return nil, fmt.Errorf("summary field %q: %w", kv, err)
				}
				switch k {
				case "requests":
					r.Requests = n
				case "duration":
					r.Elapsed = time.Duration(n) * time.Microsecond
				case "bytes":
					r.Bytes = n
				case "max":
					r.Max = time.Duration(n) * time.Microsecond
				default:
					if n > 0 {
						r.Errors[wrkErrorKinds[k]] = n
					}
				}
			}
		case len(f) > 0 && f[0] == "wrk-quantiles":
			quantiles = true
			for _, v := range f[1:] {
				n, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return nil, fmt.Errorf("quantile %q: %w", v, err)
				}
				r.Quantiles = append(r.Quantiles, time.Duration(n*float64(time.Microsecond)))
			}
		}
	}
	switch {
	case !summary || !quantiles:
		return nil, fmt.Errorf("no wrk-summary or wrk-quantiles line (did the script's done run?)")
	case len(r.Quantiles) != wrkQuantiles:
		return nil, fmt.Errorf("%d quantiles, want %d", len(r.Quantiles), wrkQuantiles)
	}
	return r, nil
}

// wrkErrorKinds names wrk's error counters as the Go generator's kinds
// read.
var wrkErrorKinds = map[string]string{
	"connect": "wrk: connect error",
	"read":    "wrk: read error",
	"write":   "wrk: write error",
	"status":  "wrk: status not 2xx or 3xx",
	"timeout": "wrk: timeout",
}

// hist rebuilds a histogram of r's requests from its quantiles: each
// stands for an equal share of them, but for one request of the last
// share, recorded as r.Max.
func (r *wrkRun) hist() Hist {
	var h Hist
	if r.Requests == 0 {
		return h
	}
	n := uint64(len(r.Quantiles))
	for i, q := range r.Quantiles {
		share := r.Requests / n
		if uint64(i) < r.Requests%n {
			share++
		}
		if i == len(r.Quantiles)-1 && share > 0 {
			share--
			h.RecordN(r.Max, 1)
		}
		h.RecordN(q, share)
	}
	return h
}

// errors returns the requests r counted as errors.
func (r *wrkRun) errors() uint64 {
	var n uint64
	for _, c := range r.Errors {
		n += c
	}
	return n
}
