// Package svc builds the user service's shared resources once at start-up.
package svc

import (
	"database/sql"

	"github.com/zeromicro/go-zero/core/stores/sqlx"
	"golang.org/x/crypto/bcrypt"

	"sagasuite/user/internal/config"
	"sagasuite/user/internal/model"
)

// ServiceContext holds the pool and models every RPC uses.
type ServiceContext struct {
	Config config.Config
	// DB is the pool the barrier opens its local transactions on.
	DB    *sql.DB
	Users *model.UserModel
	// Outbox takes the rows the saga's last step writes.
	Outbox *model.OutboxModel
	// Deliveries are the mailer's records, whose codes VerifyEmail spends.
	Deliveries *model.DeliveryModel
	// DummyHash is compared against when a login names an unknown user, so
	// that unknown users and wrong passwords take the same time.
	DummyHash []byte
}

// NewServiceContext opens the pool (without connecting) and the models.
func NewServiceContext(c config.Config) (*ServiceContext, error) {
	db, err := c.OpenDB()
	if err != nil {
		return nil, err
	}
	// At the configured cost, so that an unknown user costs a login what a
	// known one does.
	dummy, err := bcrypt.GenerateFromPassword([]byte("not anyone's password"), c.BcryptCost)
	if err != nil {
		return nil, err
	}
	conn := sqlx.NewSqlConnFromDB(db)
	return &ServiceContext{
		Config:     c,
		DB:         db,
		Users:      model.NewUserModel(conn),
		Outbox:     model.NewOutboxModel(conn),
		Deliveries: model.NewDeliveryModel(conn),
		DummyHash:  dummy,
	}, nil
}
