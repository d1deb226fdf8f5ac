package logic

import (
	"context"
	"strconv"
	"time"

	"github.com/zeromicro/go-zero/core/logx"

	"sagasuite/internal/readmodel"
	"sagasuite/internal/register"
	"sagasuite/userapi/internal/apierr"
	"sagasuite/userapi/internal/svc"
	"sagasuite/userapi/internal/types"
)

// The leaderboard's page defaults and bounds. An offset is bounded so that
// it stays an exact integer in the read model's script (Lua numbers); no
// board this suite holds comes near it.
const (
	DefaultPageLimit = 10
	MaxPageOffset    = 1_000_000_000
)

var errReadModelDown = apierr.New(apierr.Unavailable, "the read model is unavailable; try again")

// Profile answers a user's public profile from the read model alone (one
// round trip to Redis): PROFILE_NOT_FOUND until the user's registration
// completed and reached it, which for a compensated registration is never.
func Profile(ctx context.Context, svcCtx *svc.ServiceContext, id string) (*types.ProfileResp, error) {
	if !register.ValidUserID(id) {
		return nil, apierr.BadField("id", "id must be a user id as /register answers it")
	}
	a, err := svcCtx.ReadModel.Profile(ctx, id)
	if err != nil {
		logx.WithContext(ctx).Errorf("read model: %v", err)
		return nil, errReadModelDown
	}
	if !a.Found {
		return nil, apierr.New(apierr.ProfileNotFound, "no profile with this id")
	}
	p := a.Profile
	return &types.ProfileResp{ID: p.ID, Username: p.Username, Gender: p.Gender, Score: p.Score,
		EmailVerified: p.EmailVerified, RegisteredAt: stamp(p.RegisteredAt), AsOf: asOf(a.Freshness)}, nil
}

// Leaderboard answers a page of the leaderboard from the read model alone
// (one round trip). limit and offset are the query's raw values ("" when
// absent): a decimal number each, 1 ≤ limit ≤ 100 (default 10),
// 0 ≤ offset ≤ MaxPageOffset (default 0).
func Leaderboard(ctx context.Context, svcCtx *svc.ServiceContext, limit, offset string) (*types.LeaderboardResp, error) {
	l, err := pageParam("limit", limit, DefaultPageLimit, 1, readmodel.MaxPageLimit)
	if err != nil {
		return nil, err
	}
	o, err := pageParam("offset", offset, 0, 0, MaxPageOffset)
	if err != nil {
		return nil, err
	}
	page, err := svcCtx.ReadModel.Leaderboard(ctx, l, o)
	if err != nil {
		logx.WithContext(ctx).Errorf("read model: %v", err)
		return nil, errReadModelDown
	}
	resp := &types.LeaderboardResp{Entries: make([]types.LeaderboardEntry, 0, len(page.Entries)),
		Limit: l, Offset: o, Total: page.Total, AsOf: asOf(page.Freshness)}
	for _, e := range page.Entries {
		resp.Entries = append(resp.Entries, types.LeaderboardEntry{Rank: e.Rank, ID: e.ID, Username: e.Username, Score: e.Score})
	}
	return resp, nil
}

// pageParam reads one page parameter: absent is def; otherwise only ASCII
// digits (no sign, no spaces, at most 10 of them), within [lo, hi].
func pageParam(name, raw string, def, lo, hi int) (int, error) {
	if raw == "" {
		return def, nil
	}
	bad := apierr.BadField(name, name+" must be a whole number from "+strconv.Itoa(lo)+" to "+strconv.Itoa(hi))
	if len(raw) > 10 {
		return 0, bad
	}
	for _, c := range raw {
		if c < '0' || c > '9' {
			return 0, bad
		}
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		return 0, bad
	}
	return n, nil
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

func asOf(f readmodel.Freshness) *string {
	if f.AsOf.IsZero() {
		return nil
	}
	s := stamp(f.AsOf)
	return &s
}
