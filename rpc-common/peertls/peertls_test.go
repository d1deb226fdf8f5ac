package peertls_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"sagasuite/internal/devcerts"
	"sagasuite/rpc-common/peertls"
)

const checkMethod = "/grpc.health.v1.Health/Check"

// serve runs the health service over mutual TLS as identity "user" (etcd
// key user.rpc), letting only dtm call Check, and returns its address.
func serve(t *testing.T, dir string) string {
	t.Helper()
	creds, err := devcerts.Conf(dir, "user").ServerCreds()
	require.NoError(t, err)
	s := grpc.NewServer(grpc.Creds(creds), grpc.UnaryInterceptor(peertls.Allow(map[string][]string{checkMethod: {peertls.DTM}})))
	healthpb.RegisterHealthServer(s, health.NewServer())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go s.Serve(ln)
	t.Cleanup(s.Stop)
	return ln.Addr().String()
}

func check(t *testing.T, addr string, opts ...grpc.DialOption) error {
	t.Helper()
	conn, err := grpc.NewClient(addr, opts...)
	require.NoError(t, err)
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	return err
}

func tlsAs(t *testing.T, dir, name, serverName string) grpc.DialOption {
	t.Helper()
	creds, err := devcerts.Conf(dir, name).ClientCreds(serverName)
	require.NoError(t, err)
	return grpc.WithTransportCredentials(creds)
}

func TestMutualTLS(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	require.NoError(t, devcerts.Ensure(dir, devcerts.Suite))
	require.NoError(t, devcerts.Ensure(other, devcerts.Suite)) // another CA, same names
	addr := serve(t, dir)

	require.NoError(t, check(t, addr, tlsAs(t, dir, peertls.DTM, "user.rpc")), "the allowed caller")

	err := check(t, addr, tlsAs(t, dir, peertls.Gateway, "user.rpc"))
	require.Equal(t, codes.PermissionDenied, status.Code(err), "a verified caller the method does not allow: %v", err)

	err = check(t, addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.Equal(t, codes.Unavailable, status.Code(err), "plain gRPC never reaches the handler: %v", err)

	err = check(t, addr, tlsAs(t, other, peertls.DTM, "user.rpc"))
	require.Equal(t, codes.Unavailable, status.Code(err), "a client certificate of another CA: %v", err)

	err = check(t, addr, tlsAs(t, dir, peertls.DTM, "user-score.rpc"))
	require.Equal(t, codes.Unavailable, status.Code(err), "a server that is not the service asked for: %v", err)
	require.ErrorContains(t, err, "certificate")
}

// TestRerouterSendsPlainCallsOverTLS: a connection dialled with insecure
// credentials, as DTM dials every branch, reaches the TLS server once the
// rerouter runs as its last interceptor.
func TestRerouterSendsPlainCallsOverTLS(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, devcerts.Ensure(dir, devcerts.Suite))
	addr := serve(t, dir)

	r := peertls.NewRerouter(devcerts.Conf(dir, peertls.DTM))
	defer r.Close()
	// The certificate names 127.0.0.1 too, the server name of host:port.
	err := check(t, addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithChainUnaryInterceptor(r.Intercept))
	require.NoError(t, err)

	require.Error(t, check(t, addr, grpc.WithTransportCredentials(insecure.NewCredentials())), "without it the plain call fails")
}

func TestServerName(t *testing.T) {
	for target, want := range map[string]string{
		"etcd://127.0.0.1:2379/user.rpc":      "user.rpc",
		"etcd://a:2379,b:2379/user-score.rpc": "user-score.rpc",
		"127.0.0.1:8080":                      "127.0.0.1",
		"localhost:8080":                      "localhost",
		"dns:///user:8080":                    "user",
		"passthrough:///localhost:1":          "localhost",
		"etcd://127.0.0.1:2379":               "127.0.0.1",
	} {
		require.Equal(t, want, peertls.ServerName(target), target)
	}
}

func TestPartialConfigurationIsAnError(t *testing.T) {
	on, err := peertls.Conf{}.Enabled()
	require.NoError(t, err)
	require.False(t, on)
	_, err = peertls.Conf{CertFile: "a.pem", KeyFile: "a-key.pem"}.Enabled()
	require.Error(t, err)
	on, err = devcerts.Conf("d", "user").Enabled()
	require.NoError(t, err)
	require.True(t, on)
}
