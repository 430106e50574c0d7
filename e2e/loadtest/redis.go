package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Scenario (f) runs cuegate with the Redis limiter against a redis-server
// the harness starts, and reports what Redis did per request: the
// commands (INFO commandstats), the socket reads and the bytes in and out
// (INFO stats), and redis-server's CPU time, as deltas over each measured
// window.

// redisInstall says how to get redis-server when it is missing.
const redisInstall = "install it with `apt-get install redis-server` (Debian's package)"

// redisBinary returns the path of redis-server, or an error saying how to
// install it.
func redisBinary() (string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", errors.New("redis-server is not on PATH: " + redisInstall)
	}
	return bin, nil
}

// redisServer is a redis-server the harness started: Debian's binary on a
// free loopback port, in a directory of its own, with no persistence;
// Stop ends it by its PID. Its probe connection reads INFO; it is not
// safe for concurrent use.
type redisServer struct {
	*Proc
	Addr  string
	probe net.Conn
	br    *bufio.Reader
}

// startRedis starts redis-server with its log in dir and its working
// directory a new one inside, and returns once it answers PING on the
// probe connection.
func startRedis(dir string, timeout time.Duration) (*redisServer, error) {
	bin, err := redisBinary()
	if err != nil {
		return nil, err
	}
	data, err := os.MkdirTemp(dir, "redis-data-")
	if err != nil {
		return nil, err
	}
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	p, err := startProc(dir, "redis-server", nil, bin,
		"--port", port, "--bind", "127.0.0.1", "--dir", data,
		"--save", "", "--appendonly", "no", "--daemonize", "no")
	if err != nil {
		return nil, err
	}
	r := &redisServer{Proc: p, Addr: addr}
	if err := r.connect(timeout); err != nil {
		p.Stop()
		return nil, err
	}
	return r, nil
}

