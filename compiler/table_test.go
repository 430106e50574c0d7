package compiler_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/compiler"
)

// TestJSONDeterministic compiles a configuration with many entries in
// every map several times: the bytes, and so the hash, never change, every
// object's keys are sorted, and secrets stay references.
func TestJSONDeterministic(t *testing.T) {
	dir := t.TempDir()
	writeConfig(t, dir, 60)
	extra := `package bench

portal: catalogue: api10: dcr: initial_access_token: env: "DCR_TOKEN"
portal: catalogue: api20: dcr: initial_access_token: file: "secrets/token"
`
	if err := os.WriteFile(filepath.Join(dir, "secrets.cue"), []byte(extra), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DCR_TOKEN", "never-in-the-table")
	first, err := compiler.Compile(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := first.JSON()
	for range 4 {
		again, err := compiler.Compile(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := again.JSON(); !bytes.Equal(got, want) || again.Hash != first.Hash {
			t.Fatal("two compiles of the same configuration differ")
		}
	}
	if bytes.Contains(want, []byte("never-in-the-table")) {
		t.Fatal("the compiled table holds a secret's value")
	}
	if !bytes.Contains(want, []byte(`"env": "DCR_TOKEN"`)) || !bytes.Contains(want, []byte(filepath.Join(dir, "secrets", "token"))) {
		t.Fatalf("secret references missing from the table:\n%s", want)
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

func TestSecretResolve(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("  file-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CUEGATE_TEST_SET", "env-value")
	t.Setenv("CUEGATE_TEST_EMPTY", "")
	tests := []struct {
		name    string
		secret  *compiler.Secret
		want    string
		wantErr string
	}{
		{"nil", nil, "", ""},
		{"env", &compiler.Secret{Env: "CUEGATE_TEST_SET"}, "env-value", ""},
		{"env unset", &compiler.Secret{Env: "CUEGATE_TEST_UNSET"}, "", "secret: environment variable CUEGATE_TEST_UNSET is not set"},
		{"env empty", &compiler.Secret{Env: "CUEGATE_TEST_EMPTY"}, "", "secret: environment variable CUEGATE_TEST_EMPTY is not set"},
		{"file", &compiler.Secret{File: file}, "file-value", ""},
		{"file missing", &compiler.Secret{File: filepath.Join(dir, "absent")}, "", "secret: open " + filepath.Join(dir, "absent")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.secret.Resolve()
			if got != tt.want {
				t.Errorf("Resolve() = %q, want %q", got, tt.want)
			}
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)) {
				t.Errorf("Resolve() error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestSecretString(t *testing.T) {
	if got := (&compiler.Secret{Env: "TOKEN"}).String(); got != "env:TOKEN" {
		t.Errorf("String() = %q", got)
	}
	if got := (&compiler.Secret{File: "/run/token"}).String(); got != "file:/run/token" {
		t.Errorf("String() = %q", got)
	}
}
