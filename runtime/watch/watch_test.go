package watch

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/internal/testutil"
)

const (
	debounce = 100 * time.Millisecond
	deadline = 10 * time.Second // generous: the machine is shared
)

// probe is a Watcher under test with a record of what it processed.
type probe struct {
	*Watcher
	mu    sync.Mutex
	trace []traced
}

type traced struct {
	ev       fsnotify.Event
	relevant bool
}

func newProbe(t *testing.T, dir string) *probe {
	t.Helper()
	p := &probe{}
	w, err := start(dir, debounce, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel), func(ev fsnotify.Event, relevant bool) {
		p.mu.Lock()
		p.trace = append(p.trace, traced{ev, relevant})
		p.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	p.Watcher = w
	t.Cleanup(func() { w.Close() })
	return p
}

// mark returns a position in the trace; seen looks only after it.
func (p *probe) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.trace)
}

// seen waits until the watcher has processed an event for a file named base
// after mark, and returns whether it counted.
func (p *probe) seen(t *testing.T, mark int, base string) bool {
	t.Helper()
	var relevant bool
	testutil.Eventually(t, "the watcher to see an event for "+base, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, tr := range p.trace[mark:] {
			if filepath.Base(tr.ev.Name) == base {
				relevant = tr.relevant
				return true
			}
		}
		return false
	})
	return relevant
}

func (p *probe) wait(t *testing.T, what string) {
	t.Helper()
	select {
	case <-p.Events():
	case <-time.After(deadline):
		t.Fatalf("no event after %s", what)
	}
}

