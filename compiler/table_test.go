package compiler_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/compiler"
	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/testutil"
)

// TestJSONDeterministic compiles a configuration with many entries in
// every map several times, through several spellings of its directory:
// the bytes, and so the hash, never change, every object's keys are
// sorted, secrets stay references, and file names stay as written.
func TestJSONDeterministic(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "cfg")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, dir, 60)
	extra := `package bench

gateway: tls: {cert_file: "certs/c.pem", key_file: "/etc/cuegate/k.pem"}
gateway: upstream_ca_file: "ca.pem"
portal: catalogue: api10: dcr: initial_access_token: env: "DCR_TOKEN"
portal: catalogue: api20: dcr: initial_access_token: file: "secrets/token"
`
	testutil.WriteFile(t, filepath.Join(dir, "secrets.cue"), extra, 0o644)
	if err := os.Symlink(dir, filepath.Join(parent, "link")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DCR_TOKEN", "never-in-the-table")
	t.Chdir(parent)
	first, err := compiler.Compile(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := first.JSON()
	for _, spelling := range []string{dir, "cfg", "./cfg/", filepath.Join(dir, "..", "cfg") + "/", "link"} {
		again, err := compiler.Compile(spelling)
		if err != nil {
			t.Fatal(err)
		}
		if got := again.JSON(); !bytes.Equal(got, want) || again.Hash != first.Hash {
			t.Fatalf("compiling %s differs from compiling %s", spelling, dir)
		}
	}
	if bytes.Contains(want, []byte("never-in-the-table")) {
		t.Fatal("the compiled table holds a secret's value")
	}
	for _, ref := range []string{`"env": "DCR_TOKEN"`, `"file": "secrets/token"`, `"cert_file": "certs/c.pem"`,
		`"key_file": "/etc/cuegate/k.pem"`, `"upstream_ca_file": "ca.pem"`} {
		if !bytes.Contains(want, []byte(ref)) {
			t.Errorf("the table lacks %s:\n%s", ref, want)
		}
	}
	checkSorted(t, json.NewDecoder(bytes.NewReader(want)))
}

// checkSorted reads one JSON value from dec and fails if any object's keys
// are out of order.
func checkSorted(t *testing.T, dec *json.Decoder) {
	t.Helper()
	tok, err := dec.Token()
	if err != nil {
		t.Fatal(err)
	}
	switch tok {
	case json.Delim('{'):
		last := ""
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				t.Fatal(err)
			}
			key := k.(string)
			if key < last {
				t.Fatalf("key %q after %q", key, last)
			}
			last = key
			checkSorted(t, dec)
		}
		dec.Token()
	case json.Delim('['):
		for dec.More() {
			checkSorted(t, dec)
		}
		dec.Token()
	}
}

// TestSecretResolve: a relative secret file is read from the directory
// given, never from the working directory; an absolute one as is.
func TestSecretResolve(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	testutil.WriteFile(t, file, "  file-value\n", 0o600)
	t.Chdir(t.TempDir())
	t.Setenv("CUEGATE_TEST_SET", "env-value")
	t.Setenv("CUEGATE_TEST_EMPTY", "")
	t.Setenv("CUEGATE_TEST_NEWLINE", "env-value\n")
	t.Setenv("CUEGATE_TEST_BLANK", " \n")
	tests := []struct {
		name    string
		secret  *table.Secret
		want    string
		wantErr string
	}{
		{"nil", nil, "", ""},
		{"env", &table.Secret{Env: "CUEGATE_TEST_SET"}, "env-value", ""},
		{"env unset", &table.Secret{Env: "CUEGATE_TEST_UNSET"}, "", "secret: environment variable CUEGATE_TEST_UNSET is not set"},
		{"env empty", &table.Secret{Env: "CUEGATE_TEST_EMPTY"}, "", "secret: environment variable CUEGATE_TEST_EMPTY is not set"},
		{"env with a final newline", &table.Secret{Env: "CUEGATE_TEST_NEWLINE"}, "env-value", ""},
		{"env of white space", &table.Secret{Env: "CUEGATE_TEST_BLANK"}, "", "secret: environment variable CUEGATE_TEST_BLANK is not set"},
		{"file relative to dir", &table.Secret{File: "token"}, "file-value", ""},
		{"file absolute", &table.Secret{File: file}, "file-value", ""},
		{"file missing", &table.Secret{File: "absent"}, "", "secret: open " + filepath.Join(dir, "absent")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.secret.Resolve(dir)
			if got != tt.want {
				t.Errorf("Resolve(dir) = %q, want %q", got, tt.want)
			}
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)) {
				t.Errorf("Resolve(dir) error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestSecretString(t *testing.T) {
	t.Parallel()
	if got := (&table.Secret{Env: "TOKEN"}).String(); got != "env:TOKEN" {
		t.Errorf("String() = %q", got)
	}
	if got := (&table.Secret{File: "/run/token"}).String(); got != "file:/run/token" {
		t.Errorf("String() = %q", got)
	}
}
