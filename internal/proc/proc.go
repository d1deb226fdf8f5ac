// Package proc runs the suite's commands as child processes: each one logs
// to its own file and, optionally, to a shared stream with a "[name] "
// prefix, and can be stopped gracefully or killed like a crash.
package proc

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
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

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Start runs the process.
func (p *Proc) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		select {
		case <-p.done: // exited on its own: it may start again
		default:
			return fmt.Errorf("%s is already running", p.Name)
		}
	}
	logFile, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
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
	// The child dies with its parent, even when the parent is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		if echo != nil {
			echo.flush()
		}
		logFile.Close()
		close(done)
	}()
	p.cmd, p.done = cmd, done
	return nil
}

// Done is closed when the running process exits (nil when not started).
func (p *Proc) Done() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// Running says whether the process was started and has not exited.
func (p *Proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Kill stops the process with SIGKILL, as a crash would, and waits for it.
func (p *Proc) Kill() { p.stop(syscall.SIGKILL, 0) }

// Stop asks the process to exit (SIGTERM) and kills it after grace.
func (p *Proc) Stop(grace time.Duration) { p.stop(syscall.SIGTERM, grace) }

func (p *Proc) stop(sig syscall.Signal, grace time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd, p.done = nil, nil
}

// Stream serialises the lines of several processes onto one writer.
type Stream struct {
	mu  sync.Mutex
	out io.Writer
}

// NewStream writes whole lines to out, one process's line at a time.
func NewStream(out io.Writer) *Stream { return &Stream{out: out} }

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