// drain counts the events that arrive until none has for quiet.
func (p *probe) drain(quiet time.Duration) int {
	n := 0
	for {
		select {
		case <-p.Events():
			n++
		case <-time.After(quiet):
			return n
		}
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	testutil.WriteFile(t, path, content, 0o644)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// cfgDir makes root/cfg holding a.cue and returns its path.
func cfgDir(t *testing.T, root string) string {
	t.Helper()
	dir := filepath.Join(root, "cfg")
	must(t, os.Mkdir(dir, 0o755))
	write(t, filepath.Join(dir, "a.cue"), "a: 1\n")
	return dir
}

// linkedVersions makes root/v1 and root/v2, each with an a.cue, and
// root/cfg, a symbolic link to v1, and returns the link.
func linkedVersions(t *testing.T, root string) string {
	t.Helper()
	for _, v := range []string{"v1", "v2"} {
		must(t, os.Mkdir(filepath.Join(root, v), 0o755))
		write(t, filepath.Join(root, v, "a.cue"), "a: \""+v+"\"\n")
	}
	link := filepath.Join(root, "cfg")
	must(t, os.Symlink("v1", link))
	return link
}

// configMap lays dir out as Kubernetes mounts a ConfigMap: the files live in
// a timestamped directory, "..data" points at it, and each file is a symlink
// through "..data". It returns a function that publishes a new version the
// way the kubelet does (new directory, new "..data_tmp" symlink renamed over
// "..data", old directory removed).
func configMap(t *testing.T, dir string, files map[string]string) func(files map[string]string) {
	t.Helper()
	gen := 0
	publish := func(files map[string]string) {
		gen++
		ts := fmt.Sprintf("..2026_11_27_08_00_%02d.%d", gen, gen)
		must(t, os.Mkdir(filepath.Join(dir, ts), 0o755))
		for name, content := range files {
			write(t, filepath.Join(dir, ts, name), content)
		}
		old, _ := os.Readlink(filepath.Join(dir, "..data"))
		must(t, os.Symlink(ts, filepath.Join(dir, "..data_tmp")))
		must(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
		for name := range files {
			link := filepath.Join(dir, name)
			if _, err := os.Lstat(link); os.IsNotExist(err) {
				must(t, os.Symlink(filepath.Join("..data", name), link))
			}
		}
		if old != "" {
			must(t, os.RemoveAll(filepath.Join(dir, old)))
		}
	}
	publish(files)
	return publish
}

// TestChanges makes each kind of change, expects an event, and then checks
// the watcher still follows the directory by editing a.cue through the
// watched path.
func TestChanges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// setup prepares root and returns the path to watch; a.cue must be
		// reachable as path/a.cue.
		setup  func(t *testing.T, root string) (path string, change func())
		settle string // the file whose event ends the change, when not a.cue
	}{
		{name: "plain write", setup: func(t *testing.T, root string) (string, func()) {
			dir := cfgDir(t, root)
			return dir, func() { write(t, filepath.Join(dir, "a.cue"), "a: 2\n") }
		}},
		{name: "atomic rename-save", setup: func(t *testing.T, root string) (string, func()) {
			dir := cfgDir(t, root)
			return dir, func() {
				tmp := filepath.Join(dir, ".a.cue.tmp123")
				write(t, tmp, "a: 2\n")
				must(t, os.Rename(tmp, filepath.Join(dir, "a.cue")))
			}
		}},
		{name: "vim backup rename", setup: func(t *testing.T, root string) (string, func()) {
			dir := cfgDir(t, root)
			return dir, func() {
				a := filepath.Join(dir, "a.cue")
				write(t, filepath.Join(dir, "4913"), "")
				must(t, os.Remove(filepath.Join(dir, "4913")))
				must(t, os.Rename(a, a+"~"))
				write(t, a, "a: 2\n")
				must(t, os.Remove(a+"~"))
			}
		}},
		{name: "create", setup: func(t *testing.T, root string) (string, func()) {
			dir := cfgDir(t, root)
			return dir, func() { write(t, filepath.Join(dir, "b.cue"), "b: 1\n") }
		}},
		{name: "delete", setup: func(t *testing.T, root string) (string, func()) {
			dir := cfgDir(t, root)
			write(t, filepath.Join(dir, "b.cue"), "b: 1\n")
			return dir, func() { must(t, os.Remove(filepath.Join(dir, "b.cue"))) }
		}},
		{name: "configmap ..data swap", setup: func(t *testing.T, root string) (string, func()) {
			dir := filepath.Join(root, "cfg")
			must(t, os.Mkdir(dir, 0o755))
			publish := configMap(t, dir, map[string]string{"a.cue": "a: 1\n", "b.cue": "b: 1\n"})
			return dir, func() { publish(map[string]string{"a.cue": "a: 2\n", "b.cue": "b: 2\n"}) }
		}},
		{name: "directory removed and recreated", setup: func(t *testing.T, root string) (string, func()) {
			dir := cfgDir(t, root)
			return dir, func() {
				must(t, os.RemoveAll(dir))
				must(t, os.Mkdir(dir, 0o755))
				write(t, filepath.Join(dir, "a.cue"), "a: 2\n")
			}
		}},
		{name: "directory replaced by rename", setup: func(t *testing.T, root string) (string, func()) {
			dir := cfgDir(t, root)
			return dir, func() {
				next := filepath.Join(root, "cfg.next")
				must(t, os.Mkdir(next, 0o755))
				write(t, filepath.Join(next, "a.cue"), "a: 2\n")
				must(t, os.Rename(dir, filepath.Join(root, "cfg.old")))
				must(t, os.Rename(next, dir))
				// The old directory lives on and is written to.
				write(t, filepath.Join(root, "cfg.old", "a.cue"), "a: 3\n")
			}
		}},
		{name: "directory symlink retargeted", setup: func(t *testing.T, root string) (string, func()) {
			link := linkedVersions(t, root)
			return link, func() {
				must(t, os.Symlink("v2", link+".tmp"))
				must(t, os.Rename(link+".tmp", link))
			}
		}},
		{name: "directory symlink replaced non-atomically", setup: func(t *testing.T, root string) (string, func()) {
			link := linkedVersions(t, root)
			return link, func() { // as older ln -sfn does
				must(t, os.Remove(link))
				must(t, os.Symlink("v2", link))
			}
		}},
		{name: "parent directory removed and recreated", setup: func(t *testing.T, root string) (string, func()) {
			dir := filepath.Join(root, "parent", "cfg")
			must(t, os.MkdirAll(dir, 0o755))
			write(t, filepath.Join(dir, "a.cue"), "a: 1\n")
			return dir, func() {
				must(t, os.RemoveAll(filepath.Join(root, "parent")))
				must(t, os.MkdirAll(dir, 0o755))
				write(t, filepath.Join(dir, "a.cue"), "a: 2\n")
			}
		}},
		{name: "symlinked file's target written", setup: func(t *testing.T, root string) (string, func()) {
			shared := filepath.Join(root, "shared")
			dir := filepath.Join(root, "cfg")
			must(t, os.Mkdir(shared, 0o755))
			must(t, os.Mkdir(dir, 0o755))
			write(t, filepath.Join(shared, "a.cue"), "a: 1\n")
			must(t, os.Symlink(filepath.Join(shared, "a.cue"), filepath.Join(dir, "a.cue")))
			return dir, func() { write(t, filepath.Join(shared, "a.cue"), "a: 2\n") }
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			path, change := tc.setup(t, root)
			p := newProbe(t, path)
			change()
			p.wait(t, "the change")
			// Let the change's burst settle, then edit again through path.
			p.drain(5 * debounce)
			m := p.mark()
			write(t, filepath.Join(path, "a.cue"), "a: 42\n")
			if !p.seen(t, m, "a.cue") {
				t.Fatal("the edit after the change did not count")
			}
			p.wait(t, "the edit after the change")
		})
	}
}

// TestBurstCoalesces is not parallel: the load of other watchers could
// stall the 50 writes past the debounce and split the burst.
func TestBurstCoalesces(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.cue"), "a: 0\n")
	p := newProbe(t, dir)
	for i := range 50 {
		write(t, filepath.Join(dir, "a.cue"), fmt.Sprintf("a: %d\n", i))
	}
	p.wait(t, "the burst")
	if n := 1 + p.drain(10*debounce); n > 2 {
		t.Errorf("50 writes gave %d events, want 1 or 2", n)
	}
}

func TestIgnored(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		file   string // the file whose event must not count
		change func(t *testing.T, dir string)
	}{
		{"non-cue file", "notes.txt", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "notes.txt"), "hello")
		}},
		{"hidden cue file", ".#a.cue", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, ".#a.cue"), "x")
		}},
		{"chmod only", "a.cue", func(t *testing.T, dir string) {
			must(t, os.Chmod(filepath.Join(dir, "a.cue"), 0o600))
		}},
		{"editor swap file", ".a.cue.swp", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, ".a.cue.swp"), "x")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			write(t, filepath.Join(dir, "a.cue"), "a: 1\n")
			p := newProbe(t, dir)
			m := p.mark()
			tc.change(t, dir)
			if p.seen(t, m, tc.file) {
				t.Fatalf("%s counted as a change", tc.file)
			}
			// Nothing counted, so nothing is pending: the next event is
			// the one for this save, and it is the only one. (A rename is
			// one fsnotify event; a plain write is two, truncate and
			// write, which a stalled machine could see as two bursts.)
			write(t, filepath.Join(dir, "a.tmp"), "a: 2\n")
			must(t, os.Rename(filepath.Join(dir, "a.tmp"), filepath.Join(dir, "a.cue")))
			p.wait(t, "a write to a.cue")
			select {
			case <-p.Events():
				t.Fatal("two events for one write")
			default:
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "a.cue")
	write(t, file, "a: 1\n")
	for _, path := range []string{filepath.Join(dir, "missing"), file} {
		if w, err := New(path, debounce, zerolog.Nop()); err == nil {
			w.Close()
			t.Errorf("New(%s) succeeded", path)
		}
	}
}

