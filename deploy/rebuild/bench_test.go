package main

import (
	"fmt"
	"testing"
	"time"

	"sagasuite/deploy/rebuild/snapshot"
	"sagasuite/deploy/sagacheck/checktest"
)

// BenchmarkRebuild: a whole rebuild (snapshot read, load, commit, sweep)
// of n users, against MariaDB and the private Redis over loopback:
//
//	go test -run '^$' -bench Rebuild -benchtime 3x ./deploy/rebuild/
func BenchmarkRebuild(b *testing.B) {
	for _, n := range []int{5_000, 50_000} {
		b.Run(fmt.Sprintf("%d users", n), func(b *testing.B) {
			e := newEnv(b)
			ms := make([]checktest.Member, n)
			for i := range ms {
				ms[i] = checktest.Member{ID: checktest.NewID(), Username: fmt.Sprintf("user%d", i), Gender: "f",
					Score: int64(i % 1000), Created: t0.Add(time.Duration(i) * time.Millisecond), Completed: t0}
				if i%2 == 0 {
					ms[i].Verified = t0.Add(time.Hour)
				}
			}
			e.Members(b, ms)
			rd := snapshot.Reader{User: e.Sources.User, UserScore: e.UserScore}
			start := time.Now()
			for b.Loop() {
				res, err := rebuild(ctx, e.store, rd)
				if err != nil || res.stats.Users != n {
					b.Fatalf("%+v, %v", res, err)
				}
			}
			b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "users/s")
		})
	}
}
