package node

import (
	"crypto/sha256"
	"encoding/binary"

	"github.com/cuegate/cuegate/compiler/table"
)

// inputs is the digest of the files a reload reads: the .cue files of the
// configuration directory (what a compile reads) and the files a table
// names (what a reload of it serves with, table.WatchedFiles). A zero part
// is one that could not be taken.
type inputs struct{ cue, named [sha256.Size]byte }

// cueInputs digests the .cue files of dir (table.ConfigFiles); false when
// the directory cannot be listed.
func cueInputs(dir string) ([sha256.Size]byte, bool) {
	files, err := table.ConfigFiles(dir)
	if err != nil {
		return [sha256.Size]byte{}, false
	}
	return digestFiles(files), true
}

// namedInputs digests the files t names, relative to dir.
func namedInputs(dir string, t *table.Table) [sha256.Size]byte {
	var files []string
	for _, name := range t.WatchedFiles() {
		files = append(files, table.ConfigPath(dir, name))
	}
	return digestFiles(files)
}

// digestFiles is the SHA-256 of files, each by its path and contents (at
// most table.MaxConfigFileBytes; a file that cannot be read counts as
// empty).
func digestFiles(files []string) (sum [sha256.Size]byte) {
	h := sha256.New()
	for _, f := range files {
		b, _ := table.ReadFile(f, table.MaxConfigFileBytes)
		h.Write(binary.AppendUvarint(nil, uint64(len(f))))
		h.Write([]byte(f))
		h.Write(binary.AppendUvarint(nil, uint64(len(b))))
		h.Write(b)
	}
	h.Sum(sum[:0])
	return sum
}
