package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/cuegate/cuegate/internal/testutil"
)

// TestReplaceKeepsWhatANewFileWouldLose: a file is replaced keeping its
// owner and group (a configuration made root:cuegate 0640 and formatted
// by root stays readable by the gateway) and its extended attributes; a
// file with another hard link, which a new file would not share, is
// left as it is, with an *IdentityError saying why.
func TestReplaceKeepsWhatANewFileWouldLose(t *testing.T) {
	t.Parallel()
	const oldContent, newContent = "the old content\n", "the new content\n"
	for _, tt := range []struct {
		name    string
		setup   func(t *testing.T, path string) (check func(t *testing.T))
		refused string // the error, when the file must be left as it is
	}{
		{"hard link", func(t *testing.T, path string) func(t *testing.T) {
			other := filepath.Join(t.TempDir(), "other.cue")
			if err := os.Link(path, other); err != nil {
				t.Skip("no hard links here:", err)
			}
			return func(t *testing.T) {
				if got, _ := os.ReadFile(other); string(got) != oldContent {
					t.Errorf("the other link holds %q, want it untouched", got)
				}
			}
		}, "it has 2 hard links, which a new file would not share"},
		{"owner", func(t *testing.T, path string) func(t *testing.T) {
			if err := os.Chown(path, 65534, 65534); err != nil {
				t.Skip("cannot give a file another owner (run as root):", err)
			}
			return func(t *testing.T) {
				if uid, gid := owner(t, path); uid != 65534 || gid != 65534 {
					t.Errorf("owner %d:%d, want 65534:65534", uid, gid)
				}
			}
		}, ""},
		{"extended attribute", func(t *testing.T, path string) func(t *testing.T) {
			if !setXattr(t, path, "user.cuegate", "kept") {
				t.Skip("no user extended attributes on this file system")
			}
			return func(t *testing.T) {
				if got := getXattr(t, path, "user.cuegate"); got != "kept" {
					t.Errorf("user.cuegate = %q, want kept", got)
				}
			}
		}, ""},
		{"ACL the directory would give", func(t *testing.T, path string) func(t *testing.T) {
			if !grantDefaultACL(t, filepath.Dir(path)) {
				t.Skip("no ACLs on this file system")
			}
			return func(t *testing.T) {
				if hasXattr(t, path, "system.posix_acl_access") {
					t.Error("a.cue gained the directory's ACL (uid 1234 may read it)")
				}
			}
		}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "a.cue")
			testutil.WriteFile(t, path, oldContent, 0o640)
			check := tt.setup(t, path)
			before, _ := os.Stat(path)
			err := ReplaceWithin(filepath.Dir(path), path, []byte(newContent))
			got, _ := os.ReadFile(path)
			after, _ := os.Stat(path)
			var ie *IdentityError
			switch {
			case tt.refused != "" && (!errors.As(err, &ie) || ie.Err.Error() != tt.refused || string(got) != oldContent):
				t.Errorf("ReplaceWithin: %v, a.cue %q; want an IdentityError %q and a.cue untouched", err, got, tt.refused)
			case tt.refused == "" && (err != nil || string(got) != newContent):
				t.Errorf("ReplaceWithin: %v, a.cue %q; want %q", err, got, newContent)
			case tt.refused == "" && os.SameFile(before, after):
				t.Error("a.cue was rewritten in place, not replaced")
			}
			check(t)
		})
	}
}