// TestCloseStops is not parallel: it counts the process's goroutines.
func TestCloseStops(t *testing.T) {
	base := runtime.NumGoroutine()
	for range 3 {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "a.cue"), "a: 1\n")
		w, err := New(dir, debounce, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, "a.cue"), "a: 2\n") // a pending burst
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		for range w.Events() { // closed: the loop ends
		}
	}
	defer func() {
		if t.Failed() {
			buf := make([]byte, 1<<16)
			t.Logf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
	}()
	testutil.Eventually(t, "the watchers' goroutines to end", func() bool { return runtime.NumGoroutine() <= base })
}

// TestAlso: a file the configuration names (an OpenAPI document, a
// certificate), in the directory, below it or elsewhere by an absolute
// name, counts once Also names it, and no longer once a later call leaves
// it out; its neighbours elsewhere do not count.
func TestAlso(t *testing.T) {
	t.Parallel()
	dir, elsewhere := t.TempDir(), t.TempDir()
	write(t, filepath.Join(dir, "a.cue"), "a: 1\n")
	must(t, os.Mkdir(filepath.Join(dir, "docs"), 0o755))
	write(t, filepath.Join(dir, "orders.yaml"), "openapi: 3.0.3\n")
	write(t, filepath.Join(dir, "docs", "users.json"), "{}")
	ca := filepath.Join(elsewhere, "ca.pem")
	write(t, ca, "a bundle")
	write(t, filepath.Join(elsewhere, "other.pem"), "not named")
	p := newProbe(t, dir)
	m := p.mark()
	write(t, filepath.Join(dir, "orders.yaml"), "openapi: 3.1.0\n")
	if p.seen(t, m, "orders.yaml") {
		t.Fatal("a file no one named counted")
	}
	p.drain(2 * debounce)

	p.Also([]string{"orders.yaml", "docs/users.json", ca})
	p.drain(2 * debounce) // the rescan's own events, if any
	for _, name := range []string{"orders.yaml", "docs/users.json", ca} {
		path := name
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, name)
		}
		m := p.mark()
		write(t, path+".tmp", "changed")
		must(t, os.Rename(path+".tmp", path))
		if !p.seen(t, m, filepath.Base(name)) {
			t.Errorf("a change of %s did not count", name)
		}
		p.wait(t, "a change of "+name)
	}
	m = p.mark()
	write(t, filepath.Join(elsewhere, "other.pem"), "changed")
	if p.seen(t, m, "other.pem") {
		t.Error("a neighbour of a named file counted")
	}
	p.drain(2 * debounce)

	p.Also(nil)
	p.drain(2 * debounce)
	m = p.mark()
	write(t, filepath.Join(dir, "orders.yaml"), "again")
	if p.seen(t, m, "orders.yaml") {
		t.Error("a file no longer named counted")
	}
}

