// Package logtest captures go-zero's log (logx) in a test, for the tests
// that assert what a process says: one line per outage, none per failed
// task.
package logtest

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/zeromicro/go-zero/core/logx"
)

// Log is what logx wrote since Capture; safe for concurrent use.
type Log struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Capture sends logx's output to a Log until t ends, when logx is reset
// and, if t failed, the log is shown. logx is process-wide: a test that
// captures it does not run in parallel with another that logs.
func Capture(t testing.TB) *Log {
	l := &Log{}
	logx.SetWriter(logx.NewWriter(l))
	t.Cleanup(func() {
		logx.Reset()
		if t.Failed() {
			t.Logf("log:\n%s", l)
		}
	})
	return l
}

// Write implements io.Writer, for logx.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String is the whole log so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Count is how many times s occurs in the log so far.
func (l *Log) Count(s string) int { return strings.Count(l.String(), s) }
