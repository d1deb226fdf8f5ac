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
// names, from the generated code), and the table of the row it writes (the
// last step also marks the user row complete).
type Step struct {
	BranchID   string
	Service    string
	Action     string
	Compensate string
	Table      string
}

// The register saga's steps, in the order DTM runs them: the user row, the
// score row, then the completion. The score step is the pivot, the only one
// that can refuse (an initial score the rule rejects); a refusal
// compensates the user row. The completion comes after it and never
// refuses, so what it writes (the mark that the user is complete, and the
// outbox row of the verification email, in one transaction) is written only
// for a registration that can no longer be rolled back.
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
	CompleteStep = Step{
		BranchID:   "03",
		Service:    "user.rpc",
		Action:     userpb.User_CompleteUser_FullMethodName,
		Compensate: userpb.User_CompleteUserCompensate_FullMethodName,
		Table:      "outbox",
	}
	Steps = []Step{UserStep, ScoreStep, CompleteStep}
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

// Payloads are a registration's action payloads. A compensation gets its
// action's payload, as DTM does for every saga.
type Payloads struct {
	User     *userpb.CreateUserReq
	Score    *userscorepb.InitScoreReq
	Complete *userpb.CompleteUserReq
}

// PayloadsOf builds the payloads of one registration; the user's id is
// the one every step names.
func PayloadsOf(user *userpb.CreateUserReq, score int64) Payloads {
	return Payloads{
		User:     user,
		Score:    &userscorepb.InitScoreReq{UserId: user.Id, Score: score},
		Complete: &userpb.CompleteUserReq{Id: user.Id, Score: &score},
	}
}

// Encode marshals the payloads in step order, as DTM stores them.
func (p Payloads) Encode() ([][]byte, error) {
	out := make([][]byte, 0, len(Steps))
	for _, m := range []proto.Message{p.User, p.Score, p.Complete} {
		b, err := proto.Marshal(m)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// ErrPayloads: what DTM holds for a saga is not a register saga's actions.
var ErrPayloads = errors.New("register saga: action payloads missing or not decodable")

// Decode reads back the action payloads DTM holds for a register saga, by
// branch id (dtmread.Saga.ActionPayloads). A saga from before the last
// step (two branches) decodes too, its Complete built from the user's id
// and score:
// so an idempotent replay across the upgrade still recognises its body,
// and a prepared one is resubmitted in today's shape.
func Decode(byBranch map[string][]byte) (Payloads, error) {
	user, score, complete := new(userpb.CreateUserReq), new(userscorepb.InitScoreReq), new(userpb.CompleteUserReq)
	u, okU := byBranch[UserStep.BranchID]
	s, okS := byBranch[ScoreStep.BranchID]
	if !okU || !okS || proto.Unmarshal(u, user) != nil || proto.Unmarshal(s, score) != nil {
		return Payloads{}, ErrPayloads
	}
	if c, ok := byBranch[CompleteStep.BranchID]; !ok {
		complete.Id, complete.Score = user.Id, &score.Score
	} else if proto.Unmarshal(c, complete) != nil {
		return Payloads{}, ErrPayloads
	}
	return Payloads{User: user, Score: score, Complete: complete}, nil
}

// Stored returns the payloads as DTM stores them, in step order: those DTM
// holds, byte for byte, and for a saga from before the last step, that
// step's payload encoded.
func Stored(byBranch map[string][]byte) ([][]byte, error) {
	p, err := Decode(byBranch)
	if err != nil {
		return nil, err
	}
	enc, err := p.Encode()
	if err != nil {
		return nil, err
	}
	for i, s := range Steps {
		if b, ok := byBranch[s.BranchID]; ok {
			enc[i] = b
		}
	}
	return enc, nil
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
