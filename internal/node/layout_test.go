package node

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The hot-swap tests' configurations, written into a directory the ways
// people and tools do.

// hotConfig is the state of the configuration the tests write.
type hotConfig struct {
	issuer, jwks string
	upstreams    [2]string // "A" and "B" echo servers
	dyn          []int     // dynamic APIs present: /dyn<N>
	switchTo     int       // which upstream the "switch" API proxies to
	tierRate     int       // requests per hour of policy "tier"
	stable       int       // keyless APIs /s0.. present in every version
}

// files renders the configuration: one file per concern, so that edits
// touch one file.
func (c *hotConfig) files() map[string]string {
	f := map[string]string{}
	f["main.cue"] = fmt.Sprintf(`package hot

gateway: {
	listen:       "127.0.0.1:0"
	admin_listen: "127.0.0.1:0"
	// the counters are read from X-RateLimit-* on answers that pass
	rate_limit_headers: true
}
idps: dev: {
	issuer:   %q
	jwks_uri: %q
}
portal: {}
`, c.issuer, c.jwks)
	var b strings.Builder
	b.WriteString("package hot\n\napis: {\n")
	for i := range c.stable {
		fmt.Fprintf(&b, "\ts%d: {name: \"S%d\", listen_path: \"/s%d\", upstream: targets: [%q], auth: keyless: true}\n", i, i, i, c.upstreams[0])
	}
	fmt.Fprintf(&b, "\tcounted: {name: \"Counted\", listen_path: \"/counted\", upstream: targets: [%q], auth: jwt: {idp: \"dev\", default_policies: [\"pc\"]}}\n", c.upstreams[0])
	fmt.Fprintf(&b, "\tmetered: {name: \"Metered\", listen_path: \"/metered\", upstream: targets: [%q], auth: jwt: {idp: \"dev\", default_policies: [\"pm\"]}}\n", c.upstreams[0])
	fmt.Fprintf(&b, "\ttiered: {name: \"Tiered\", listen_path: \"/tiered\", upstream: targets: [%q], auth: jwt: {idp: \"dev\", default_policies: [\"tier\"]}}\n", c.upstreams[0])
	b.WriteString("}\n")
	f["stable.cue"] = b.String()
	f["switch.cue"] = fmt.Sprintf("package hot\n\napis: switch: {name: \"Switch\", listen_path: \"/switch\", upstream: targets: [%q], auth: keyless: true}\n", c.upstreams[c.switchTo])
	f["policies.cue"] = fmt.Sprintf(`package hot

policies: {
	pc: {name: "Counted", access: counted: {}, rate: {requests: 1000, per: "1000h"}, quota: {max: 2000, period: "24h"}}
	pm: {name: "Metered", access: metered: {}, quota: {max: 1000, period: "24h"}}
	tier: {name: "Tier", access: tiered: {}, rate: {requests: %d, per: "1h"}}
}
`, c.tierRate)
	for _, n := range c.dyn {
		f[fmt.Sprintf("dyn%d.cue", n)] = fmt.Sprintf("package hot\n\napis: dyn%d: {name: \"Dyn %d\", listen_path: \"/dyn%d\", upstream: targets: [%q], auth: keyless: true}\n", n, n, n, c.upstreams[0])
	}
	return f
}

// layout writes configurations into a directory the way they are deployed:
// path is a symlink to a real directory (replaced atomically for a whole new
// version), and policies.cue is a ConfigMap-style symlink through "..data".
type layout struct {
	root string
	path string // the configuration directory given to the gateway
	seq  int
}

func newLayout(t testing.TB, files map[string]string) *layout {
	l := &layout{root: t.TempDir()}
	l.path = filepath.Join(l.root, "cfg")
	l.swapDir(t, files)
	return l
}

// swapDir writes files into a new directory and points path at it by
// renaming a new symlink over it.
func (l *layout) swapDir(t testing.TB, files map[string]string) {
	t.Helper()
	l.seq++
	dir := filepath.Join(l.root, fmt.Sprintf("v%d", l.seq))
	hotMust(t, os.Mkdir(dir, 0o755))
	for name, content := range files {
		if name != "policies.cue" {
			hotMust(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
		}
	}
	l.publishData(t, dir, files["policies.cue"])
	hotMust(t, os.Symlink(filepath.Join("..data", "policies.cue"), filepath.Join(dir, "policies.cue")))
	tmp := l.path + ".tmp"
	hotMust(t, os.Symlink(filepath.Base(dir), tmp))
	hotMust(t, os.Rename(tmp, l.path))
}

// publishData is the kubelet's ConfigMap update: a new timestamped
// directory, a "..data_tmp" symlink renamed over "..data", the old
// directory removed.
func (l *layout) publishData(t testing.TB, dir, policies string) {
	t.Helper()
	l.seq++
	ts := fmt.Sprintf("..2026_11_27_08_%02d_00.%d", l.seq%60, l.seq)
	hotMust(t, os.Mkdir(filepath.Join(dir, ts), 0o755))
	hotMust(t, os.WriteFile(filepath.Join(dir, ts, "policies.cue"), []byte(policies), 0o644))
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	hotMust(t, os.Symlink(ts, filepath.Join(dir, "..data_tmp")))
	hotMust(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
	if old != "" {
		hotMust(t, os.RemoveAll(filepath.Join(dir, old)))
	}
}

// write replaces one file in place.
func (l *layout) write(t testing.TB, name, content string) {
	t.Helper()
	hotMust(t, os.WriteFile(filepath.Join(l.path, name), []byte(content), 0o644))
}

// renameSave saves name as an editor does: a temporary file renamed over it.
func (l *layout) renameSave(t testing.TB, name, content string) {
	t.Helper()
	tmp := filepath.Join(l.path, "."+name+".swp")
	hotMust(t, os.WriteFile(tmp, []byte(content), 0o644))
	hotMust(t, os.Rename(tmp, filepath.Join(l.path, name)))
}

func (l *layout) remove(t testing.TB, name string) {
	t.Helper()
	hotMust(t, os.Remove(filepath.Join(l.path, name)))
}

func hotMust(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// brokenFile returns an invalid file and the line of its error: a syntax
// error, a schema violation and a dangling reference in turn.
func brokenFile(round int) (string, int) {
	switch round % 3 {
	case 0:
		return "package hot\n\napis: broken: {\n\tname: \"Broken\"\n\tlisten_path: \"/broken\"\n\tupstream: targets: [\n", 6
	case 1:
		return "package hot\n\napis: broken: {\n\tname:        \"Broken\"\n\tlisten_path: 42\n\tupstream: targets: [\"http://127.0.0.1:1\"]\n\tauth: keyless: true\n}\n", 5
	default:
		return "package hot\n\npolicies: broken: {\n\tname: \"Broken\"\n\taccess: nosuchapi: {}\n}\n", 5
	}
}
