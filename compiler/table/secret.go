package table

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Secret is a reference to a secret value, read only when it is needed:
// an environment variable, or a file (its name as written, see
// ConfigPath). The compiled table holds the reference, never the value.
type Secret struct {
	Env  string `json:"env,omitempty"`
	File string `json:"file,omitempty"`
}

// Resolve reads the secret, without the ASCII white space around it (a
// file's final newline, or an environment variable set from such a file); a
// relative file name is read from dir, the configuration directory (see
// ConfigPath). A file must be a regular one of at most MaxSecretFileBytes
// (see ReadFile). The error names the reference, never a value.
func (s *Secret) Resolve(dir string) (string, error) {
	switch {
	case s == nil:
		return "", nil
	case s.Env != "":
		v, ok := os.LookupEnv(s.Env)
		if v = trimASCIISpace(v); !ok || v == "" {
			return "", fmt.Errorf("secret: environment variable %s is not set", s.Env)
		}
		return v, nil
	default:
		b, err := ReadFile(ConfigPath(dir, s.File), MaxSecretFileBytes)
		if err != nil {
			return "", fmt.Errorf("secret: %w", err)
		}
		return trimASCIISpace(string(b)), nil
	}
}

// trimASCIISpace is v without the ASCII white space around it (a final
// newline); other bytes are the secret's, kept as written.
func trimASCIISpace(v string) string { return strings.Trim(v, " \t\r\n\v\f") }

// ConfigPath returns the file a name in a table refers to. A table keeps
// file names (TLS files, the upstream CA, secret files) as written, so
// that the same configuration compiles to the same bytes wherever it is
// and however its directory is spelled: a relative name is relative to
// dir, the configuration directory, and is joined to it here (an empty
// dir is the working directory); an absolute name is returned as is.
func ConfigPath(dir, name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(dir, name)
}

// ResolveToken is Resolve for a token that must not be empty: a file
// that holds nothing is an error too. Errors begin with name, the field
// the reference is at, and name the reference, never a value.
func (s *Secret) ResolveToken(dir, name string) (string, error) {
	tok, err := s.Resolve(dir)
	switch {
	case err != nil:
		return "", fmt.Errorf("%s: %w", name, err)
	case tok == "" && s != nil:
		return "", fmt.Errorf("%s %s is empty", name, s)
	}
	return tok, nil
}

var _ fmt.Stringer = (*Secret)(nil)

// String describes the reference, never the value.
func (s *Secret) String() string {
	if s.Env != "" {
		return "env:" + s.Env
	}
	return "file:" + s.File
}
