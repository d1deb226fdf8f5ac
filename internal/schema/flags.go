package schema

import (
	"flag"
	"os"

	"sagasuite/internal/store"
)

// Target is where an operator command (migrate, sagacheck, retention,
// repair) finds the suite's databases; store.OpenAll opens them.
type Target struct {
	// DSN is server level: its database part is ignored.
	DSN string
	DBs store.Databases
}

// AddFlags registers -dsn, -user-db, -user-score-db and -dtm-db on fs, with
// defaults from MYSQL_DSN, USER_DB, USER_SCORE_DB and DTM_DB, and returns
// the Target they fill once fs is parsed.
func AddFlags(fs *flag.FlagSet) *Target {
	t := &Target{}
	fs.StringVar(&t.DSN, "dsn", EnvOr("MYSQL_DSN", store.DefaultDSN), "server-level MySQL DSN (env MYSQL_DSN)")
	fs.StringVar(&t.DBs.User, "user-db", EnvOr("USER_DB", store.Default.User), "user service database (env USER_DB)")
	fs.StringVar(&t.DBs.UserScore, "user-score-db", EnvOr("USER_SCORE_DB", store.Default.UserScore), "user-score service database (env USER_SCORE_DB)")
	fs.StringVar(&t.DBs.DTM, "dtm-db", EnvOr("DTM_DB", store.Default.DTM), "DTM store database (env DTM_DB)")
	return t
}

// EnvOr is $name, or fallback when it is unset or empty.
func EnvOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
