// Package svc builds the user-score service's shared resources once.
package svc

import (
	"database/sql"

	"github.com/zeromicro/go-zero/core/stores/sqlx"

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
	db, err := c.OpenDB()
	if err != nil {
		return nil, err
	}
	return &ServiceContext{Config: c, DB: db, Scores: model.NewScoreModel(sqlx.NewSqlConnFromDB(db))}, nil
}
