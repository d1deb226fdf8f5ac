// Package peertls is the mutual TLS between the suite's gRPC peers: DTM and
// the gateway call the branch services, and each side proves who it is
// with a certificate signed by the suite's CA.
//
// Without it anyone who reaches a branch service can call it: mutations
// with forged DTM metadata, and the reads (GetUser, GetScore and
// VerifyCredentials, a password oracle). And a process that registers
// itself in etcd under a service's key receives the gateway's logins,
// plain-text passwords included. With it a branch service answers only
// callers whose certificate the CA signed and whose common name the method
// allows, and its callers talk only to a server whose certificate names the
// service's etcd key.
//
// Certificates name their owner in the subject's common name: "dtm",
// "userapi", "repair" (the operator's repair tool) for callers; a service's
// certificate carries its etcd key ("user.rpc") as a DNS name.
package peertls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"sagasuite/rpc-common/envconf"
)

// Callers of the branch services, as their certificates name them.
const (
	DTM     = "dtm"
	Gateway = "userapi"
	Repair  = "repair"
)

// Conf is one process's TLS material. All three files set turn mutual TLS
// on; none set leaves the process on plain gRPC; anything in between is an
// error, not a silent fallback. The environment (TLS_CERT, TLS_KEY,
// TLS_CA) wins over a config file: see ApplyEnv.
type Conf struct {
	// CertFile and KeyFile are this process's certificate and key (PEM).
	CertFile string `json:",optional"`
	KeyFile  string `json:",optional"`
	// CAFile holds the CA certificates that sign every peer's (PEM).
	CAFile string `json:",optional"`
}

// ApplyEnv sets the files named by TLS_CERT, TLS_KEY and TLS_CA. (go-zero
// applies a field's env= tag only when its section is in the file.)
func (c *Conf) ApplyEnv() {
	envconf.String(&c.CertFile, "TLS_CERT")
	envconf.String(&c.KeyFile, "TLS_KEY")
	envconf.String(&c.CAFile, "TLS_CA")
}

// Enabled says whether mutual TLS is configured, and refuses a partial
// configuration.
func (c Conf) Enabled() (bool, error) {
	set := 0
	for _, f := range []string{c.CertFile, c.KeyFile, c.CAFile} {
		if f != "" {
			set++
		}
	}
	switch set {
	case 0:
		return false, nil
	case 3:
		return true, nil
	}
	return false, errors.New("TLS: set all of CertFile, KeyFile and CAFile (TLS_CERT, TLS_KEY, TLS_CA), or none")
}

func (c Conf) load() (tls.Certificate, *x509.CertPool, error) {
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("TLS certificate: %w", err)
	}
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return tls.Certificate{}, nil, fmt.Errorf("TLS CA %s: no PEM certificate", c.CAFile)
	}
	return cert, pool, nil
}

// ServerCreds are a branch service's credentials: its certificate, and a
// client certificate signed by the CA required of every caller.
func (c Conf) ServerCreds() (credentials.TransportCredentials, error) {
	cert, pool, err := c.load()
	if err != nil {
		return nil, err
	}
	return credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS13,
	}), nil
}

// ClientCreds are a caller's credentials towards the service whose
// certificate names serverName (its etcd key): the server is verified
// against the CA and that name, whatever address etcd gave for it.
func (c Conf) ClientCreds(serverName string) (credentials.TransportCredentials, error) {
	cert, pool, err := c.load()
	if err != nil {
		return nil, err
	}
	return credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ServerName:   serverName,
		MinVersion:   tls.VersionTLS13,
	}), nil
}

// Caller is the common name of the verified client certificate of the
// call in ctx, and false on a call without one (plain gRPC).
func Caller(ctx context.Context) (string, bool) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return "", false
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return "", false
	}
	return info.State.VerifiedChains[0][0].Subject.CommonName, true
}

// Allow is a unary interceptor that lets a call through only when its
// caller is listed for the method in callers (full method names, such as
// userpb.User_GetUser_FullMethodName). A method not in callers, such as the
// health check, is open to every caller the TLS handshake verified.
func Allow(callers map[string][]string) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		allowed, listed := callers[info.FullMethod]
		if !listed {
			return handler(ctx, req)
		}
		name, ok := Caller(ctx)
		if !ok || !slices.Contains(allowed, name) {
			return nil, status.Errorf(codes.PermissionDenied, "%s may not call %s", describe(name, ok), info.FullMethod)
		}
		return handler(ctx, req)
	}
}

func describe(name string, ok bool) string {
	if !ok {
		return "a caller without a client certificate"
	}
	return fmt.Sprintf("%q", name)
}

// Server is what Secure needs of a gRPC server (go-zero's *zrpc.RpcServer).
type Server interface {
	AddOptions(options ...grpc.ServerOption)
	AddUnaryInterceptors(interceptors ...grpc.UnaryServerInterceptor)
}

// Secure turns mutual TLS on for s when c is configured, with the callers
// of Allow; without TLS it changes nothing (and says so in its answer).
func Secure(s Server, c Conf, callers map[string][]string) (bool, error) {
	on, err := c.Enabled()
	if err != nil || !on {
		return false, err
	}
	creds, err := c.ServerCreds()
	if err != nil {
		return false, err
	}
	s.AddOptions(grpc.Creds(creds))
	s.AddUnaryInterceptors(Allow(callers))
	return true, nil
}

// Mode names the transport for a start-up line.
func Mode(tls bool) string {
	if tls {
		return "mutual TLS"
	}
	return "plain gRPC"
}
