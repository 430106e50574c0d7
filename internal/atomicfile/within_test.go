package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/cuegate/cuegate/internal/testutil"
)

// TestReplaceWithin: a file whose link leads out of the root is left as
// it is with an *OutsideError, and so is its target; one linked into a
// directory of the root's own (a ConfigMap's ..data) is replaced; and a
// link swapped in where the path led, after it was resolved, is refused,
// never followed, nor is a directory on the way swapped for a link out.
func TestReplaceWithin(t *testing.T) {
	t.Parallel()
	root, outside := t.TempDir(), t.TempDir()
	victim := filepath.Join(outside, "victim.json")
	testutil.WriteFile(t, victim, "{}\n", 0o600)
	link := func(to, name string) string {
		p := filepath.Join(root, name)
		if err := os.Symlink(to, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if err := ReplaceWithin(root, link(victim, "evil.cue"), []byte("x\n")); !errors.As(err, new(*OutsideError)) {
		t.Errorf("a link out of the root: %v, want an *OutsideError", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "{}\n" {
		t.Errorf("the outside file became %q", b)
	}

	if err := os.Mkdir(filepath.Join(root, "..2026"), 0o700); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, filepath.Join(root, "..2026", "a.cue"), "old\n", 0o600)
	link("..2026", "..data")
	if err := ReplaceWithin(root, link("..data/a.cue", "a.cue"), []byte("new\n")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "..2026", "a.cue")); string(b) != "new\n" {
		t.Errorf("the linked file holds %q, want the new content", b)
	}

	r, err := os.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	link(victim, "b.cue") // swapped in where b.cue was resolved
	if err := replaceIn(r, "b.cue", "b.cue", []byte("x\n")); !errors.As(err, new(*IdentityError)) {
		t.Errorf("a link swapped in: %v, want an *IdentityError", err)
	}
	link(outside, "sub") // a directory on the way swapped for a link out
	if err := replaceIn(r, "sub/victim.json", "sub/victim.json", []byte("x\n")); err == nil {
		t.Error("a directory swapped for a link out of the root was followed")
	}
	if b, _ := os.ReadFile(victim); string(b) != "{}\n" {
		t.Errorf("the outside file became %q", b)
	}
}
