package demo

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
)

// override is the CUE file the demo adds to its copy of the quickstart:
// it moves every listener to the addresses chosen by flags.
const override = `// Written by cuegate demo: the addresses chosen by its flags.
package %s

_addr: {
	idp:  %q
	echo: %q
}

gateway: {
	listen:        %q
	portal_listen: %q
	admin_listen:  %q
}
`

// cuePackage finds a CUE file's package clause.
var cuePackage = regexp.MustCompile(`(?m)^package\s+([A-Za-z_][A-Za-z0-9_]*)`)

// writeConfig copies the CUE files of src into dst, creating dst, and adds
// the file that sets the addresses a.
func writeConfig(dst string, src fs.FS, a Addrs) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	files, err := fs.Glob(src, "*.cue")
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return errors.New("the configuration directory has no .cue files")
	}
	var first []byte
	for _, f := range files {
		b, err := fs.ReadFile(src, f)
		if err != nil {
			return err
		}
		if first == nil {
			first = b
		}
		if err := os.WriteFile(filepath.Join(dst, f), b, 0o644); err != nil {
			return err
		}
	}
	pkg := "quickstart"
	if m := cuePackage.FindSubmatch(first); m != nil {
		pkg = string(m[1])
	}
	file := fmt.Sprintf(override, pkg, a.IdP, a.Echo, a.Gateway, a.Portal, a.Admin)
	return os.WriteFile(filepath.Join(dst, "zz_demo_addresses.cue"), []byte(file), 0o644)
}
