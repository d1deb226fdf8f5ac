package main

import (
	"errors"
	"runtime/debug"
	"testing"

	"gorm.io/driver/sqlserver"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// TestNoSQLServerDriver: the DTM binary links the stand-in for GORM's SQL
// Server driver (dtm/nosqlserver), not go-mssqldb, whose code-page tables
// were 3.6 MB of DTM's live heap; a DTM configured for SQL Server is told
// why it cannot connect.
func TestNoSQLServerDriver(t *testing.T) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		t.Fatal("no build information in the test binary")
	}
	replaced := false
	for _, m := range info.Deps {
		switch m.Path {
		case "github.com/denisenkom/go-mssqldb", "github.com/microsoft/go-mssqldb":
			t.Errorf("%s is linked", m.Path)
		case "gorm.io/driver/sqlserver":
			replaced = m.Replace != nil && m.Replace.Path == "./dtm/nosqlserver"
		}
	}
	if !replaced {
		t.Error("gorm.io/driver/sqlserver is not replaced by ./dtm/nosqlserver")
	}
	_, err := gorm.Open(sqlserver.Open("sqlserver://sa@127.0.0.1:1433?database=dtm"), &gorm.Config{Logger: logger.Default.LogMode(logger.Silent)})
	if !errors.Is(err, sqlserver.ErrNotBuilt) {
		t.Fatalf("opening a SQL Server store: %v, want ErrNotBuilt", err)
	}
}
