// Command floors serves the two floors the register benchmark compares
// POST /register with, behind go-zero's REST server configured like the
// gateway's (pro mode, same middlewares on and off, a one-line access log):
//
//   - POST /floor/saga submits a three-branch saga (the register saga's shape) to the same DTM server
//     (WaitResult) whose branches, served by this process's own zrpc server
//     registered in etcd as bench-floor.rpc, run only DTM's barrier
//     (rpc-common/branch with an empty write) in two databases, the first
//     and last in A as the user service's steps are: what DTM
//     itself costs, without the business writes;
//   - POST /floor/register submits the register saga itself (internal/register's
//     steps and payloads, as the gateway builds them) to the real user and
//     user-score services, and POST /floor/register-no-outbox the same saga
//     without its last step, the completion that writes the outbox rows:
//     the pair the outbox step's cost is measured by, behind one HTTP
//     stack (the users the second leaves are never complete);
//   - POST /floor/localtx writes a user row and a score row, shaped like
//     the suite's tables, in one MySQL transaction, with no saga: what the
//     distribution costs.
//
// Both take the register body and, like the gateway, hash its password at
// BCRYPT_COST first (0 skips the hash), so that each floor differs from
// the register path only in what it names.
//
// Environment: LISTEN_ON (HTTP host:port), RPC_LISTEN_ON, ETCD_HOSTS, DTM_SERVER
// (etcd://…/dtmservice), DSN_A and DSN_B (the two floor databases; DSN_A
// holds the user table, DSN_B the user_score table), SCORE_DB (DSN_B's
// database name), BCRYPT_COST, SAGA_RESULT_TIMEOUT (ms).
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	_ "github.com/dtm-labs/driver-gozero" // resolves etcd:// URLs for DTM
	"github.com/dtm-labs/dtm/client/dtmgrpc"
	"github.com/dtm-labs/dtm/client/dtmgrpc/dtmgimp"
	dtmlogger "github.com/dtm-labs/logger"
	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"
	"github.com/zeromicro/go-zero/core/conf"
	"github.com/zeromicro/go-zero/core/logx"
	"github.com/zeromicro/go-zero/core/service"
	"github.com/zeromicro/go-zero/rest"
	"github.com/zeromicro/go-zero/zrpc"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"sagasuite/bench/floorrpc"
	"sagasuite/internal/dtmconn"
	"sagasuite/internal/httplog"
	"sagasuite/internal/register"
	"sagasuite/internal/store"
	"sagasuite/rpc-common/branch"
	"sagasuite/rpc-common/userpb"
)

type floorServer interface {
	ActionA(context.Context, *emptypb.Empty) (*emptypb.Empty, error)
	ActionB(context.Context, *emptypb.Empty) (*emptypb.Empty, error)
	Compensate(context.Context, *emptypb.Empty) (*emptypb.Empty, error)
}

func unary(name string, call func(floorServer, context.Context, *emptypb.Empty) (*emptypb.Empty, error)) grpc.MethodDesc {
	return grpc.MethodDesc{
		MethodName: name,
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := new(emptypb.Empty)
			if err := dec(in); err != nil {
				return nil, err
			}
			if interceptor == nil {
				return call(srv.(floorServer), ctx, in)
			}
			info := &grpc.UnaryServerInfo{Server: srv, FullMethod: "/" + floorrpc.Service + "/" + name}
			return interceptor(ctx, in, info, func(ctx context.Context, req any) (any, error) {
				return call(srv.(floorServer), ctx, req.(*emptypb.Empty))
			})
		},
	}
}

var serviceDesc = grpc.ServiceDesc{
	ServiceName: floorrpc.Service,
	HandlerType: (*floorServer)(nil),
	Methods: []grpc.MethodDesc{
		unary("ActionA", floorServer.ActionA),
		unary("ActionB", floorServer.ActionB),
		unary("Compensate", floorServer.Compensate),
	},
	Metadata: "benchfloor",
}