// TestHalfWrittenFileWaitsForClose: a writer that keeps the file open and
// writes it in pieces, with constant writes past the burst's bound and
// then a pause of a few debounces, gets no event until it closes the file,
// and then one.
func TestHalfWrittenFileWaitsForClose(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "a.cue")
	write(t, path, "a: 1\n")
	p := newProbe(t, dir)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	must(t, err)
	defer f.Close()
	m := p.mark()
	for end := time.Now().Add(7 * debounce); time.Now().Before(end); {
		_, err := f.WriteString("a: 1\n")
		must(t, err)
		time.Sleep(debounce / 4) // a slow writer's pace, not synchronisation
	}
	p.seen(t, m, "a.cue")
	if n := p.drain(3 * debounce); n != 0 {
		t.Fatalf("%d events while the file was open for writing", n)
	}
	_, err = f.WriteString("b: 2\n")
	must(t, err)
	must(t, f.Close())
	p.wait(t, "the writer closed the file")
	if n := p.drain(3 * debounce); n != 0 {
		t.Errorf("%d more events after the close", n)
	}
}

// TestOpenIgnoredFileDoesNotHold: a file whose change does not count (an
// editor's swap file), kept open and written, does not hold back the event
// of a change that counts.
func TestOpenIgnoredFileDoesNotHold(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.cue"), "a: 1\n")
	p := newProbe(t, dir)
	swap, err := os.Create(filepath.Join(dir, ".a.cue.swp"))
	must(t, err)
	defer swap.Close()
	m := p.mark()
	_, err = swap.WriteString("swap")
	must(t, err)
	p.seen(t, m, ".a.cue.swp")
	write(t, filepath.Join(dir, "a.tmp"), "a: 2\n")
	must(t, os.Rename(filepath.Join(dir, "a.tmp"), filepath.Join(dir, "a.cue")))
	p.wait(t, "a rename over a.cue while a swap file is open")
}
