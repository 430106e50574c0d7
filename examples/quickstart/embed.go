// Package quickstart embeds the quickstart configuration, so that
// `cuegate demo` runs it from any directory.
package quickstart

import "embed"

// Files holds the quickstart's CUE files.
//
//go:embed *.cue
var Files embed.FS