// branches runs each branch as barrier + an empty write, in database A
// (first branch, like user) or B (second, like user-score).
type branches struct{ a, b *sql.DB }

func noWrite(*sql.Tx) error { return nil }

func (s branches) ActionA(ctx context.Context, _ *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, branch.Action(ctx, s.a, noWrite)
}

func (s branches) ActionB(ctx context.Context, _ *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, branch.Action(ctx, s.b, noWrite)
}

// Compensate is never expected (the floor saga cannot fail); it runs the
// barrier on A so that DTM finishes a saga it did compensate.
func (s branches) Compensate(ctx context.Context, _ *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, branch.Compensate(ctx, s.a, noWrite)
}

// registerReq is the gateway's register body.
type registerReq struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Email    string `json:"email"`
	Gender   string `json:"gender"`
	Score    int64  `json:"score"`
}

// branchPool is the pool of each floor database: user's and user-score's
// default MaxOpenConns.
const branchPool = 16

type floors struct {
	a, b        *sql.DB
	scoreDB     string
	cost        int
	dtmServer   string
	wait        time.Duration
	actionA     string
	actionB     string
	compensate  string
	insertScore string
	dtm         *grpc.ClientConn
	services    register.Services
}

func main() {
	// DTM's client logs every call at info; the gateway silences it too.
	dtmlogger.InitLog("warn")
	f, restConf, rpcConf, err := configure()
	if err != nil {
		fmt.Fprintf(os.Stderr, "floors: %v\n", err)
		os.Exit(1)
	}
	rpc := zrpc.MustNewServer(rpcConf, func(g *grpc.Server) {
		g.RegisterService(&serviceDesc, branches{a: f.a, b: f.b})
	})
	restConf.Middlewares.Log = false
	restConf.Middlewares.MaxBytes = false
	restConf.Middlewares.Gunzip = false
	server := rest.MustNewServer(restConf)
	server.Use(httplog.AccessLog)
	server.AddRoutes([]rest.Route{
		{Method: http.MethodPost, Path: "/floor/saga", Handler: f.saga},
		{Method: http.MethodPost, Path: "/floor/localtx", Handler: f.localTx},
		{Method: http.MethodPost, Path: "/floor/register", Handler: f.register(len(register.Steps))},
		{Method: http.MethodPost, Path: "/floor/register-no-outbox", Handler: f.register(len(register.Steps) - 1)},
	})
	group := service.NewServiceGroup()
	group.Add(rpc)
	group.Add(server)
	defer group.Stop()
	fmt.Printf("floors: HTTP %s:%d, %s on %s\n", restConf.Host, restConf.Port, floorrpc.Key, rpcConf.ListenOn)
	group.Start()
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// configure loads both servers' configs through go-zero's loader, so that
// every default is go-zero's own, as for the suite's services.
func configure() (*floors, rest.RestConf, zrpc.RpcServerConf, error) {
	var rc rest.RestConf
	var zc zrpc.RpcServerConf
	host, port, _ := strings.Cut(env("LISTEN_ON", "127.0.0.1:8898"), ":")
	etcd := strings.Split(env("ETCD_HOSTS", "127.0.0.1:2379"), ",")
	hosts, _ := json.Marshal(etcd)
	restJSON := fmt.Sprintf(`{"Name": "floors", "Host": %q, "Port": %s, "Mode": "pro", "Timeout": 10000,
		"CpuThreshold": 0, "MaxConns": 1000, "DevServer": {"Enabled": false}, "Log": {"Encoding": "plain", "Stat": false}}`, host, port)
	if err := conf.LoadFromJsonBytes([]byte(restJSON), &rc); err != nil {
		return nil, rc, zc, err
	}
	rpcJSON := fmt.Sprintf(`{"Name": %q, "ListenOn": %q, "Mode": "pro", "Timeout": 5000, "CpuThreshold": 0,
		"Etcd": {"Hosts": %s, "Key": %q},
		"DevServer": {"Enabled": false}, "Log": {"Encoding": "plain", "Stat": false}}`,
		floorrpc.Key, env("RPC_LISTEN_ON", "127.0.0.1:8899"), hosts, floorrpc.Key)
	if err := conf.LoadFromJsonBytes([]byte(rpcJSON), &zc); err != nil {
		return nil, rc, zc, err
	}
	cost, err := strconv.Atoi(env("BCRYPT_COST", "4"))
	if err != nil {
		return nil, rc, zc, fmt.Errorf("BCRYPT_COST: %w", err)
	}
	waitMS, err := strconv.Atoi(env("SAGA_RESULT_TIMEOUT", "5000"))
	if err != nil {
		return nil, rc, zc, fmt.Errorf("SAGA_RESULT_TIMEOUT: %w", err)
	}
	a, err := store.OpenPool(os.Getenv("DSN_A"), branchPool)
	if err != nil {
		return nil, rc, zc, err
	}
	b, err := store.OpenPool(os.Getenv("DSN_B"), branchPool)
	if err != nil {
		return nil, rc, zc, err
	}
	scoreDB := os.Getenv("SCORE_DB")
	dtmServer := env("DTM_SERVER", "etcd://"+strings.Join(etcd, ",")+"/dtmservice")
	// As the gateway does: one connection made up front, since DTM's client
	// caches one per target and concurrent first calls race to "produced
	// zero addresses".
	dtmConn, err := dtmgimp.GetGrpcConn(dtmServer, false)
	if err != nil {
		return nil, rc, zc, err
	}
	return &floors{
		a: a, b: b, scoreDB: scoreDB, cost: cost, dtm: dtmConn,
		dtmServer: dtmServer,
		wait:      time.Duration(waitMS) * time.Millisecond,
		actionA:   floorrpc.URL(etcd, "ActionA"), actionB: floorrpc.URL(etcd, "ActionB"),
		compensate:  floorrpc.URL(etcd, "Compensate"),
		insertScore: "INSERT INTO `" + scoreDB + "`.user_score (user_id, score) VALUES (?, ?)",
		services: register.Services{
			register.UserStep.Service:  "etcd://" + strings.Join(etcd, ",") + "/" + register.UserStep.Service,
			register.ScoreStep.Service: "etcd://" + strings.Join(etcd, ",") + "/" + register.ScoreStep.Service,
		},
	}, rc, zc, nil
}

// decode reads the register body (at most 4 KiB, like the gateway) and
// hashes its password at the configured cost.
func (f *floors) decode(w http.ResponseWriter, r *http.Request) (*registerReq, string, bool) {
	var req registerReq
	dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Username == "" || len(req.Password) < 8 {
		answer(w, http.StatusBadRequest, map[string]string{"code": "INVALID_ARGUMENT"})
		return nil, "", false
	}
	hash := ""
	if f.cost > 0 {
		h, err := bcrypt.GenerateFromPassword([]byte(req.Password), f.cost)
		if err != nil {
			answer(w, http.StatusInternalServerError, map[string]string{"code": "INTERNAL"})
			return nil, "", false
		}
		hash = string(h)
	}
	return &req, hash, true
}

func (f *floors) saga(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := f.decode(w, r); !ok {
		return
	}
	id, err := uuid.NewV7()
	if err != nil {
		answer(w, http.StatusInternalServerError, map[string]string{"code": "INTERNAL"})
		return
	}
	gid := "floor-" + id.String()
	wait, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), f.wait)
	defer cancel()
	ready, cancelReady := context.WithTimeout(wait, time.Second)
	defer cancelReady()
	if !dtmconn.Ready(ready, f.dtm) { // the gateway checks this before each submit too
		answer(w, http.StatusServiceUnavailable, map[string]string{"code": "UNAVAILABLE", "gid": gid})
		return
	}
	s := dtmgrpc.NewSagaGrpcWithContext(wait, f.dtmServer, gid).
		Add(f.actionA, f.compensate, &emptypb.Empty{}).
		Add(f.actionB, f.compensate, &emptypb.Empty{}).
		// The register saga's last step runs in the user database too.
		Add(f.actionA, f.compensate, &emptypb.Empty{})
	s.WaitResult = true
	if err := s.Submit(); err != nil {
		logx.WithContext(r.Context()).Errorf("floor saga %s: %v", gid, err)
		answer(w, http.StatusServiceUnavailable, map[string]string{"code": "UNAVAILABLE", "gid": gid})
		return
	}
	answer(w, http.StatusCreated, map[string]string{"gid": gid, "status": "succeeded"})
}

