package stack

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"sagasuite/internal/proc"
	"sagasuite/internal/suite"
)

// Swap restarts the named processes from the binaries in bin (s.Bin or
// s.BinNoTrace), each with the environment it was first started with
// plus extra (later variables win), and waits until the whole suite is
// ready again. They are stopped in suite.StopOrder and started in
// suite.Names order, so that the gateway goes last and first.
func (s *Stack) Swap(ctx context.Context, names []string, bin string, extra ...string) error {
	for _, name := range suite.StopOrder {
		if slices.Contains(names, name) {
			s.procs[name].Stop(10 * time.Second)
		}
	}
	for _, name := range suite.Names {
		if !slices.Contains(names, name) {
			continue
		}
		old := s.procs[name]
		p := &proc.Proc{Name: old.Name, Bin: filepath.Join(bin, name), Args: old.Args, Dir: old.Dir, Log: old.Log,
			Env: append(append([]string{}, s.baseEnv[name]...), extra...)}
		s.procs[name] = p
		if err := p.Start(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	ready, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return s.WaitReady(ready, s.Etcd)
}

// TraceEndpoint is the console's OTLP/HTTP receiver, as TRACE_ENDPOINT
// names it.
func (s *Stack) TraceEndpoint() string { return fmt.Sprintf("127.0.0.1:%d", s.OTLP) }
