package check_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"sagasuite/deploy/sagacheck/check"
	"sagasuite/deploy/sagacheck/checktest"
)

// BenchmarkReadModelRule: the whole check of n users without and with the
// read model (rule 8), against MariaDB and a private Redis over loopback:
//
//	go test -run '^$' -bench ReadModelRule -benchtime 3x ./deploy/sagacheck/check/
func BenchmarkReadModelRule(b *testing.B) {
	for _, n := range []int{5_000, 50_000} {
		d := checktest.New(b, "sagacheck")
		st, _, _ := checktest.ReadModel(b)
		ms := make([]checktest.Member, n)
		for i := range ms {
			ms[i] = checktest.Member{ID: checktest.NewID(), Username: fmt.Sprintf("user%d", i), Gender: "f",
				Score: int64(i % 1000), Created: t0.Add(time.Duration(i) * time.Millisecond), Completed: t0}
		}
		d.Members(b, ms)
		d.Rebuild(b, st)
		for _, with := range []bool{false, true} {
			b.Run(fmt.Sprintf("%d users, read model %v", n, with), func(b *testing.B) {
				src := d.Sources
				if with {
					src.ReadModel = st
				}
				for b.Loop() {
					rep, err := check.Run(context.Background(), src)
					if err != nil || !rep.Clean() {
						b.Fatalf("%v %+v", err, rep.Findings)
					}
				}
			})
		}
	}
}