// register submits the register saga's first steps (all of them, or all
// but the completion) for the body, as the gateway does: a new user id,
// the gid named by it, the payloads internal/register builds, WaitResult.
// It answers 201 only when DTM reports the saga succeeded; it does none of
// the gateway's settling (the benchmark counts anything else as not 2xx).
func (f *floors) register(steps int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req, hash, ok := f.decode(w, r)
		if !ok {
			return
		}
		id, err := uuid.NewV7()
		if err != nil {
			answer(w, http.StatusInternalServerError, map[string]string{"code": "INTERNAL"})
			return
		}
		gid := register.Gid(id.String())
		payloads, err := register.PayloadsOf(&userpb.CreateUserReq{
			Id: id.String(), Username: req.Username, PasswordHash: hash, Gender: req.Gender, Email: req.Email,
		}, req.Score).Encode()
		if err != nil {
			answer(w, http.StatusInternalServerError, map[string]string{"code": "INTERNAL"})
			return
		}
		wait, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), f.wait)
		defer cancel()
		ready, cancelReady := context.WithTimeout(wait, time.Second)
		defer cancelReady()
		if !dtmconn.Ready(ready, f.dtm) {
			answer(w, http.StatusServiceUnavailable, map[string]string{"code": "UNAVAILABLE", "gid": gid})
			return
		}
		s := dtmgrpc.NewSagaGrpcWithContext(wait, f.dtmServer, gid)
		s.Steps = register.SagaSteps(f.services)[:steps]
		s.BinPayloads = payloads[:steps]
		s.WaitResult = true
		if err := s.Submit(); err != nil {
			logx.WithContext(r.Context()).Errorf("floor register %s: %v", gid, err)
			answer(w, http.StatusServiceUnavailable, map[string]string{"code": "UNAVAILABLE", "gid": gid})
			return
		}
		answer(w, http.StatusCreated, map[string]string{"id": id.String(), "gid": gid, "status": "succeeded"})
	}
}

