package main

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"runtime/pprof"
	"testing"
	"time"
)

//go:noinline
func spinFocused(n int) {
	for range n {
		sha256.Sum256([]byte("focused"))
	}
}

//go:noinline
func spinOther(n int) {
	for range n {
		sha256.Sum256([]byte("other"))
	}
}

// focused reads go tool pprof's totals of a real profile: this test's,
// a third of whose work is spinFocused.
func TestFocused(t *testing.T) {
	file := filepath.Join(t.TempDir(), "cpu.pprof")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); time.Since(start) < 600*time.Millisecond; {
		spinFocused(1000)
		spinOther(2000)
	}
	pprof.StopCPUProfile()
	f.Close()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	in, total, err := focused(ctx, exe, file, `spinFocused$`)
	if err != nil {
		t.Fatal(err)
	}
	if total < 200*time.Millisecond || in <= 0 || in >= total {
		t.Fatalf("focused %v of %v total", in, total)
	}
	if share := float64(in) / float64(total); share < 0.15 || share > 0.55 {
		t.Errorf("spinFocused is %.0f %% of the profile, want about a third", 100*share)
	}
	none, total2, err := focused(ctx, exe, file, `^no such function$`)
	if err != nil || none != 0 || total2 != total {
		t.Errorf("no match: %v of %v, %v; want 0 of %v", none, total2, err, total)
	}
}
