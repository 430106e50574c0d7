package table

import (
	"os"
	"path/filepath"
	"strings"
)

// ConfigFiles returns the files that make up the configuration in dir:
// every entry of dir (not of its subdirectories) whose
// name ends in ".cue" and does not begin with "." or "_" (hidden files,
// editor backups such as ".#a.cue"; the cue command ignores both too). The
// paths are dir joined with the base name, sorted by name. A directory with
// no such file gives an empty list; only a directory that cannot be read
// gives an error. (In a Kubernetes volume, Compile reads the files of the
// generation its ..data link leads to, once: see compiler.configPaths.)
func ConfigFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && IsConfigFile(e.Name()) {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	return files, nil
}

// IsConfigFile reports whether a file of this name (a base name) is part
// of a configuration: it ends in ".cue" and does not begin with "." or "_".
func IsConfigFile(name string) bool {
	return strings.HasSuffix(name, ".cue") && name[0] != '.' && name[0] != '_'
}

// MaxConfigFileBytes bounds one configuration file. Hand-written
// configuration is far smaller; a larger file is a mistake (a generated
// dump, a log renamed .cue) that would only cost the compile its budget.
const MaxConfigFileBytes = 4 << 20
