// Package testdb says where the tests' MySQL is: the server-level DSN in
// TEST_MYSQL_DSN, or root with no password on 127.0.0.1:3306. A test that
// needs MySQL fails when it is unreachable; it never skips.
package testdb

import "os"

// Env names the server-level DSN of the tests' MySQL.
const Env = "TEST_MYSQL_DSN"

// DSN is the server-level DSN of the tests' MySQL.
func DSN() string {
	if dsn := os.Getenv(Env); dsn != "" {
		return dsn
	}
	return "root:@tcp(127.0.0.1:3306)/"
}
