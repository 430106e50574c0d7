//go:build unix

package atomicfile

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, path, want string
		wantErr          string // instead of want
		tree             tree
	}{
		{name: "file", tree: tree{files: []string{"f"}}, path: "f", want: "f"},
		{name: "absent file", path: "f", want: "f"},
		{name: "link", tree: tree{dirs: []string{"vol"}, files: []string{"vol/f"}, links: map[string]string{"l": "vol/f"}}, path: "l", want: "vol/f"},
		{name: "dangling link", tree: tree{dirs: []string{"vol"}, links: map[string]string{"l": "vol/f"}}, path: "l", want: "vol/f"},
		{name: "dangling link to a dangling link", tree: tree{dirs: []string{"vol"}, links: map[string]string{"l": "$DIR/m", "m": "vol/f"}}, path: "l", want: "vol/f"},
		{name: "linked directory", tree: tree{dirs: []string{"vol"}, links: map[string]string{"d": "vol"}}, path: "d/f", want: "vol/f"},
		{name: "dot dot after a linked directory", tree: tree{dirs: []string{"a/b", "vol"}, links: map[string]string{"a/d": "b", "a/b/l": "../../vol/f"}}, path: "a/d/l", want: "vol/f"},
		{name: "missing directory", path: "missing/f", wantErr: "missing"},
		{name: "loop", tree: tree{links: map[string]string{"l": "l"}}, path: "l", wantErr: "l: more than 40 symbolic links"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := realTempDir(t)
			tt.tree.make(t, dir)
			got, err := Resolve(filepath.Join(dir, tt.path))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Resolve = %q, %v; want an error saying %q", got, err, tt.wantErr)
				}
				return
			}
			if want := filepath.Join(dir, tt.want); got != want || err != nil {
				t.Errorf("Resolve = %q, %v; want %q", got, err, want)
			}
		})
	}
}

func TestResolveRelative(t *testing.T) {
	t.Chdir(realTempDir(t))
	tree{dirs: []string{"vol"}, links: map[string]string{"l": "vol/f"}}.make(t, ".")
	got, err := Resolve("l")
	if wd, _ := filepath.Abs("vol/f"); got != wd || err != nil {
		t.Errorf("Resolve(l) = %q, %v; want %q", got, err, wd)
	}
}
