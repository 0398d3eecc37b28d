package targets

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/rpmirror/rpmirror"

// source is a parsed Go file.
type source struct {
	path string // relative to the module root
	*ast.File
}

// sources returns every non-test Go file of the module, parsed, by its
// directory relative to the module root.
func sources(t *testing.T) map[string][]source {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	files := map[string][]source{}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); p != root && (n == "testdata" || n == "vendor" || strings.HasPrefix(n, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		dir := filepath.ToSlash(filepath.Dir(rel))
		files[dir] = append(files[dir], source{path: rel, File: f})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files["target/local"]) == 0 || len(files["daemon"]) == 0 {
		t.Fatalf("found no sources of target/local or daemon under %s", root)
	}
	return files
}

// TestOnlyTargetsOpensLocal: a mirror is a directory only inside
// target/local; everything else opens a mirror through targets.Open from
// its configuration and reaches its files through target.Target.
func TestOnlyTargetsOpensLocal(t *testing.T) {
	allowed := []string{"target/local", "target/targets"}
	for dir, files := range sources(t) {
		if slices.Contains(allowed, dir) {
			continue
		}
		for _, f := range files {
			for _, imp := range f.Imports {
				if p, _ := strconv.Unquote(imp.Path.Value); p == module+"/target/local" {
					t.Errorf("%s imports target/local: open the mirror with targets.Open and use target.Target", f.path)
				}
			}
		}
	}
}

// TestNoMirrorFilesThroughOS: the packages that read mirrors but keep no
// files of their own call no os function that reads, lists or writes
// files; what they read of a mirror comes through target.Target (the
// daemon's staging of the lists goes through internal/safefs).
func TestNoMirrorFilesThroughOS(t *testing.T) {
	forbidden := []string{"Open", "OpenFile", "OpenRoot", "ReadFile", "ReadDir", "Stat", "Lstat", "Readlink",
		"WriteFile", "Create", "Rename", "Link", "Symlink", "Truncate", "Chmod", "Chtimes", "DirFS"}
	fsForbidden := []string{"Walk", "WalkDir", "Glob", "EvalSymlinks"}
	tests := []struct {
		dir   string
		allow []string // os functions the package may still call, on files that are not a mirror's
	}{
		{dir: "daemon"},
		// The engine stages downloads and metadata in its cache and the
		// index in state_dir, and reads them back (and looks whether a
		// cache path is free before a mirror exports a file to it:
		// Lstat); it never looks at a path of a mirror.
		{dir: "sync", allow: []string{"Open", "OpenFile", "ReadFile", "WriteFile", "Create", "Rename", "Link", "Truncate", "Chmod", "Chtimes", "Lstat"}},
		{dir: "snapshot"},
		{dir: "health"},
		{dir: "mirrorlist"},
		// The CLI writes the demo's configuration, key and dnf set-up
		// into the demo's work directory, and the CPU profile
		// RPMIRROR_CPUPROFILE names, never into a mirror.
		{dir: "cmd/rpmirror", allow: []string{"WriteFile", "Create"}},
	}
	files := sources(t)
	for _, tc := range tests {
		t.Run(tc.dir, func(t *testing.T) {
			if len(files[tc.dir]) == 0 {
				t.Fatalf("no sources in %s", tc.dir)
			}
			for _, f := range files[tc.dir] {
				names := map[string][]string{}
				for _, imp := range f.Imports {
					p, _ := strconv.Unquote(imp.Path.Value)
					name := filepath.Base(p)
					if imp.Name != nil {
						name = imp.Name.Name
					}
					switch p {
					case "os":
						names[name] = forbidden
					case "path/filepath":
						names[name] = fsForbidden
					}
				}
				ast.Inspect(f.File, func(n ast.Node) bool {
					sel, ok := n.(*ast.SelectorExpr)
					if !ok {
						return true
					}
					x, ok := sel.X.(*ast.Ident)
					if !ok {
						return true
					}
					if slices.Contains(names[x.Name], sel.Sel.Name) && !slices.Contains(tc.allow, sel.Sel.Name) {
						t.Errorf("%s calls %s.%s: reach a mirror's files through target.Target", f.path, x.Name, sel.Sel.Name)
					}
					return true
				})
			}
		})
	}
}
