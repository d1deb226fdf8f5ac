module gorm.io/driver/sqlserver

go 1.14

require gorm.io/gorm v1.22.0
