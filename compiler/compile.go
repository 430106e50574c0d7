// Package compiler turns a directory of CUE files into an immutable Table.
//
// It is the only package that imports CUE. Compile applies the embedded
// schema (package schema), decodes the result into plain Go types, checks
// what the schema cannot say (cross-references, route conflicts), and
// reports every problem at once as file:line:col diagnostics pointing into
// the user's files.
package compiler

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"

	"github.com/cuegate/cuegate/schema"
)

// Compile reads every .cue file in dir (one package, not recursive) and
// returns the compiled Table. A configuration with mistakes gives
// Diagnostics (errors.Is(err, ErrInvalid)) listing all of them; a directory
// that cannot be read gives an I/O error. Warnings are in Table.Warnings.
//
// Compile is safe to call concurrently; each call uses its own CUE context.
func Compile(dir string) (*Table, error) {
	files, err := readDir(dir)
	if err != nil {
		return nil, err
	}
	c := &compilation{dir: dir}
	t := c.run(files)
	if len(c.errs) > 0 {
		return nil, c.errs.sorted()
	}
	t.Warnings = c.warns.sorted()
	t.seal()
	return t, nil
}

type sourceFile struct {
	name string // base name
	src  []byte
}

func readDir(dir string) ([]sourceFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", dir, err)
	}
	var files []sourceFile
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".cue") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		src, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("compile %s: %w", dir, err)
		}
		files = append(files, sourceFile{e.Name(), src})
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("compile %s: no .cue files", dir)
	}
	return files, nil
}

// compilation collects the diagnostics of one Compile call.
type compilation struct {
	dir   string
	errs  Diagnostics
	warns Diagnostics
	user  cue.Value // the user's package, before the schema
	full  cue.Value // the user's package unified with #Config
}

func (c *compilation) run(files []sourceFile) *Table {
	parsed := c.parse(files)
	if len(c.errs) > 0 {
		return nil
	}
	ctx := cuecontext.New()
	inst := build.NewContext().NewInstance(c.dir, nil)
	for _, f := range parsed {
		if err := inst.AddSyntax(f); err != nil {
			c.cueError(err)
		}
	}
	if len(c.errs) > 0 {
		return nil
	}
	c.user = ctx.BuildInstance(inst)
	if err := c.user.Err(); err != nil {
		c.cueError(err)
		return nil
	}
	def := ctx.CompileString(schema.Source, cue.Filename(schema.Filename)).LookupPath(cue.ParsePath("#Config"))
	if err := def.Err(); err != nil {
		panic("compiler: embedded schema does not compile: " + err.Error())
	}
	c.full = def.Unify(c.user)
	if err := c.full.Validate(cue.Concrete(true), cue.Final()); err != nil {
		c.cueError(err)
		return nil
	}
	var raw rawConfig
	if err := c.full.Decode(&raw); err != nil {
		c.cueError(err)
		return nil
	}
	return c.build(&raw)
}

// parse parses every file and checks that they form one package: CUE
// would otherwise skip a file of another package without a word.
func (c *compilation) parse(files []sourceFile) []*ast.File {
	var parsed []*ast.File
	count := map[string]int{}
	for _, f := range files {
		af, err := parser.ParseFile(filepath.Join(c.dir, f.name), f.src, parser.ParseComments)
		if err != nil {
			c.cueError(err)
			continue
		}
		parsed = append(parsed, af)
		count[af.PackageName()]++
	}
	// The package is the one most files declare (ties: the first by name).
	pkg, best := "", -1
	names := make([]string, 0, len(count))
	for n := range count {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if n != "" && count[n] > best {
			pkg, best = n, count[n]
		}
	}
	for _, af := range parsed {
		switch name := af.PackageName(); {
		case name == "":
			c.errorAt(token.NoPos, af.Filename, "file has no package clause: every .cue file in %s must declare package %s", c.dir, orDefault(pkg, "<name>"))
		case name != pkg:
			var pos token.Pos
			if p := af.Preamble(); len(p) > 0 {
				pos = p[len(p)-1].Pos()
			}
			c.errorAt(pos, af.Filename, "file is in package %s, but the configuration is package %s: all .cue files in %s must be one package", name, pkg, c.dir)
		}
	}
	return parsed
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// cueError turns a CUE error into diagnostics, one for each error it holds,
// each placed in the user's files.
func (c *compilation) cueError(err error) {
	for _, e := range cueerrors.Errors(err) {
		format, args := e.Msg()
		msg := fmt.Sprintf(format, args...)
		if path := e.Path(); len(path) > 0 {
			msg = strings.Join(path, ".") + ": " + msg
		}
		c.errs = append(c.errs, c.diag(c.userPos(e), msg))
	}
}

// userPos finds the position in the user's files that an error is about.
// CUE often reports only the schema's position for a schema constraint that
// fails (or for a field the schema does not allow); then the error's path
// is walked back in the user's value to the nearest field that has one.
func (c *compilation) userPos(e cueerrors.Error) token.Pos {
	for _, p := range cueerrors.Positions(e) {
		if c.isUserFile(p) {
			return p
		}
	}
	path := e.Path()
	for n := len(path); n > 0 && c.user.Exists(); n-- {
		sels := make([]cue.Selector, n)
		for i, s := range path[:n] {
			sels[i] = selector(s)
		}
		if p := c.user.LookupPath(cue.MakePath(sels...)).Pos(); c.isUserFile(p) {
			return p
		}
	}
	return token.NoPos
}

func selector(s string) cue.Selector {
	if strings.HasPrefix(s, "#") {
		return cue.Def(s)
	}
	if sel := cue.ParsePath(s).Selectors(); len(sel) == 1 {
		return sel[0]
	}
	return cue.Str(s)
}

func (c *compilation) isUserFile(p token.Pos) bool {
	return p.IsValid() && p.Filename() != "" && p.Filename() != schema.Filename
}

// diag makes a diagnostic at p; file names are reported as dir/base, as
// the user named the directory.
func (c *compilation) diag(p token.Pos, msg string) Diagnostic {
	if !p.IsValid() {
		return Diagnostic{Message: msg}
	}
	return Diagnostic{File: filepath.Join(c.dir, filepath.Base(p.Filename())), Line: p.Line(), Column: p.Column(), Message: msg}
}

func (c *compilation) errorAt(p token.Pos, file, format string, args ...any) {
	d := c.diag(p, fmt.Sprintf(format, args...))
	if !p.IsValid() && file != "" {
		d.File, d.Line, d.Column = filepath.Join(c.dir, filepath.Base(file)), 1, 1
	}
	c.errs = append(c.errs, d)
}

// at returns the position of the field at path in the user's files.
func (c *compilation) at(path ...string) token.Pos {
	sels := make([]cue.Selector, len(path))
	for i, s := range path {
		sels[i] = cue.Str(s)
	}
	for n := len(sels); n > 0; n-- {
		if p := c.user.LookupPath(cue.MakePath(sels[:n]...)).Pos(); c.isUserFile(p) {
			return p
		}
	}
	return token.NoPos
}

// errorf records an error about the field at path.
func (c *compilation) errorf(path []string, format string, args ...any) {
	c.errs = append(c.errs, c.diag(c.at(path...), strings.Join(path, ".")+": "+fmt.Sprintf(format, args...)))
}

// warnf records a warning about the field at path.
func (c *compilation) warnf(path []string, format string, args ...any) {
	c.warns = append(c.warns, c.diag(c.at(path...), strings.Join(path, ".")+": "+fmt.Sprintf(format, args...)))
}

// p builds a field path.
func p(parts ...string) []string { return parts }
