package suite

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// BuildTags are the build tags of every build of the suite, the Makefile's
// included: no_k8s leaves go-zero's Kubernetes resolver, and client-go,
// out of every binary (the suite finds its services through etcd).
const BuildTags = "no_k8s"

// Build compiles the suite's commands (Packages) and any extra packages
// into bin, from the module at root.
func Build(ctx context.Context, root, bin string, extra ...string) error {
	return BuildTagged(ctx, root, bin, BuildTags, extra...)
}

// BuildTagged is Build with other build tags (comma-separated; BuildTags
// should be among them).
func BuildTagged(ctx context.Context, root, bin, tags string, extra ...string) error {
	pkgs := append(append([]string{}, Packages...), extra...)
	cmd := exec.CommandContext(ctx, "go", append([]string{"build", "-tags", tags, "-o", bin + "/"}, pkgs...)...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out.String())
	}
	return nil
}

// ModuleRoot is the repository's root directory, as the go command sees it
// from the working directory.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == "/dev/null" {
		return "", fmt.Errorf("not inside the module")
	}
	return filepath.Dir(gomod), nil
}

// handedOut are the ports FreePort returned in this process.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// FreePort is a TCP port on 127.0.0.1 that was free a moment ago, and one
// this process was not given before: the kernel may offer a port again as
// soon as its listener closes, and a stack whose layout names one port
// twice does not start (a chaos run in CI met exactly that).
func FreePort() int {
	handedOut.Lock()
	defer handedOut.Unlock()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !handedOut.ports[port] {
			handedOut.ports[port] = true
			return port
		}
	}
}
