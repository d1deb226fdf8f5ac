// Package svc builds the user-score service's shared resources once.
package svc

import (
	"database/sql"

	"github.com/zeromicro/go-zero/core/stores/sqlx"

	"sagasuite/rpc-common/branch"
	"sagasuite/user-score/internal/config"
	"sagasuite/user-score/internal/model"
)

// ServiceContext holds the pool and model every RPC uses.
type ServiceContext struct {
	Config config.Config
	// DB is the pool the barrier opens its local transactions on.
	DB     *sql.DB
	Scores *model.ScoreModel
}

// NewServiceContext opens the pool (without connecting) and the model.
func NewServiceContext(c config.Config) (*ServiceContext, error) {
	// go-zero logs every statement with its arguments: one line per write is noise; slow and failed statements are still logged.
	sqlx.DisableStmtLog()
	db, err := branch.OpenDB(c.DataSource, c.MaxOpenConns)
	if err != nil {
		return nil, err
	}
	return &ServiceContext{Config: c, DB: db, Scores: model.NewScoreModel(sqlx.NewSqlConnFromDB(db))}, nil
}
