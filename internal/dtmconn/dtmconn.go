// Package dtmconn helps a DTM client (the gateway, the benchmark's floors)
// with its gRPC connection to DTM.
package dtmconn

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
)

// Ready waits, at most until ctx ends, for conn to be ready, reconnecting
// at once instead of after gRPC's growing backoff (up to two minutes after
// a DTM restart). A false answer means a submit now could not even be sent,
// so nothing was written.
func Ready(ctx context.Context, conn *grpc.ClientConn) bool {
	for {
		state := conn.GetState()
		switch state {
		case connectivity.Ready:
			return true
		case connectivity.Idle:
			conn.Connect()
		case connectivity.TransientFailure:
			conn.ResetConnectBackoff()
		}
		if !conn.WaitForStateChange(ctx, state) {
			return false
		}
	}
}
