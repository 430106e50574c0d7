package compiler

import (
	"os"
	"path/filepath"
	"reflect"

	"github.com/cuegate/cuegate/schema"
)

// secretFiles lists the files raw reads secrets from: the file of every
// #Secret reference and the certificate and key of every TLS pair, as
// written (a relative name is relative to the configuration directory).
// It walks the whole configuration, so a secret the schema gains later
// is covered without a change here.
func secretFiles(raw *schema.Config) []string {
	var files []string
	walkConfig(raw, func(_ fieldPath, v reflect.Value) bool {
		if v.Kind() != reflect.Struct {
			return true
		}
		switch s := v.Interface().(type) {
		case schema.Secret:
			files = append(files, s.File)
			return false
		case schema.TLS:
			files = append(files, s.Cert_file, s.Key_file)
			return false
		}
		return true
	})
	return files
}

// isSecretFile reports whether name (a relative path inside the
// configuration directory, whose FileInfo is fi) is one of
// c.secretFiles, by name or as the same file (through links).
func (c *compilation) isSecretFile(name string, fi os.FileInfo) bool {
	path := filepath.Join(c.dir, name)
	for _, f := range c.secretFiles {
		if f == "" {
			continue
		}
		if !filepath.IsAbs(f) {
			f = filepath.Join(c.dir, f)
		}
		if f == path {
			return true
		}
		if sfi, err := os.Stat(f); err == nil && os.SameFile(fi, sfi) {
			return true
		}
	}
	return false
}
