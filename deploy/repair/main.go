// Command repair undoes branches that ran for register sagas DTM never
// recorded (see package orphans for the DTM v1.19.0 behaviour behind it).
// It lists them by default; -apply compensates them through the services'
// barriers, which are found in etcd like DTM finds them:
//
//	go run ./deploy/repair                  # list
//	go run ./deploy/repair -apply           # compensate
//
// Settings as deploy/migrate (MYSQL_DSN, USER_DB, USER_SCORE_DB, DTM_DB),
// plus ETCD_HOSTS. As a safety valve against a wrong DTM_DB (every user
// would look orphaned), it refuses to act on more than -max gids.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/zeromicro/go-zero/zrpc"

	"sagasuite/deploy/repair/orphans"
	"sagasuite/deploy/schema"
	"sagasuite/rpc-common/userpb"
	"sagasuite/rpc-common/userscorepb"
)

func main() {
	target := schema.AddFlags(flag.CommandLine)
	etcd := flag.String("etcd", schema.EnvOr("ETCD_HOSTS", "127.0.0.1:2379"), "etcd endpoints, comma-separated (env ETCD_HOSTS)")
	grace := flag.Duration("grace", 5*time.Minute, "ignore barrier rows younger than this")
	apply := flag.Bool("apply", false, "compensate the orphans (default: only list them)")
	max := flag.Int("max", 100, "refuse to act on more orphans than this")
	flag.Parse()

	if err := run(target.DSN, target.DBs, strings.Split(*etcd, ","), *grace, *apply, *max); err != nil {
		fmt.Fprintf(os.Stderr, "repair: %v\n", err)
		os.Exit(1)
	}
}

func run(dsn string, dbs schema.Databases, etcd []string, grace time.Duration, apply bool, max int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return err
	}
	open := func(name string) (*sql.DB, error) {
		c := cfg.Clone()
		c.DBName, c.ParseTime, c.Loc = name, true, time.Local
		return sql.Open("mysql", c.FormatDSN())
	}
	var o orphans.Options
	for _, db := range []struct {
		dst  **sql.DB
		name string
	}{{&o.DTM, dbs.DTM}, {&o.User, dbs.User}, {&o.UserScore, dbs.UserScore}} {
		if *db.dst, err = open(db.name); err != nil {
			return err
		}
		defer (*db.dst).Close()
	}
	o.Grace, o.DryRun = grace, true
	found, err := orphans.Run(ctx, o)
	if err != nil {
		return err
	}
	fmt.Printf("%d register saga(s) with branch writes but no record in DTM (older than %s)\n", len(found.Found), grace)
	for _, gid := range found.Found {
		fmt.Println("  " + gid)
	}
	if !apply || len(found.Found) == 0 {
		return nil
	}
	if len(found.Found) > max {
		return fmt.Errorf("%d orphans is more than -max %d: check DTM_DB names DTM's store", len(found.Found), max)
	}
	users, err := zrpc.NewClient(zrpc.NewEtcdClientConf(etcd, "user.rpc", "", ""))
	if err != nil {
		return err
	}
	scores, err := zrpc.NewClient(zrpc.NewEtcdClientConf(etcd, "user-score.rpc", "", ""))
	if err != nil {
		return err
	}
	o.DryRun = false
	o.Users, o.Scores = userpb.NewUserClient(users.Conn()), userscorepb.NewUserScoreClient(scores.Conn())
	done, err := orphans.Run(ctx, o)
	fmt.Printf("compensated %d\n", done.Repaired)
	return err
}
