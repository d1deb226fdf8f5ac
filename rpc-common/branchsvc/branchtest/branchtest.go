// Package branchtest runs a branch service in-process for its component
// tests: the service's own gRPC server (server, logic, model and DTM's
// barrier, as branchsvc.Service registers them), behind mutual TLS with the
// service's callers table, on an in-memory connection, against MySQL
// databases of the test's own; and calls it the way DTM does, with DTM's
// branch metadata. Nothing is registered in etcd and no DTM runs: a test
// delivers the calls DTM would, in any order, as often as it likes.
//
// The end-to-end tests (test/) prove the whole suite; these prove one
// service's answers and the rows it leaves, call by call.
package branchtest

import (
	"context"
	"database/sql"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dtm-labs/dtm/client/dtmgrpc/dtmgimp"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"sagasuite/internal/devcerts"
	"sagasuite/internal/register"
	"sagasuite/rpc-common/branchsvc"
	"sagasuite/rpc-common/peertls"
)

// The register saga's branch ids, from its step table.
var (
	UserBranch  = register.UserStep.BranchID
	ScoreBranch = register.ScoreStep.BranchID
)

// RequireAborted asserts that err is the Aborted answer with reason why
// that makes DTM compensate the saga.
func RequireAborted(t testing.TB, err error, why string) {
	t.Helper()
	require.Equal(t, codes.Aborted, status.Code(err), "%v", err)
	require.Equal(t, why, status.Convert(err).Message())
}

// Saga is the context of DTM's call of op (branch.OpAction or
// branch.OpCompensate) on branch branchID of the saga gid: the metadata
// DTM's gRPC client puts on every branch call (dtmgimp.TransInfo2Ctx).
func Saga(gid, branchID, op string) context.Context {
	return dtmgimp.TransInfo2Ctx(context.Background(), gid, "saga", branchID, op, "branchtest")
}

// NewID returns a user id as the gateway allocates them (UUIDv7).
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// Server is a branch service served in-process.
type Server struct {
	name  string // the service's etcd key, which its certificate names
	certs string
	lis   *bufconn.Listener
}

// Serve serves s until the test ends, as branchsvc.Serve would with mutual
// TLS on: the service's development certificate (devcerts), and
// peertls.Secure with s.Callers.
func Serve(t testing.TB, s branchsvc.Service) *Server {
	t.Helper()
	certs := t.TempDir()
	require.NoError(t, devcerts.Ensure(certs, devcerts.Suite))
	identity := ""
	for _, id := range devcerts.Suite {
		if slices.Contains(id.DNSNames, s.Name) {
			identity = id.Name
		}
	}
	require.NotEmpty(t, identity, "no development certificate names %s", s.Name)

	var opts options
	secure, err := peertls.Secure(&opts, devcerts.Conf(certs, identity), s.Callers)
	require.NoError(t, err)
	require.True(t, secure)
	g := grpc.NewServer(append(opts.server, grpc.ChainUnaryInterceptor(opts.unary...))...)
	s.Register(g)
	lis := bufconn.Listen(1 << 20)
	served := make(chan struct{})
	go func() { defer close(served); _ = g.Serve(lis) }()
	t.Cleanup(func() { g.Stop(); <-served })
	return &Server{name: s.Name, certs: certs, lis: lis}
}

// options collects what peertls.Secure adds to a server, for
// grpc.NewServer.
type options struct {
	server []grpc.ServerOption
	unary  []grpc.UnaryServerInterceptor
}

func (o *options) AddOptions(opts ...grpc.ServerOption) { o.server = append(o.server, opts...) }

func (o *options) AddUnaryInterceptors(i ...grpc.UnaryServerInterceptor) {
	o.unary = append(o.unary, i...)
}

// Dial connects to the service with identity's certificate (peertls.DTM,
// peertls.Gateway, peertls.Repair), or without any when identity is empty.
// Each call gives up after 10 s, so that a stuck service fails the test
// instead of hanging it.
func (s *Server) Dial(t testing.TB, identity string) *grpc.ClientConn {
	t.Helper()
	creds := insecure.NewCredentials()
	if identity != "" {
		var err error
		creds, err = devcerts.Conf(s.certs, identity).ClientCreds(s.name)
		require.NoError(t, err)
	}
	conn, err := grpc.NewClient("passthrough:///"+s.name,
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return s.lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(creds),
		grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoke grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			return invoke(ctx, method, req, reply, cc, opts...)
		}))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// Barrier lists the barrier rows of gid in db, in the order they were
// written, as "<branch_id> <op> <reason>": reason is the op whose call
// inserted the row, so "01 action compensate" is the row a compensation
// wrote in place of an action that never ran.
func Barrier(t testing.TB, db *sql.DB, gid string) []string {
	t.Helper()
	rows, err := db.Query("SELECT branch_id, op, reason FROM barrier WHERE gid = ? ORDER BY id", gid)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var branchID, op, reason string
		require.NoError(t, rows.Scan(&branchID, &op, &reason))
		out = append(out, strings.Join([]string{branchID, op, reason}, " "))
	}
	require.NoError(t, rows.Err())
	return out
}

// Count runs a COUNT query on db.
func Count(t testing.TB, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow(query, args...).Scan(&n), query)
	return n
}

// Parallel runs f n times at once and returns the errors.
func Parallel(n int, f func() error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = f() })
	}
	wg.Wait()
	return errs
}
