package compose

import (
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
)

// command is what the checks read from a command's Go source: the package
// in the directory and every package of this module it imports.
type command struct {
	dir    string // repository-relative
	isMain bool
	// envNames are the environment variable names the code can read: string
	// literals that are exactly an UPPER_CASE name (os.Getenv("X"),
	// envconf.String(&v, "X"), {&c.F, "X"} in a table a loop reads), and
	// the env=NAME options of struct tags (go-zero's). A name that only
	// appears inside a longer text, such as an error message, is not one.
	envNames map[string]bool
	// tagDefaults are the defaults of the struct fields go-zero fills from
	// a variable, by variable: `json:",default=V,env=NAME"`.
	tagDefaults map[string]string
	calls       []call   // calls with at least one string literal argument
	scanned     []string // package directories read, for messages
}

// call is a function call; args[i] is nil where the argument is not a
// string literal.
type call struct {
	dir  string // the package directory it is in
	fun  string // the called name, without package or receiver
	args []*string
}

var (
	envName = regexp.MustCompile(`^(?:[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]{2,}[A-Z0-9]*)$`)
	envTag  = regexp.MustCompile(`(?:^|[,"])env=([A-Za-z_][A-Za-z0-9_]*)`)
)

// readCommand reads the command in dir (relative to root) and the packages
// of module it imports.
func readCommand(root, module, dir string) (*command, error) {
	c := &command{dir: dir, envNames: map[string]bool{}, tagDefaults: map[string]string{}}
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
			if err := c.readFile(rel, filepath.Join(pkg.Dir, name)); err != nil {
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

func (c *command) readFile(rel, path string) error {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		return err
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BasicLit:
			if s, ok := stringLit(n); ok && envName.MatchString(s) {
				c.envNames[s] = true
			}
		case *ast.Field:
			if n.Tag != nil {
				if tag, ok := stringLit(n.Tag); ok {
					for _, m := range envTag.FindAllStringSubmatch(tag, -1) {
						c.envNames[m[1]] = true
					}
					if name, def, ok := tagDefault(tag); ok {
						c.tagDefaults[name] = def
					}
				}
			}
		case *ast.CallExpr:
			cl := call{dir: rel, fun: funName(n.Fun)}
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

// tagDefault reads a go-zero field tag: the variable of its env= option and
// the value of its default= option, when it has both.
func tagDefault(tag string) (name, def string, ok bool) {
	var hasName, hasDef bool
	for _, opt := range strings.Split(reflect.StructTag(tag).Get("json"), ",") {
		if v, found := strings.CutPrefix(opt, "env="); found {
			name, hasName = v, true
		}
		if v, found := strings.CutPrefix(opt, "default="); found {
			def, hasDef = v, true
		}
	}
	return name, def, hasName && hasDef
}

// envDefault is what the code uses when variable name is unset: the
// default of an f("NAME", "default", …) lookup, else of a go-zero field
// with env=NAME.
func (c *command) envDefault(name string) (string, bool) {
	if def, ok := c.defaultOf(name); ok {
		return def, true
	}
	def, ok := c.tagDefaults[name]
	return def, ok
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

// serves says whether the command's code registers an HTTP handler for
// GET path: HandleFunc or Handle with the pattern "GET /path" or "/path".
func (c *command) serves(path string) bool {
	for _, cl := range c.calls {
		if (cl.fun != "HandleFunc" && cl.fun != "Handle") || len(cl.args) == 0 || cl.args[0] == nil {
			continue
		}
		pattern := *cl.args[0]
		if method, rest, ok := strings.Cut(pattern, " "); ok {
			if method != "GET" {
				continue
			}
			pattern = strings.TrimSpace(rest)
		}
		if pattern == path {
			return true
		}
	}
	return false
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

// flagDecl finds the command's own declaration of flag name
// (flag.String("name", default, …), flag.StringVar(&v, "name", default, …)
// and the like) and returns its default when that is a literal.
func (c *command) flagDecl(name string) (def string, literal, declared bool) {
	for _, cl := range c.calls {
		if cl.dir != c.dir {
			continue
		}
		if d, ok := cl.declaresFlag(name); ok {
			if d != nil {
				return *d, true, true
			}
			return "", false, true
		}
	}
	return "", false, false
}

// declaresFlag says whether the command or a package of this module it
// imports (internal/schema's AddFlags) declares flag name.
func (c *command) declaresFlag(name string) bool {
	for _, cl := range c.calls {
		if _, ok := cl.declaresFlag(name); ok {
			return true
		}
	}
	return false
}

// declaresFlag says whether cl declares flag name, and gives its default
// where that is a literal.
func (cl call) declaresFlag(name string) (def *string, ok bool) {
	i := 0
	if strings.HasSuffix(cl.fun, "Var") {
		i = 1
	}
	switch strings.TrimSuffix(cl.fun, "Var") {
	case "String", "Bool", "Int", "Int64", "Uint", "Duration", "Float64":
	default:
		return nil, false
	}
	if len(cl.args) < i+2 || cl.args[i] == nil || *cl.args[i] != name {
		return nil, false
	}
	return cl.args[i+1], true
}

// envFile is one variable of the environment internal/suite's secureEnv
// gives a process: NAME=c.Field, c being devcerts.Conf(dir, identity).
type envFile struct{ name, field string }

// readSecureEnv reads, from the source of package dir (internal/suite),
// what the local stack and the tests give each process for TLS: its
// identity (the identities map: process → certificate name) and the
// variables secureEnv sets from that certificate's files. The package is
// read rather than called because both are unexported.
func readSecureEnv(dir string) (map[string]string, []envFile, error) {
	pkg, err := build.ImportDir(dir, 0)
	if err != nil {
		return nil, nil, err
	}
	ids := map[string]string{}
	var env []envFile
	var odd []string // items of secureEnv's result readSecureEnv cannot read
	for _, name := range pkg.GoFiles {
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, nil, err
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					vs, ok := spec.(*ast.ValueSpec)
					if !ok || len(vs.Names) != 1 || vs.Names[0].Name != "identities" || len(vs.Values) != 1 {
						continue
					}
					lit, ok := vs.Values[0].(*ast.CompositeLit)
					if !ok {
						return nil, nil, fmt.Errorf("%s: identities is not a map literal", name)
					}
					for _, e := range lit.Elts {
						var k, v string
						kv, ok := e.(*ast.KeyValueExpr)
						if ok {
							k, ok = exprLit(kv.Key)
						}
						if ok {
							v, ok = exprLit(kv.Value)
						}
						if !ok {
							return nil, nil, fmt.Errorf("%s: identities: an entry that is not \"process\": \"identity\"", name)
						}
						ids[k] = v
					}
				}
			case *ast.FuncDecl:
				if d.Name.Name != "secureEnv" || d.Body == nil {
					continue
				}
				ast.Inspect(d.Body, func(n ast.Node) bool {
					ret, ok := n.(*ast.ReturnStmt)
					if !ok || len(ret.Results) != 1 {
						return true
					}
					lit, ok := ret.Results[0].(*ast.CompositeLit)
					if !ok {
						return true
					}
					for _, e := range lit.Elts {
						var s string
						var sel *ast.SelectorExpr
						b, ok := e.(*ast.BinaryExpr)
						if ok && b.Op == token.ADD {
							s, ok = exprLit(b.X)
							sel, _ = b.Y.(*ast.SelectorExpr)
						}
						if !ok || sel == nil || !strings.HasSuffix(s, "=") {
							odd = append(odd, fmt.Sprintf("%T", e))
							continue
						}
						env = append(env, envFile{name: strings.TrimSuffix(s, "="), field: sel.Sel.Name})
					}
					return true
				})
			}
		}
	}
	switch {
	case len(ids) == 0:
		return nil, nil, fmt.Errorf("%s: no identities map literal (process → certificate)", dir)
	case len(odd) > 0:
		return nil, nil, fmt.Errorf("%s: secureEnv returns items other than \"NAME=\" + c.Field (%v): teach readSecureEnv", dir, odd)
	case len(env) == 0:
		return nil, nil, fmt.Errorf("%s: no secureEnv returning []string{\"NAME=\" + c.Field, …}", dir)
	}
	return ids, env, nil
}

// exprLit is the value of e when e is a string literal.
func exprLit(e ast.Expr) (string, bool) {
	if l, ok := e.(*ast.BasicLit); ok {
		return stringLit(l)
	}
	return "", false
}
