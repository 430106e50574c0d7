// Package compiler turns a directory of CUE files into an immutable Table.
//
// It is the only package that imports CUE. Compile applies the embedded
// schema (package schema), decodes the result into plain Go types, checks
// what the schema cannot say (cross-references, route conflicts), and
// reports every problem at once as file:line:col diagnostics pointing into
// the user's files.
package compiler

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/schema"
)

// Compile reads the .cue files of dir that ConfigFiles lists (one package) and
// returns the compiled Table. A configuration with mistakes gives
// Diagnostics (errors.Is(err, ErrInvalid)) listing all of them; a directory
// that cannot be read gives an I/O error. Warnings are in Table.Warnings.
//
// Compile is safe to call concurrently; each call uses its own CUE context.
func Compile(dir string) (*table.Table, error) {
	files, err := readDir(dir)
	if err != nil {
		return nil, err
	}
	c := &compilation{dir: dir}
	t := c.run(files)
	c.redact(c.errs)
	c.redact(c.warns)
	if len(c.errs) > 0 {
		return nil, c.errs.Sorted()
	}
	t.Warnings = c.warns.Sorted()
	t.Seal()
	return t, nil
}

type sourceFile struct {
	name string // base name
	src  []byte
}

// readDir reads the configuration files of dir, those linked through a
// Kubernetes "..data" link of one generation (see configPaths).
func readDir(dir string) ([]sourceFile, error) {
	paths, err := configPaths(dir)
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", dir, err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("compile %s: no .cue files", dir)
	}
	files := make([]sourceFile, len(paths))
	for i, p := range paths {
		src, err := readSource(p)
		if err != nil {
			return nil, fmt.Errorf("compile %s: %w", dir, err)
		}
		files[i] = sourceFile{filepath.Base(p), src}
	}
	return files, nil
}

// configPaths returns the paths to read the configuration files of dir
// (table.ConfigFiles) from, sorted by name. In a Kubernetes ConfigMap or
// Secret volume, each file is a link "..data/<name>", and "..data" a link
// the kubelet swaps to a new sibling directory ("..2026_12_07_…") for
// each update, adding the links of new files after the swap: such a file
// is read from the directory "..data" leads to when configPaths resolves
// it, once, with the files there that have no link yet, and left out
// when it is not there. Files read through their links one by one could
// mix two generations, or miss one. Other files are read as they are. A
// directory is such a volume only when a file of it is such a link: a
// "..data" committed to a repository beside plain files reads nothing
// that a reviewer of the files the names show would not see.
func configPaths(dir string) ([]string, error) {
	paths, err := table.ConfigFiles(dir)
	if err != nil {
		return nil, err
	}
	data := generation(dir)
	if data == "" {
		return paths, nil
	}
	var plain []string // the files not linked through "..data"
	for _, p := range paths {
		if !linkedThroughData(p) {
			plain = append(plain, p)
		}
	}
	if len(plain) == len(paths) {
		return paths, nil
	}
	inData, err := table.ConfigFiles(data)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]string, len(plain)+len(inData))
	for _, p := range inData {
		byName[filepath.Base(p)] = p
	}
	for _, p := range plain { // a linked file is in data's generation, or removed by it
		byName[filepath.Base(p)] = p
	}
	out := make([]string, 0, len(byName))
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		out = append(out, byName[name])
	}
	return out, nil
}

// linkedThroughData reports whether the file at p is a link
// "..data/<its name>", as the kubelet makes.
func linkedThroughData(p string) bool {
	to, err := os.Readlink(p)
	return err == nil && to == "..data/"+filepath.Base(p)
}

