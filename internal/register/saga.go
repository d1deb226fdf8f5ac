package register

import (
	"errors"
	"net/url"
	"strings"

	"google.golang.org/protobuf/proto"

	"sagasuite/rpc-common/userpb"
	"sagasuite/rpc-common/userscorepb"
)

// Step is one step of the register saga: the branch DTM records it as, the
// service that runs it (by its etcd key, as the suite's configurations and
// certificates name it), its action and compensation (full gRPC method
// names, from the generated code), and the business table it writes.
type Step struct {
	BranchID   string
	Service    string
	Action     string
	Compensate string
	Table      string
}

// The register saga's steps, in the order DTM runs them: the user row, then
// the score row. The score step is the one that can refuse (an initial
// score the rule rejects); a refusal compensates the user row.
var (
	UserStep = Step{
		BranchID:   "01",
		Service:    "user.rpc",
		Action:     userpb.User_CreateUser_FullMethodName,
		Compensate: userpb.User_CreateUserCompensate_FullMethodName,
		Table:      "user",
	}
	ScoreStep = Step{
		BranchID:   "02",
		Service:    "user-score.rpc",
		Action:     userscorepb.UserScore_InitScore_FullMethodName,
		Compensate: userscorepb.UserScore_InitScoreCompensate_FullMethodName,
		Table:      "user_score",
	}
	Steps = []Step{UserStep, ScoreStep}
)

// StepOf returns the step that calls method (an action or a compensation,
// by full gRPC name or by its last element, as a branch URL ends).
func StepOf(method string) (Step, bool) {
	for _, s := range Steps {
		for _, m := range []string{s.Action, s.Compensate} {
			if method == m || method == m[strings.LastIndexByte(m, '/')+1:] {
				return s, true
			}
		}
	}
	return Step{}, false
}

// Services addresses the steps: for each service key, the URL prefix DTM
// reaches it at, "etcd://host:2379/user.rpc" (a step's URL is this plus its
// method). A gateway whose configuration names other keys maps them here.
type Services map[string]string

// Payloads are a registration's two action payloads. A compensation gets
// its action's payload, as DTM does for every saga.
type Payloads struct {
	User  *userpb.CreateUserReq
	Score *userscorepb.InitScoreReq
}

// Encode marshals the payloads in step order, as DTM stores them.
func (p Payloads) Encode() ([][]byte, error) {
	user, err := proto.Marshal(p.User)
	if err != nil {
		return nil, err
	}
	score, err := proto.Marshal(p.Score)
	if err != nil {
		return nil, err
	}
	return [][]byte{user, score}, nil
}

// ErrPayloads: what DTM holds for a saga is not a register saga's actions.
var ErrPayloads = errors.New("register saga: action payloads missing or not decodable")

// Decode reads back the action payloads DTM holds for a register saga, by
// branch id (dtmread.Saga.ActionPayloads).
func Decode(byBranch map[string][]byte) (Payloads, error) {
	user, score := new(userpb.CreateUserReq), new(userscorepb.InitScoreReq)
	u, okU := byBranch[UserStep.BranchID]
	s, okS := byBranch[ScoreStep.BranchID]
	if !okU || !okS || proto.Unmarshal(u, user) != nil || proto.Unmarshal(s, score) != nil {
		return Payloads{}, ErrPayloads
	}
	return Payloads{User: user, Score: score}, nil
}

// SagaSteps are the saga's steps as DTM's client takes them (SagaGrpc's
// Steps), addressed through services; the action payloads go with them in
// the same order (Payloads.Encode, or the bytes DTM stores for a prepared
// saga, resubmitted unchanged). This package leaves DTM's client out, so
// that what reads the definition (schema, tools) does not link it.
func SagaSteps(services Services) []map[string]string {
	steps := make([]map[string]string, 0, len(Steps))
	for _, s := range Steps {
		base := services[s.Service]
		steps = append(steps, map[string]string{"action": base + s.Action, "compensate": base + s.Compensate})
	}
	return steps
}

// SplitBranchURL turns a step's URL, etcd://host:2379/user.rpc/user.User/CreateUser,
// into its service key and method, ("user.rpc", "CreateUser"): what may be
// shown of it, without the internal address.
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
