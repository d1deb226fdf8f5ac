// Command admin builds DTM's dashboard (its admin UI) from the module source
// of the DTM version go.mod pins, into dtm/admin/dist, which dtm/dashboard.go
// embeds. The result is committed, like the generated gRPC code:
//
//	go run ./dev/admin          # make admin: rebuild dtm/admin/dist
//	go run ./dev/admin -check   # make check-admin: rebuild elsewhere, compare
//
// The DTM module holds the UI's whole source (admin/: Vite 3, Vue 3,
// ant-design-vue, package-lock.json) but only a placeholder of its output.
// The module cache is read-only, so admin/ is copied to a temporary
// directory, installed from its lockfile and built there:
//
//	npm ci --legacy-peer-deps --replace-registry-host=always --no-audit --no-fund
//	VITE_ADMIN_VERSION=<pinned version> npm run build
//
// --legacy-peer-deps: the lockfile pins @vitejs/plugin-vue 4 beside vite 3
// (upstream builds with yarn). --replace-registry-host=always: the lockfile
// names another registry host; this sends every download to the configured
// registry. VITE_ADMIN_VERSION is the version the UI shows in its header and
// compares with DTM's /api/dtmsvr/version.
//
// The check compares byte for byte. Two builds of the same source and
// lockfile, in different directories and at different times, gave identical
// files here (Node 20, npm 11): Vite names each asset by a hash of its
// content and writes no time or path into the output. If a rebuild differs,
// the lockfile or the DTM version changed, or the toolchain does not build
// the same bytes: the check lists each differing file with its size and hash.
//
// It is a Go program, not a shell script, because it reads the pinned
// version and source from the main module's build list (go list -m: tools/
// is another module) and compares trees file by file with a readable report.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// dtmModule is the module whose admin/ source is built.
const dtmModule = "github.com/dtm-labs/dtm"

func main() {
	check := flag.Bool("check", false, "rebuild into a temporary directory and compare with -out instead of replacing it")
	out := flag.String("out", "dtm/admin/dist", "the built dashboard, relative to the module root")
	flag.Parse()
	if err := run(*check, *out); err != nil {
		fmt.Fprintf(os.Stderr, "admin: %v\n", err)
		os.Exit(1)
	}
}

func run(check bool, out string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if !filepath.IsAbs(out) {
		out = filepath.Join(root, out)
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found: the dashboard builds with Node.js and npm (apt-get install nodejs npm)", tool)
		}
	}
	version, src, err := pinnedSource()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "dtm-admin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	dist, err := build(src, version, work)
	if err != nil {
		return err
	}
	if check {
		diffs, err := compare(out, dist)
		if err != nil {
			return err
		}
		rel := shown(root, out)
		if len(diffs) > 0 {
			return fmt.Errorf("%s is not what DTM %s's admin/ source builds (run make admin):\n  %s",
				rel, version, strings.Join(diffs, "\n  "))
		}
		files, size, _ := tree(out)
		fmt.Printf("%s is what DTM %s's admin/ source builds: %d files, %d bytes, identical\n", rel, version, len(files), size)
		return nil
	}
	if err := replace(dist, out); err != nil {
		return err
	}
	files, size, err := tree(out)
	if err != nil {
		return err
	}
	rel := shown(root, out)
	fmt.Printf("built DTM %s's dashboard into %s: %d files, %d bytes\n", version, rel, len(files), size)
	return nil
}

// shown is path relative to root when it is inside it.
func shown(root, path string) string {
	if rel, err := filepath.Rel(root, path); err == nil && filepath.IsLocal(rel) {
		return rel
	}
	return path
}

// moduleRoot is the directory of the main module's go.mod.
func moduleRoot() (string, error) {
	gomod, err := goCmd("env", "GOMOD")
	if err != nil {
		return "", err
	}
	gomod = strings.TrimSpace(gomod)
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run it inside the sagasuite module")
	}
	return filepath.Dir(gomod), nil
}

// pinnedSource returns the DTM version in the build list and its admin/
// source in the module cache, downloading the module if it is not there.
func pinnedSource() (version, dir string, err error) {
	type module struct {
		Version string
		Dir     string
		Replace *struct{ Version, Dir string }
	}
	var m module
	for range 2 {
		js, err := goCmd("list", "-m", "-json", dtmModule)
		if err != nil {
			return "", "", err
		}
		if err := json.Unmarshal([]byte(js), &m); err != nil {
			return "", "", fmt.Errorf("go list -m %s: %w", dtmModule, err)
		}
		if m.Replace != nil {
			if m.Replace.Version != "" {
				m.Version = m.Replace.Version
			}
			m.Dir = m.Replace.Dir
		}
		if m.Dir != "" {
			break
		}
		if _, err := goCmd("mod", "download", dtmModule); err != nil {
			return "", "", err
		}
	}
	if m.Dir == "" || m.Version == "" {
		return "", "", fmt.Errorf("go list -m %s: no version or directory", dtmModule)
	}
	src := filepath.Join(m.Dir, "admin")
	if _, err := os.Stat(filepath.Join(src, "package-lock.json")); err != nil {
		return "", "", fmt.Errorf("DTM %s has no admin/ source with a lockfile: %w", m.Version, err)
	}
	return m.Version, src, nil
}

