package compose

import (
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// command is what the checks read from a command's Go source: the package
// in the directory and every package of this module it imports.
type command struct {
	dir     string // repository-relative
	isMain  bool
	words   map[string]bool // UPPER_CASE words in string literals and struct tags
	calls   []call          // calls with at least one string literal argument
	scanned []string        // package directories read, for messages
}

// call is a function call; args[i] is nil where the argument is not a
// string literal.
type call struct {
	fun  string // the called name, without package or receiver
	args []*string
}

var upperWord = regexp.MustCompile(`[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]{2,}[A-Z0-9]*`)

// readCommand reads the command in dir (relative to root) and the packages
// of module it imports.
func readCommand(root, module, dir string) (*command, error) {
	c := &command{dir: dir, words: map[string]bool{}}
	seen := map[string]bool{}
	var visit func(rel string) error
	visit = func(rel string) error {
		if seen[rel] {
			return nil
		}
		seen[rel] = true
		pkg, err := build.ImportDir(filepath.Join(root, rel), 0)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		if rel == dir {
			c.isMain = pkg.Name == "main"
		}
		c.scanned = append(c.scanned, rel)
		for _, name := range pkg.GoFiles {
			if err := c.readFile(filepath.Join(pkg.Dir, name)); err != nil {
				return err
			}
		}
		for _, imp := range pkg.Imports {
			if sub, ok := strings.CutPrefix(imp, module+"/"); ok {
				if err := visit(sub); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return c, visit(dir)
}

func (c *command) readFile(path string) error {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		return err
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BasicLit:
			if s, ok := stringLit(n); ok {
				for _, w := range upperWord.FindAllString(s, -1) {
					c.words[w] = true
				}
			}
		case *ast.CallExpr:
			cl := call{fun: funName(n.Fun)}
			hasLit := false
			for _, a := range n.Args {
				var arg *string
				if lit, ok := a.(*ast.BasicLit); ok {
					if s, ok := stringLit(lit); ok {
						arg, hasLit = &s, true
					}
				}
				cl.args = append(cl.args, arg)
			}
			if hasLit && cl.fun != "" {
				c.calls = append(c.calls, cl)
			}
		}
		return true
	})
	return nil
}

func stringLit(l *ast.BasicLit) (string, bool) {
	if l.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(l.Value)
	return s, err == nil
}

func funName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return e.Sel.Name
	}
	return ""
}

// defaultOf finds f("NAME", "default", …) — an environment or flag lookup
// with a default — and returns the default.
func (c *command) defaultOf(name string) (string, bool) {
	for _, cl := range c.calls {
		if len(cl.args) >= 2 && cl.args[0] != nil && *cl.args[0] == name && cl.args[1] != nil {
			return *cl.args[1], true
		}
	}
	return "", false
}

// configFlag finds the flag that names the command's YAML config:
// flag.String("f", "user/etc/user.yaml", …) gives "f" and the path.
func (c *command) configFlag() (name, path string, ok bool) {
	for _, cl := range c.calls {
		if cl.fun == "String" && len(cl.args) >= 2 && cl.args[0] != nil && cl.args[1] != nil &&
			strings.HasSuffix(*cl.args[1], ".yaml") {
			return *cl.args[0], *cl.args[1], true
		}
	}
	return "", "", false
}

// lastLiteralArg returns the literal last argument of calls to fun.
func (c *command) lastLiteralArg(fun string) []string {
	var out []string
	for _, cl := range c.calls {
		if cl.fun == fun && len(cl.args) > 0 && cl.args[len(cl.args)-1] != nil {
			out = append(out, *cl.args[len(cl.args)-1])
		}
	}
	return out
}
