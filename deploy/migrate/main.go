// Command migrate creates the suite's databases and tables, idempotently:
//
//	go run ./deploy/migrate            # MYSQL_DSN or root@127.0.0.1:3306
//	go run ./deploy/migrate -dsn 'app:secret@tcp(db:3306)/'
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"sagasuite/internal/schema"
)

func main() {
	target := schema.AddFlags(flag.CommandLine)
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dbs := target.DBs
	if err := schema.Apply(ctx, target.DSN, dbs); err != nil {
		fmt.Fprintf(os.Stderr, "migrate: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("schemas applied: databases %s, %s, %s\n", dbs.User, dbs.UserScore, dbs.DTM)
}
