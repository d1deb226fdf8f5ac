package svc

import (
	"fmt"
	"strings"

	"github.com/dtm-labs/dtm/client/dtmgrpc/dtmgimp"
	"github.com/dtm-labs/logger"
	"github.com/zeromicro/go-zero/core/logx"
	"google.golang.org/grpc"
)

// DtmConn is the connection DTM's client uses for server, made once here:
// the client caches one per target, and concurrent first calls raced to
// "produced zero addresses".
func DtmConn(server string) (*grpc.ClientConn, error) {
	return dtmgimp.GetGrpcConn(server, false)
}

// dtmLog routes DTM's client log to logx, without the per-call lines: they
// print every saga payload, password hashes included, and the gateway logs
// each saga's outcome itself.
type dtmLog struct{}

func (dtmLog) Debugf(string, ...any) {}
func (dtmLog) Infof(string, ...any)  {}
func (dtmLog) Warnf(format string, args ...any) {
	logx.Info("dtm warning: " + fmt.Sprintf(format, args...))
}
func (dtmLog) Errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if strings.HasPrefix(msg, "grpc client called") {
		return
	}
	logx.Error("dtm: " + msg)
}

func init() { logger.WithLogger(dtmLog{}) }
