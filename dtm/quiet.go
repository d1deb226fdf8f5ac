package main

import (
	"log"
	"os"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"
	gormlogger "gorm.io/gorm/logger"
)

// quietGorm sets the logger GORM gives DTM's store (DTM opens it without
// one, so GORM's package default): no colour codes, warnings and slow
// statements only, and not the "record not found" of every status query
// for an unknown gid, which is a 404, not trouble (the readiness probe
// asks for one at every start).
func quietGorm() {
	gormlogger.Default = gormlogger.New(log.New(os.Stderr, "", log.LstdFlags), gormlogger.Config{
		SlowThreshold:             200 * time.Millisecond,
		LogLevel:                  gormlogger.Warn,
		IgnoreRecordNotFoundError: true,
		Colorful:                  false,
	})
}

// levelOf is the level a line DTM logs at error level deserves. DTM logs
// every branch call that did not succeed, and every submit whose saga did
// not, at error level; a branch's business rejection (codes.Aborted: a
// taken username, a score refused by rule) is a saga doing its job, so it
// is logged at info. StartSvr's failed bind of the HTTP port that
// listenHTTP holds on purpose is not logged at all.
func levelOf(l zapcore.Level, msg string) (zapcore.Level, bool) {
	switch {
	case isOwnBindFailure(msg):
		return l, false
	case strings.Contains(msg, "code = Aborted desc = "):
		return zapcore.InfoLevel, true
	}
	return l, true
}
