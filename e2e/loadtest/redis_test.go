package main

import (
	"bufio"
	"io"
	"maps"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseInfo(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("testdata/redis-7.0-info-all.txt") // INFO all of redis-server 7.0.15 after one EVAL running TIME
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseInfo(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	want := redisInfo{Calls: map[string]uint64{"time": 1, "eval": 1}, Reads: 3, NetIn: 79, NetOut: 4}
	if !maps.Equal(got.Calls, want.Calls) || got.Reads != want.Reads || got.NetIn != want.NetIn || got.NetOut != want.NetOut {
		t.Errorf("parseInfo = %+v, want %+v", got, want)
	}

	stats := "total_reads_processed:3\ntotal_net_input_bytes:79\ntotal_net_output_bytes:4\n"
	for _, tc := range []struct {
		name, text, wantErr string
	}{
		{"LF lines, a subcommand", "# Stats\n" + stats + "cmdstat_client|setinfo:calls=2,usec=1\n", ""},
		{"no stats", "# Commandstats\ncmdstat_ping:calls=1,usec=1\n", "no total_"},
		{"a stat missing", strings.Replace(stats, "total_net_output_bytes:4\n", "", 1), "no total_net_output_bytes"},
		{"a stat not a count", strings.Replace(stats, ":79", ":-1", 1), `total_net_input_bytes: "-1" is not a count`},
		{"calls not first", stats + "cmdstat_ping:usec=1,calls=1\n", `cmdstat_ping: want calls=N first, got "usec=1,calls=1"`},
		{"calls not a number", stats + "cmdstat_ping:calls=x\n", "cmdstat_ping: want calls=N"},
	} {
		_, err := parseInfo(tc.text)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.wantErr)
		}
	}
}

func TestRedisUse(t *testing.T) {
	t.Parallel()
	before := redisSnapshot{
		info:    redisInfo{Calls: map[string]uint64{"info": 4, "evalsha": 10, "ping": 2}, Reads: 100, NetIn: 1000, NetOut: 2000},
		cpu:     time.Second,
		request: 20, wire: 5000,
	}
	after := redisSnapshot{
		info:    redisInfo{Calls: map[string]uint64{"info": 5, "evalsha": 60, "ping": 2, "time": 50}, Reads: 131, NetIn: 1000 + 20 + 4000, NetOut: 2000 + 5000 + 600},
		cpu:     3 * time.Second,
		request: 20, wire: 5100,
	}
	u := redisUse(before, after)
	// The probe's INFO, its read, its request and its first reply are
	// left out; unchanged commands are not listed.
	if want := map[string]uint64{"evalsha": 50, "time": 50}; !maps.Equal(u.Calls, want) {
		t.Errorf("calls %v, want %v", u.Calls, want)
	}
	if u.Reads != 30 || u.NetIn != 4000 || u.NetOut != 600 || u.CPU != 2*time.Second || u.scripts() != 50 {
		t.Errorf("use %+v (scripts %d), want 30 reads, 4000 B in, 600 B out, 2s CPU, 50 scripts", u, u.scripts())
	}
	sum := &RedisUse{Calls: map[string]uint64{"evalsha": 1}}
	sum.add(u)
	sum.add(u)
	if sum.Calls["evalsha"] != 101 || sum.Calls["time"] != 100 || sum.Reads != 60 || sum.NetOut != 1200 || sum.CPU != 4*time.Second {
		t.Errorf("sum %+v", sum)
	}
}

// TestRedisProbe checks on a real redis-server that a delta between two
// snapshots holds exactly the traffic of other clients: the probe's own
// INFO calls, reads and bytes are left out.
func TestRedisProbe(t *testing.T) {
	t.Parallel()
	if _, err := redisBinary(); err != nil {
		if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
			t.Fatalf("%v (CI is set: a failure, not a skip)", err)
		}
		t.Skip(err)
	}
	r, err := startRedis(t.TempDir(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	c, err := net.Dial("tcp", r.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	var in, out int
	// send writes cmds in one write and reads one line of reply per
	// command, counting the bytes both ways.
	send := func(cmds ...[]string) {
		t.Helper()
		var req string
		for _, cmd := range cmds {
			req += respCommand(cmd...)
		}
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		in += len(req)
		for range cmds {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			out += len(line)
		}
	}

	s0, err := r.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if quiet, err := r.snapshot(); err != nil {
		t.Fatal(err)
	} else if u := redisUse(s0, quiet); len(u.Calls) != 0 || u.Reads != 0 || u.NetIn != 0 || u.NetOut != 0 {
		t.Errorf("nothing but the probe ran, yet the delta is %+v", u)
	}
	s0, err = r.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		send([]string{"PING"}) // three round trips
	}
	send([]string{"SET", "k", "v"}, []string{"SET", "k", "w"}, []string{"EVAL", "redis.call('TIME') return 1", "0"}) // one, pipelined
	s1, err := r.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	u := redisUse(s0, s1)
	if want := map[string]uint64{"ping": 3, "set": 2, "eval": 1, "time": 1}; !maps.Equal(u.Calls, want) {
		t.Errorf("calls %v, want %v", u.Calls, want)
	}
	if u.Reads != 4 || u.NetIn != uint64(in) || u.NetOut != uint64(out) || u.scripts() != 1 {
		t.Errorf("use %+v (scripts %d), want 4 reads, %d B in, %d B out, 1 script", u, u.scripts(), in, out)
	}
}
