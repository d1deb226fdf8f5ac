// Package sqlserver stands in for gorm.io/driver/sqlserver in this suite's
// builds: the suite's go.mod replaces that module with this directory.
//
// DTM v1.19.0's dtmutil imports GORM's SQL Server driver for a store the
// suite never uses (its DTM runs on MySQL, Redis or boltdb), and the
// driver's go-mssqldb allocates its code-page tables (internal/cp) when the
// process starts: 3.6 MB of every DTM process's live heap, twice that in
// its footprint at Go's default GOGC, for nothing. Open keeps dtmutil
// compiling and gives a dialector that refuses to connect, so that a DTM
// configured for SQL Server says why instead of connecting.
package sqlserver

import (
	"errors"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"
)

// ErrNotBuilt is what connecting to SQL Server gives.
var ErrNotBuilt = errors.New("DTM's SQL Server store is not built into this suite " +
	"(go.mod replaces gorm.io/driver/sqlserver with dtm/nosqlserver): use the MySQL, Redis or boltdb store")

// Open is the dialector for dsn, which never connects.
func Open(dsn string) gorm.Dialector { return Dialector{DSN: dsn} }

// Dialector refuses every connection (ErrNotBuilt).
type Dialector struct{ DSN string }

func (Dialector) Name() string                       { return "sqlserver" }
func (Dialector) Initialize(*gorm.DB) error          { return ErrNotBuilt }
func (Dialector) Migrator(db *gorm.DB) gorm.Migrator { return nil }
func (Dialector) DataTypeOf(*schema.Field) string    { return "" }
func (Dialector) DefaultValueOf(*schema.Field) clause.Expression {
	return clause.Expr{SQL: "DEFAULT"}
}
func (Dialector) BindVarTo(w clause.Writer, _ *gorm.Statement, _ interface{}) { _ = w.WriteByte('?') }
func (Dialector) QuoteTo(w clause.Writer, s string)                           { _, _ = w.WriteString(s) }
func (Dialector) Explain(sql string, _ ...interface{}) string                 { return sql }