// generation returns the directory dir's "..data" link leads to when it
// is the kubelet's: a sibling whose name begins with "..". It returns ""
// for none, or for a "..data" link of another form, which is not read.
func generation(dir string) string {
	target, err := os.Readlink(filepath.Join(dir, "..data"))
	if err != nil || !strings.HasPrefix(target, "..") || target == ".." || strings.ContainsAny(target, `/\`) {
		return ""
	}
	target = filepath.Join(dir, target)
	if fi, err := os.Lstat(target); err != nil || !fi.IsDir() {
		return ""
	}
	return target
}

// readSource reads one configuration file, which must be a regular file
// (through symlinks: a ConfigMap mounts its files as links) of at most
// table.MaxConfigFileBytes. A named pipe, device or socket that ends in
// .cue is refused before it is read, so it cannot block or feed the
// compile without end.
func readSource(path string) ([]byte, error) {
	src, err := table.ReadFile(path, table.MaxConfigFileBytes)
	if notRegular, ok := errors.AsType[*table.ErrNotRegular](err); ok {
		return nil, fmt.Errorf("%s %v: a configuration file must be one", path, notRegular)
	}
	if _, ok := errors.AsType[*table.ErrTooLarge](err); ok {
		return nil, fmt.Errorf("%s is larger than %d MiB: a configuration file must be smaller", path, table.MaxConfigFileBytes>>20)
	}
	return src, err
}

// compilation collects the diagnostics of one Compile call.
type compilation struct {
	dir   string
	errs  table.Diagnostics
	warns table.Diagnostics
	user  cue.Value // the user's package, before the schema
	// reported holds the fields the schema reported, and those a check
	// refused whose value no other finding may quote
	// (checkURLCredentials): the compiler's own checks stay silent about
	// them (see errorf).
	reported []fieldPath
	first    string // the first file, where a finding without position goes
	// secrets are the literals at the user's #Secret positions, which
	// no diagnostic shows (see redact).
	secrets secretValues
	// secretFiles are the files the configuration reads secrets from
	// (see secretFiles), which no OpenAPI document may be.
	secretFiles []string
	// documents are the OpenAPI documents compiled so far, by name.
	documents map[string]document
}

// run compiles the parsed files. Files that do not parse or are of
// another package stop it after every file has been parsed; otherwise the
// schema is applied (see decoder) and the compiler's checks run on every
// value that is valid, so one run reports the schema's findings and the
// cross-reference findings together.
func (c *compilation) run(files []sourceFile) *table.Table {
	c.first = filepath.Join(c.dir, files[0].name)
	parsed := c.parse(files)
	if len(c.errs) > 0 {
		return nil
	}
	ctx := cuecontext.New()
	inst := build.NewContext().NewInstance(c.dir, nil)
	for _, f := range parsed {
		if err := inst.AddSyntax(f); err != nil {
			c.cueError(err, nil)
		}
	}
	if len(c.errs) > 0 {
		return nil
	}
	c.user = ctx.BuildInstance(inst)
	c.secrets = secretLiterals(c.user, parsed, configShape())
	schemaFile, config := compileSchema(ctx)
	var d decoder
	tree := d.config(c.user, config, configShape())
	c.report(&d, schemaFile)
	if _, ok := tree.(map[string]any); !ok {
		return nil // nothing valid to check further
	}
	var raw schema.Config
	if err := json.Unmarshal(encode(tree), &raw); err != nil && len(c.errs) == 0 {
		// The schema and its generated types disagree: a bug, not the
		// user's mistake.
		c.errs = append(c.errs, c.diag(token.NoPos, "compiler: internal error: "+err.Error()))
		return nil
	}
	return c.build(&raw)
}

// compileSchema compiles the embedded schema in ctx and returns it with
// its #Config.
func compileSchema(ctx *cue.Context) (file, config cue.Value) {
	file = ctx.CompileString(schema.Source, cue.Filename(schema.Filename))
	config = file.LookupPath(cue.MakePath(cue.Def("#Config")))
	if err := config.Err(); err != nil {
		panic("compiler: embedded schema does not compile: " + err.Error())
	}
	return file, config
}

// configShape is the shape of the schema's #Config. It depends on the
// embedded schema alone, so it is derived once per process, in a CUE
// context of its own, rather than on every Compile; it is only read after.
var configShape = sync.OnceValue(func() *shape {
	file, config := compileSchema(cuecontext.New())
	return shapeOf(config, file.LookupPath(cue.MakePath(cue.Def("#Secret"))))
})

// parse parses every file and checks that they form one package: CUE
// would otherwise skip a file of another package without a word.
func (c *compilation) parse(files []sourceFile) []*ast.File {
	var parsed []*ast.File
	count := map[string]int{}
	for _, f := range files {
		af, err := parser.ParseFile(filepath.Join(c.dir, f.name), f.src)
		if err != nil {
			c.cueError(err, f.src)
			continue
		}
		parsed = append(parsed, af)
		count[af.PackageName()]++
	}
	// The package is the one most files declare (ties: the first by name).
	pkg, best := "", -1
	for _, n := range sortedKeys(count) {
		if n != "" && count[n] > best {
			pkg, best = n, count[n]
		}
	}
	for _, af := range parsed {
		switch name := af.PackageName(); {
		case name == "":
			c.errorAt(token.NoPos, af.Filename, "file has no package clause: every .cue file of a configuration declares its package (package %s)", cmp.Or(pkg, "<name>"))
		case name != pkg:
			var pos token.Pos
			if p := af.Preamble(); len(p) > 0 {
				pos = p[len(p)-1].Pos()
			}
			c.errorAt(pos, af.Filename, "file is in package %s, but the configuration is package %s: all .cue files of a configuration must be one package", name, pkg)
		}
	}
	return parsed
}

// cueError reports an error that CUE raised before the schema applies: a
// syntax error in src (the text of the file it is about), a file it
// cannot add to the instance (src nil). A message's argument that is
// text of src is shown as "…": a syntax error repeats nothing a file
// holds, so a .cue file that is no CUE at all (a link to a secret) is
// not shown in the findings.
func (c *compilation) cueError(err error, src []byte) {
	for _, e := range cueerrors.Errors(err) {
		c.errs = append(c.errs, c.diag(c.userPos(e), QuotingNothing(e, src)))
	}
}

// QuotingNothing is e's message, for a syntax error in src (the text of
// the file it is about), with no text of src in it: an argument that is
// text of src is shown as "…", and a message about a character (the
// scanner's "illegal character U+0025 '%'") says only that there is one.
// Whatever shows a syntax error of a configuration file shows this, so
// that a .cue link to a secret's file is never spelled out.
func QuotingNothing(e cueerrors.Error, src []byte) string {
	format, args := e.Msg()
	args = slices.Clone(args)
	for i, a := range args {
		switch a := a.(type) {
		case rune:
			return "a character CUE does not allow here"
		case string:
			if a != "" && bytes.Contains(src, []byte(a)) {
				args[i] = "…"
			}
		}
	}
	return fmt.Sprintf(format, args...)
}

// userPos is the first position in the user's files that e names, or
// token.NoPos.
func (c *compilation) userPos(e cueerrors.Error) token.Pos {
	for _, p := range cueerrors.Positions(e) {
		if c.isUserFile(p) {
			return p
		}
	}
	return token.NoPos
}

func (c *compilation) isUserFile(p token.Pos) bool {
	return p.IsValid() && p.Filename() != "" && p.Filename() != schema.Filename
}

// diag makes a diagnostic at pos; file names are reported as dir/base,
// as the user named the directory. A finding without a position is put at
// the start of the first file, so that every diagnostic has one.
func (c *compilation) diag(pos token.Pos, msg string) table.Diagnostic {
	if !pos.IsValid() {
		return table.Diagnostic{File: c.first, Line: 1, Column: 1, Message: msg}
	}
	return table.Diagnostic{File: filepath.Join(c.dir, filepath.Base(pos.Filename())), Line: pos.Line(), Column: pos.Column(), Message: msg}
}

// at returns the position of the field at path in the user's files, or of
// the nearest enclosing field that has one.
func (c *compilation) at(q fieldPath) token.Pos {
	for n := len(q); n > 0; n-- {
		if pos := c.user.LookupPath(cue.MakePath(q[:n]...)).Pos(); c.isUserFile(pos) {
			return pos
		}
	}
	return token.NoPos
}

// where is the position of the field at q as file:line:col.
func (c *compilation) where(q fieldPath) string {
	return c.posString(c.at(q))
}

// posString is pos as file:line:col, named as diagnostics name it.
func (c *compilation) posString(pos token.Pos) string {
	d := c.diag(pos, "")
	return fmt.Sprintf("%s:%d:%d", d.File, d.Line, d.Column)
}

// broken reports whether the schema reported a field on q's line: q
// itself, a field inside it or a field it is inside.
func (c *compilation) broken(q fieldPath) bool {
	for _, r := range c.reported {
		if r.related(q) {
			return true
		}
	}
	return false
}

// errorf records an error about the field at q, unless the schema already
// reported it: a field in error is left out of what the checks see, and
// the check would only repeat the schema's finding in other words.
func (c *compilation) errorf(q fieldPath, format string, args ...any) {
	if !c.broken(q) {
		c.errs = append(c.errs, c.diag(c.at(q), q.String()+": "+fmt.Sprintf(format, args...)))
	}
}

// warnf records a warning about the field at q.
func (c *compilation) warnf(q fieldPath, format string, args ...any) {
	c.warns = append(c.warns, c.diag(c.at(q), q.String()+": "+fmt.Sprintf(format, args...)))
}

// errorAt records an error at pos in file, at its start when pos is not
// valid.
func (c *compilation) errorAt(pos token.Pos, file, format string, args ...any) {
	d := c.diag(pos, fmt.Sprintf(format, args...))
	if !pos.IsValid() {
		d.File = filepath.Join(c.dir, filepath.Base(file))
	}
	c.errs = append(c.errs, d)
}
