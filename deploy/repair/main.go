// Command repair undoes what register sagas left behind where DTM will not
// (see package orphans): branches that ran for sagas DTM never recorded,
// sagas stopped (forceStop) without compensation, and sagas prepared but
// never submitted. It lists them by default; -apply compensates the first
// two through the services' barriers, which are found in etcd like DTM
// finds them, and stops the third through DTM's API:
//
//	go run ./deploy/repair                  # list
//	go run ./deploy/repair -apply           # repair
//
// Settings as deploy/migrate (MYSQL_DSN, USER_DB, USER_SCORE_DB, DTM_DB),
// plus ETCD_HOSTS and DTM_HTTP. As a safety valve against a wrong DTM_DB
// (every user would look orphaned), it refuses to act on more than -max
// gids.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/zeromicro/go-zero/zrpc"

	"sagasuite/deploy/repair/orphans"
	"sagasuite/internal/register"
	"sagasuite/internal/schema"
	"sagasuite/internal/store"
	"sagasuite/rpc-common/envconf"
	"sagasuite/rpc-common/peertls"
	"sagasuite/rpc-common/userpb"
	"sagasuite/rpc-common/userscorepb"
)

func main() {
	target := schema.AddFlags(flag.CommandLine)
	etcd := flag.String("etcd", schema.EnvOr("ETCD_HOSTS", "127.0.0.1:2379"), "etcd endpoints, comma-separated (env ETCD_HOSTS)")
	grace := flag.Duration("grace", 5*time.Minute, "ignore barrier rows younger than this")
	apply := flag.Bool("apply", false, "compensate the orphans (default: only list them)")
	dtmHTTP := flag.String("dtm", schema.EnvOr("DTM_HTTP", "http://127.0.0.1:36789"), "DTM's HTTP API (env DTM_HTTP)")
	max := flag.Int("max", 100, "refuse to act on more gids than this")
	flag.Parse()

	if err := run(target.DSN, target.DBs, strings.Split(*etcd, ","), *dtmHTTP, *grace, *apply, *max); err != nil {
		fmt.Fprintf(os.Stderr, "repair: %v\n", err)
		os.Exit(1)
	}
}

func run(dsn string, names store.Databases, etcd []string, dtmHTTP string, grace time.Duration, apply bool, max int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dbs, err := store.OpenAll(ctx, dsn, names)
	if err != nil {
		return err
	}
	defer dbs.Close()
	o := orphans.Options{DTM: dbs.DTM, User: dbs.User, UserScore: dbs.UserScore}
	o.Grace, o.DryRun, o.DTMHTTP = grace, true, dtmHTTP
	found, err := orphans.Run(ctx, o)
	if err != nil {
		return err
	}
	for _, l := range []struct {
		what string
		gids []string
	}{
		{fmt.Sprintf("register saga(s) with branch writes but no record in DTM (older than %s)", grace), found.Found},
		{"failed register saga(s) whose rows are still there (stopped without compensation)", found.Stopped},
		{fmt.Sprintf("register saga(s) prepared more than %s ago and never submitted", grace), found.Abandoned},
	} {
		fmt.Printf("%d %s\n", len(l.gids), l.what)
		for _, gid := range l.gids {
			fmt.Println("  " + gid)
		}
	}
	total := len(found.Found) + len(found.Stopped) + len(found.Abandoned)
	if !apply || total == 0 {
		return nil
	}
	if total > max {
		return fmt.Errorf("%d gids is more than -max %d: check DTM_DB names DTM's store", total, max)
	}
	users, err := branchClient(etcd, register.UserStep.Service)
	if err != nil {
		return err
	}
	scores, err := branchClient(etcd, register.ScoreStep.Service)
	if err != nil {
		return err
	}
	o.DryRun = false
	o.Users, o.Scores = userpb.NewUserClient(users.Conn()), userscorepb.NewUserScoreClient(scores.Conn())
	done, err := orphans.Run(ctx, o)
	fmt.Printf("compensated %d unrecorded and %d stopped; stopped %d abandoned\n", done.Repaired, done.Compensated, done.Ended)
	return err
}

// branchClient connects to the branch service registered under key, with
// the etcd account (ETCD_USER, ETCD_PASS, ETCD_CERT, ETCD_KEY, ETCD_CA) and
// the mutual TLS identity (TLS_CERT, TLS_KEY, TLS_CA: a certificate named
// "repair") of the environment, when they are set.
func branchClient(etcd []string, key string) (zrpc.Client, error) {
	c := zrpc.NewEtcdClientConf(etcd, key, "", "")
	envconf.EtcdAccess(&c.Etcd)
	tls := peertls.Conf{}
	tls.ApplyEnv()
	on, err := tls.Enabled()
	if err != nil || !on {
		return zrpc.NewClient(c)
	}
	creds, err := tls.ClientCreds(key)
	if err != nil {
		return nil, err
	}
	return zrpc.NewClient(c, zrpc.WithTransportCredentials(creds))
}
