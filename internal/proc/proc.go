// Package proc runs the suite's commands as child processes: each one logs
// to its own file and, optionally, to a shared stream with a "[name] "
// prefix, and can be stopped gracefully or killed like a crash. Keep (in
// keep.go) restarts one that exits on its own.
package proc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Proc is one child process; it can be started again after it stopped.
type Proc struct {
	Name string
	Bin  string
	Args []string
	Env  []string // added to the parent's environment
	Dir  string   // working directory
	Log  string   // log file, appended to
	// Echo, when set, also receives every output line, prefixed by Name.
	Echo *Stream
	// PidFile, when set, holds the running process's pid, so that tools
	// outside the parent (a demo that kills a service) can find it. It is
	// written at every start and removed when the process exits.
	PidFile string

	mu  sync.Mutex
	cur *run // the latest start; nil when never started or stopped by Stop/Kill
}

// run is one start of the process. err and the pid file's removal happen
// before done is closed, so whoever saw done closed may read err.
type run struct {
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{}
	err     error // cmd.Wait's answer: nil for exit status 0
}

// Start runs the process.
func (p *Proc) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.startLocked()
}

func (p *Proc) startLocked() error {
	if p.cur != nil {
		select {
		case <-p.cur.done: // exited on its own: it may start again
		default:
			return fmt.Errorf("%s is already running", p.Name)
		}
	}
	logFile, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	var out io.Writer = logFile
	var echo *lineWriter
	if p.Echo != nil {
		echo = &lineWriter{prefix: "[" + p.Name + "] ", stream: p.Echo}
		out = io.MultiWriter(logFile, echo)
	}
	cmd := exec.Command(p.Bin, p.Args...)
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Dir = p.Dir
	cmd.Stdout, cmd.Stderr = out, out
	// The child dies with its parent, even when the parent is killed. It
	// has a process group of its own, so that a Ctrl-C at the terminal
	// reaches only the parent, which stops its children in its own order
	// (suite.StopOrder: the console, which receives every process's last
	// spans, after those processes), not all of them at once.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	// Written before the process can be reaped, so that the removal below
	// always comes after it. A process nobody can find by its pid file is
	// not started: kill it rather than leave it running unannounced.
	if err := p.writePid(cmd.Process.Pid); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logFile.Close()
		return fmt.Errorf("start %s: pid file: %w", p.Name, err)
	}
	r := &run{cmd: cmd, started: time.Now(), done: make(chan struct{})}
	go func() {
		r.err = cmd.Wait()
		if echo != nil {
			echo.flush()
		}
		logFile.Close()
		if p.PidFile != "" {
			_ = os.Remove(p.PidFile)
		}
		close(r.done)
	}()
	p.cur = r
	return nil
}

// writePid replaces the pid file in one rename, so that a reader never sees
// it half written.
func (p *Proc) writePid(pid int) error {
	if p.PidFile == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p.PidFile), 0o755); err != nil {
		return err
	}
	tmp := p.PidFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p.PidFile)
}

// Done is closed when the running process exits (nil when not started).
func (p *Proc) Done() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil {
		return nil
	}
	return p.cur.done
}

// Running says whether the process was started and has not exited.
func (p *Proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil {
		return false
	}
	select {
	case <-p.cur.done:
		return false
	default:
		return true
	}
}

// Pid is the process id of the latest start, 0 when not started or
// stopped; it stays set after the process exited on its own (until a
// restart), like the exit status a supervisor wants to report.
func (p *Proc) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil {
		return 0
	}
	return p.cur.cmd.Process.Pid
}

// Kill stops the process with SIGKILL, as a crash would, and waits for it.
func (p *Proc) Kill() { p.stop(syscall.SIGKILL, 0) }

// Stop asks the process to exit (SIGTERM) and kills it after grace.
func (p *Proc) Stop(grace time.Duration) { p.stop(syscall.SIGTERM, grace) }

// stop holds the lock from the signal until the run is forgotten, so that
// Keep, woken by the exit, sees the process as stopped by its owner and
// does not restart it.
func (p *Proc) stop(sig syscall.Signal, grace time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil {
		return
	}
	r := p.cur
	_ = r.cmd.Process.Signal(sig)
	select {
	case <-r.done:
	case <-time.After(grace):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
	p.cur = nil
}

// describeExit renders cmd.Wait's answer the way a shell user reads it:
// "exit status 3", "signal: killed".
func describeExit(err error) string {
	var exit *exec.ExitError
	switch {
	case err == nil:
		return "exit status 0"
	case errors.As(err, &exit):
		return exit.ProcessState.String()
	default:
		return err.Error()
	}
}

// Stream serialises the lines of several processes onto one writer.
type Stream struct {
	mu  sync.Mutex
	out io.Writer
}

// NewStream writes whole lines to out, one process's line at a time.
func NewStream(out io.Writer) *Stream { return &Stream{out: out} }

// Println writes one line of the parent's own (a supervisor's note) between
// the children's lines, never inside one of them.
func (s *Stream) Println(line string) { s.writeLine("", []byte(line+"\n")) }

func (s *Stream) writeLine(prefix string, line []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _ = io.WriteString(s.out, prefix)
	_, _ = s.out.Write(line)
}

// lineWriter cuts a process's output into lines for a Stream.
type lineWriter struct {
	prefix string
	stream *Stream
	mu     sync.Mutex
	buf    []byte
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.stream.writeLine(w.prefix, w.buf[:i+1])
		w.buf = w.buf[i+1:]
	}
	return len(b), nil
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.stream.writeLine(w.prefix, append(w.buf, '\n'))
		w.buf = nil
	}
}