func (f *floors) localTx(w http.ResponseWriter, r *http.Request) {
	req, hash, ok := f.decode(w, r)
	if !ok {
		return
	}
	if hash == "" {
		hash = "-"
	}
	id, err := uuid.NewV7()
	if err != nil {
		answer(w, http.StatusInternalServerError, map[string]string{"code": "INTERNAL"})
		return
	}
	err = f.insertBoth(r.Context(), id.String(), req, hash)
	var myErr *mysql.MySQLError
	switch {
	case errors.As(err, &myErr) && myErr.Number == 1062:
		answer(w, http.StatusConflict, map[string]string{"code": "USERNAME_TAKEN"})
	case err != nil:
		logx.WithContext(r.Context()).Errorf("floor localtx: %v", err)
		answer(w, http.StatusServiceUnavailable, map[string]string{"code": "UNAVAILABLE"})
	default:
		answer(w, http.StatusCreated, map[string]string{"id": id.String(), "status": "succeeded"})
	}
}

// insertBoth writes both rows in one transaction on database A's pool (the
// score table is qualified by its database: one server, one transaction).
func (f *floors) insertBoth(ctx context.Context, id string, req *registerReq, hash string) error {
	tx, err := f.a.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if _, err := tx.ExecContext(ctx,
		"INSERT INTO `user` (id, username, password_hash, gender, email) VALUES (?, ?, ?, ?, ?)",
		id, req.Username, hash, req.Gender, req.Email); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, f.insertScore, id, req.Score); err != nil {
		return err
	}
	return tx.Commit()
}

func answer(w http.ResponseWriter, code int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}