// connect opens the probe connection, retrying until PING answers PONG,
// the process exits, or timeout.
func (r *redisServer) connect(timeout time.Duration) error {
	end := time.Now().Add(timeout)
	var last error
	for time.Now().Before(end) {
		c, err := net.DialTimeout("tcp", r.Addr, time.Second)
		if err == nil {
			r.probe, r.br = c, bufio.NewReader(c)
			var reply string
			if reply, _, err = r.do("PING"); err == nil && reply == "PONG" {
				return nil
			}
			c.Close()
			if err == nil {
				err = fmt.Errorf("PING answered %q", reply)
			}
		}
		last = err
		select {
		case <-r.done:
			return fmt.Errorf("redis-server exited:\n%s", r.tail())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("redis-server on %s not ready after %v (last: %v); log:\n%s", r.Addr, timeout, last, r.tail())
}

// Stop closes the probe connection and ends the server.
func (r *redisServer) Stop() {
	if r.probe != nil {
		r.probe.Close()
	}
	r.Proc.Stop()
}

// do sends one command on the probe connection and returns its reply (a
// simple or bulk string) and the reply's size on the wire.
func (r *redisServer) do(args ...string) (reply string, wire int, err error) {
	r.probe.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(r.probe, respCommand(args...)); err != nil {
		return "", 0, err
	}
	line, err := r.br.ReadString('\n')
	if err != nil {
		return "", 0, err
	}
	wire = len(line)
	line = strings.TrimSuffix(line, "\r\n")
	switch {
	case strings.HasPrefix(line, "+"):
		return line[1:], wire, nil
	case strings.HasPrefix(line, "$"):
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", 0, fmt.Errorf("redis %s: bulk reply %q", args[0], line)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r.br, buf); err != nil {
			return "", 0, err
		}
		return string(buf[:n]), wire + n + 2, nil
	case strings.HasPrefix(line, "-"):
		return "", 0, fmt.Errorf("redis %s: %s", args[0], line[1:])
	}
	return "", 0, fmt.Errorf("redis %s: unexpected reply %q", args[0], line)
}

// respCommand encodes a command as a RESP array of bulk strings.
func respCommand(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

// infoCommand is the probe's request: every section ("all"), which holds
// stats and commandstats on every Redis version that has them.
var infoCommand = []string{"INFO", "all"}

// redisInfo is what the harness reads from INFO.
type redisInfo struct {
	Calls         map[string]uint64 // cmdstat_NAME:calls=N, by NAME
	Reads         uint64            // total_reads_processed
	NetIn, NetOut uint64            // total_net_input_bytes, total_net_output_bytes
}

// parseInfo reads the commandstats calls and the stats counters from the
// text of INFO (CRLF or LF lines); a counter it needs that is missing or
// not a number is an error naming it.
func parseInfo(text string) (redisInfo, error) {
	info := redisInfo{Calls: map[string]uint64{}}
	stats := map[string]*uint64{
		"total_reads_processed":  &info.Reads,
		"total_net_input_bytes":  &info.NetIn,
		"total_net_output_bytes": &info.NetOut,
	}
	seen := map[string]bool{}
	for line := range strings.Lines(text) {
		key, val, ok := strings.Cut(strings.TrimRight(line, "\r\n"), ":")
		if !ok {
			continue
		}
		if name, ok := strings.CutPrefix(key, "cmdstat_"); ok {
			calls, _, _ := strings.Cut(val, ",")
			n, err := strconv.ParseUint(strings.TrimPrefix(calls, "calls="), 10, 64)
			if !strings.HasPrefix(calls, "calls=") || err != nil {
				return info, fmt.Errorf("INFO commandstats: %s: want calls=N first, got %q", key, val)
			}
			info.Calls[name] = n
			continue
		}
		if p := stats[key]; p != nil {
			n, err := strconv.ParseUint(val, 10, 64)
			if err != nil {
				return info, fmt.Errorf("INFO stats: %s: %q is not a count", key, val)
			}
			*p, seen[key] = n, true
		}
	}
	for key := range stats {
		if !seen[key] {
			return info, fmt.Errorf("INFO stats: no %s (a Redis older than 6.0?)", key)
		}
	}
	return info, nil
}

// redisSnapshot is the server's counters at one moment, with the size of
// the probe's own request and reply, so that a delta can leave them out.
type redisSnapshot struct {
	info          redisInfo
	cpu           time.Duration
	request, wire int
}

// snapshot reads INFO and redis-server's CPU time.
func (r *redisServer) snapshot() (redisSnapshot, error) {
	cpu, err := cpuTime(r.PID())
	if err != nil {
		return redisSnapshot{}, fmt.Errorf("redis-server: %w (did it exit?)", err)
	}
	text, wire, err := r.do(infoCommand...)
	if err != nil {
		return redisSnapshot{}, err
	}
	info, err := parseInfo(text)
	if err != nil {
		return redisSnapshot{}, fmt.Errorf("redis-server on %s: %w", r.Addr, err)
	}
	return redisSnapshot{info: info, cpu: cpu, request: len(respCommand(infoCommand...)), wire: wire}, nil
}

// RedisUse is what Redis did between two snapshots, the probe's own work
// left out.
type RedisUse struct {
	// Calls counts commands by name, including those run by scripts (a
	// script's redis.call is counted as a command of its own).
	Calls map[string]uint64
	// Reads counts the server's socket reads: one per round trip, fewer
	// than commands when a client pipelines.
	Reads         uint64
	NetIn, NetOut uint64
	CPU           time.Duration // redis-server's
}

// redisUse returns after − before without the probe: Redis counts a
// command once it has answered and reads and input bytes as they arrive,
// so the delta holds before's INFO call and reply and after's read and
// request, and nothing else of the probe's.
func redisUse(before, after redisSnapshot) *RedisUse {
	u := &RedisUse{Calls: map[string]uint64{}, CPU: after.cpu - before.cpu}
	for name, n := range after.info.Calls {
		d := n - before.info.Calls[name]
		if name == "info" {
			d--
		}
		if d != 0 {
			u.Calls[name] = d
		}
	}
	u.Reads = after.info.Reads - before.info.Reads - 1
	u.NetIn = after.info.NetIn - before.info.NetIn - uint64(after.request)
	u.NetOut = after.info.NetOut - before.info.NetOut - uint64(before.wire)
	return u
}

// add adds o's counts to u.
func (u *RedisUse) add(o *RedisUse) {
	for name, n := range o.Calls {
		u.Calls[name] += n
	}
	u.Reads += o.Reads
	u.NetIn += o.NetIn
	u.NetOut += o.NetOut
	u.CPU += o.CPU
}

// scriptCommands are the commands that run a script: a request of the
// Redis limiter is one of them, and the commands the script runs are
// counted apart in Calls.
var scriptCommands = []string{"eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"}

// scripts returns the calls of scriptCommands.
func (u *RedisUse) scripts() uint64 {
	var n uint64
	for _, c := range scriptCommands {
		n += u.Calls[c]
	}
	return n
}
