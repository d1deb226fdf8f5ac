package peertls

import (
	"context"
	"net/url"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Rerouter gives DTM's branch calls mutual TLS. DTM v1.19.0 dials every
// branch with insecure credentials and has no setting for others
// (client/dtmgrpc/dtmgimp.GetGrpcConn), but it runs its drivers'
// middlewares (dtmdriver.Middlewares.Grpc) last, right before each call.
// Installed there, Intercept sends the call on a mutual-TLS connection to
// the same target instead, with the call options DTM gave it (its raw
// codec included), and never on DTM's plain one.
type Rerouter struct {
	conf  Conf
	extra []grpc.DialOption

	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
}

// NewRerouter reroutes onto connections with c's credentials; extra dial
// options (connect backoff, say) are added to each connection.
func NewRerouter(c Conf, extra ...grpc.DialOption) *Rerouter {
	return &Rerouter{conf: c, extra: extra, conns: map[string]*grpc.ClientConn{}}
}

// Intercept is a grpc.UnaryClientInterceptor.
func (r *Rerouter) Intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, _ grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	conn, err := r.conn(cc.Target())
	if err != nil {
		// Unavailable: DTM retries the branch later.
		return status.Errorf(codes.Unavailable, "TLS connection to %s: %v", cc.Target(), err)
	}
	return conn.Invoke(ctx, method, req, reply, opts...)
}

func (r *Rerouter) conn(target string) (*grpc.ClientConn, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.conns[target]; ok {
		return c, nil
	}
	creds, err := r.conf.ClientCreds(ServerName(target))
	if err != nil {
		return nil, err
	}
	c, err := grpc.NewClient(target, append([]grpc.DialOption{grpc.WithTransportCredentials(creds)}, r.extra...)...)
	if err != nil {
		return nil, err
	}
	r.conns[target] = c
	return c, nil
}

// Close closes the TLS connections.
func (r *Rerouter) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for target, c := range r.conns {
		c.Close()
		delete(r.conns, target)
	}
}

// ServerName is the name a branch's certificate must carry for a DTM
// target: the etcd key of etcd://host:2379/user.rpc (DTM's go-zero driver
// form), the host of host:port or of dns:///host:port.
func ServerName(target string) string {
	u, err := url.Parse(target)
	if err != nil || u.Scheme == "" || u.Opaque != "" {
		host, _, _ := strings.Cut(target, ":")
		return host
	}
	path := strings.Trim(u.Path, "/")
	if u.Host == "" { // scheme:///endpoint
		host, _, _ := strings.Cut(path, ":")
		return host
	}
	if path != "" {
		return path
	}
	return u.Hostname()
}