// build copies src (without dist/ and node_modules/) into work, installs its
// lockfile and builds it; it returns the built dist directory.
func build(src, version, work string) (string, error) {
	dir := filepath.Join(work, "admin")
	if err := copyTree(src, dir, "dist", "node_modules"); err != nil {
		return "", fmt.Errorf("copy %s: %w", src, err)
	}
	fmt.Printf("building DTM %s's dashboard from %s in %s (node %s, npm %s)\n",
		version, src, dir, toolVersion("node"), toolVersion("npm"))
	steps := []struct {
		env  []string
		args []string
	}{
		{nil, []string{"ci", "--legacy-peer-deps", "--replace-registry-host=always", "--no-audit", "--no-fund"}},
		{[]string{"VITE_ADMIN_VERSION=" + version}, []string{"run", "build"}},
	}
	for _, s := range steps {
		label := strings.TrimSpace(strings.Join(s.env, " ") + " npm " + strings.Join(s.args, " "))
		start := time.Now()
		cmd := exec.Command("npm", s.args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), s.env...)
		var log bytes.Buffer
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("%s: %w\n%s", label, err, log.Bytes())
		}
		fmt.Printf("  %s: %.0f s\n", label, time.Since(start).Seconds())
	}
	dist := filepath.Join(dir, "dist")
	if _, err := os.Stat(filepath.Join(dist, "index.html")); err != nil {
		return "", fmt.Errorf("the build wrote no index.html: %w", err)
	}
	// The version is the UI's own: it warns when DTM answers another one.
	found := false
	err := filepath.WalkDir(filepath.Join(dist, "assets"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || found {
			return err
		}
		data, err := os.ReadFile(path)
		found = bytes.Contains(data, []byte(`"`+version+`"`))
		return err
	})
	if err != nil {
		return "", err
	}
	if !found {
		return "", fmt.Errorf("no built asset holds the version %q: VITE_ADMIN_VERSION was not taken", version)
	}
	return dist, nil
}

// copyTree copies the files under src to dst, writable, leaving out the
// top-level directories named in skip.
func copyTree(src, dst string, skip ...string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.IsDir() && slices.Contains(skip, rel) {
			return filepath.SkipDir
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", path)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

// replace puts the built dist at out, in place of what was there. (An
// interrupted copy leaves a partial tree, which check-admin reports.)
func replace(dist, out string) error {
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	return copyTree(dist, out)
}

// tree lists the files under dir (slash-separated, sorted) and their total size.
func tree(dir string) (files []string, size int64, err error) {
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		files = append(files, filepath.ToSlash(rel))
		size += info.Size()
		return err
	})
	slices.Sort(files)
	return files, size, err
}

// compare lists how the files under have differ from those under want:
// missing, extra, and differing files, each with its size and hash.
func compare(have, want string) ([]string, error) {
	haveFiles, _, err := tree(have)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	wantFiles, _, err := tree(want)
	if err != nil {
		return nil, err
	}
	var diffs []string
	for _, f := range wantFiles {
		w, err := describe(filepath.Join(want, f))
		if err != nil {
			return nil, err
		}
		if !slices.Contains(haveFiles, f) {
			diffs = append(diffs, fmt.Sprintf("missing %s (built: %s)", f, w))
			continue
		}
		h, err := describe(filepath.Join(have, f))
		if err != nil {
			return nil, err
		}
		if h != w {
			diffs = append(diffs, fmt.Sprintf("differs %s (committed: %s, built: %s)", f, h, w))
		}
	}
	for _, f := range haveFiles {
		if !slices.Contains(wantFiles, f) {
			h, err := describe(filepath.Join(have, f))
			if err != nil {
				return nil, err
			}
			diffs = append(diffs, fmt.Sprintf("extra %s (committed: %s; the build makes no such file)", f, h))
		}
	}
	return diffs, nil
}

// describe is a file's size and the start of its SHA-256.
func describe(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return fmt.Sprintf("%d bytes, sha256 %s", len(data), hex.EncodeToString(sum[:6])), nil
}

// toolVersion is what tool --version prints: a rebuild that differs may
// come from another toolchain.
func toolVersion(tool string) string {
	out, err := exec.Command(tool, "--version").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

func goCmd(args ...string) (string, error) {
	var stderr bytes.Buffer
	cmd := exec.Command("go", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return string(out), nil
}
