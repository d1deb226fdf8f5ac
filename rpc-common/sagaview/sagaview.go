// Package sagaview is how this suite shows DTM's sagas to people: DTM's
// statuses folded into succeeded | failed | pending, and branch URLs cut
// down to service key and method. The gateway's GET /sagas/{gid} and the
// saga console both speak it, so they never disagree.
package sagaview

import (
	"net/url"
	"strings"
)

// The statuses shown for sagas and branches.
const (
	Succeeded = "succeeded"
	Failed    = "failed"
	Pending   = "pending"
)

// Status folds a DTM saga or branch status: prepared, submitted and
// aborting are not final yet.
func Status(dtm string) string {
	switch dtm {
	case "succeed":
		return Succeeded
	case "failed":
		return Failed
	default:
		return Pending
	}
}

// SplitBranchURL turns etcd://host:2379/user.rpc/user.User/CreateUser into
// ("user.rpc", "CreateUser"), dropping the internal address.
func SplitBranchURL(raw string) (service, method string) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", ""
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) < 2 {
		return "", ""
	}
	return parts[0], parts[len(parts)-1]
}
